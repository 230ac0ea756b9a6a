"""Training killed mid-epoch and run again resumes, and ends exactly where an uninterrupted run does."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.files import read_json
from tests.builders import write_learnable

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def command(paths: dict[str, Path], out: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "flows/train_flow.py", "--train_file", str(paths["train"]), "--dev_file",
            str(paths["dev"]), "--test_file", str(paths["test"]), "--scratch_hidden_size", "64",
            "--scratch_num_hidden_layers", "1", "--scratch_num_attention_heads", "2", "--scratch_vocab_size", "120",
            "--num_train_epochs", "3", "--batch_size", "8", "--learning_rate", "2e-3", "--max_seq_length", "32",
            "--output_dir", str(out), "--data_dir", str(data_dir)]


def last_epoch_saved(out: Path) -> int:
    metas = list(out.glob("checkpoints/*/last/meta.json"))
    return read_json(metas[0])["epoch"] if metas else 0


def test_sigkill_during_epoch_two_then_rerun_resumes_and_matches_an_uninterrupted_run(prefect_server, tmp_path):
    paths = write_learnable(tmp_path / "d", [0, 1], n_train=4000, n_eval=200)
    env = os.environ | {"PREFECT_API_URL": prefect_server, "PREFECT_LOGGING_LEVEL": "INFO"}
    killed_out = tmp_path / "killed"
    proc = subprocess.Popen(command(paths, killed_out, tmp_path / "data"), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while last_epoch_saved(killed_out) < 1:
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before epoch 2 could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert last_epoch_saved(killed_out) == 1, "the kill must land during epoch 2"

    rerun = subprocess.run(command(paths, killed_out, tmp_path / "data"), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "after epoch 1 of 3" in rerun.stderr + rerun.stdout
    resumed_run = Path(rerun.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent

    clean = subprocess.run(command(paths, tmp_path / "clean", tmp_path / "data"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]
    clean_run = Path(clean.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent

    def summary(run: Path):
        epochs = read_json(run / "epochs.json")
        return [(e["epoch"], e["dev_accuracy"], e["weights_digest"], e["selected"]) for e in epochs]

    assert summary(resumed_run) == summary(clean_run)
    assert read_json(resumed_run / "metrics.json")["accuracy"] == read_json(clean_run / "metrics.json")["accuracy"]
    weights = "model/model.safetensors"
    assert (resumed_run / weights).read_bytes() == (clean_run / weights).read_bytes()
