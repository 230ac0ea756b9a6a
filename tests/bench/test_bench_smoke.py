"""The benchmarks stay runnable: each one on a handful of rows (its numbers are not checked here)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "seed" / "code"
pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason="the benchmarks compare against ../shared/seed/code")


@pytest.mark.parametrize("argv", [
    ["bench.score_bench", "--model", "small", "--rows", "12"],
    ["bench.train_bench", "--rows", "16", "--dev_rows", "8"],
])
def test_benchmark_runs_and_prints_its_ratio(argv):
    out = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ratio ours/seed" in out.stdout


def test_scale_benchmark_measures_each_stage_in_its_own_process(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench.scale_bench", "--rows", "3000", "--stages", "validate",
                          "--work", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ratio ours/seed" in out.stdout and "ours: validate" in out.stdout and "GiB peak" in out.stdout


def test_validation_benchmark_times_the_project_and_the_floors():
    out = subprocess.run([sys.executable, "-m", "bench.validate_bench", "--rows", "2000", "--repeat", "1"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ratio project/floor (orjson.loads per line)" in out.stdout and "2 processes" in out.stdout
    assert "CPU " in out.stdout and "cores" in out.stdout


def test_the_stage_table_puts_each_stage_beside_its_floor():
    out = subprocess.run([sys.executable, "-m", "bench.stages", "--rows", "3000", "--score_rows", "600", "--repeat",
                          "1"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    table = [line for line in out.stdout.splitlines() if line.startswith("| ")]
    stages = [line.split(" | ")[0].strip("| ") for line in table[1:]]
    assert stages[0].startswith("validate") and any(s.startswith("tokenize") for s in stages)
    assert any(s.startswith("score") for s in stages)
    assert all(float(line.rstrip(" |").rsplit("| ", 1)[1]) >= 0 for line in table[1:])  # a ratio in every row
