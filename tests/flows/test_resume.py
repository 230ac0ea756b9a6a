"""Training killed inside an epoch and run again resumes at that batch, and ends exactly where an uninterrupted
run does: the same weights, byte for byte, after the same number of optimizer steps."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.core.files import read_json
from tests.builders import write_learnable
from tests.kill import hold_env, kill_tree, saved_step, wait_for_step

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def command(paths: dict[str, Path], out: Path, data_dir: Path) -> list[str]:
    # 800 rows in batches of 8: 100 steps an epoch, 2 epochs; a mid-epoch checkpoint every 30 steps.
    return [sys.executable, "flows/train_flow.py", "--train_file", str(paths["train"]), "--dev_file",
            str(paths["dev"]), "--test_file", str(paths["test"]), "--scratch_hidden_size", "64",
            "--scratch_num_hidden_layers", "1", "--scratch_num_attention_heads", "2", "--scratch_vocab_size", "120",
            "--num_train_epochs", "2", "--batch_size", "8", "--learning_rate", "2e-3", "--max_seq_length", "32",
            "--save_steps", "30", "--no_baseline", "--output_dir", str(out), "--data_dir", str(data_dir)]


def test_sigkill_inside_epoch_two_then_rerun_resumes_at_that_batch_and_matches_an_uninterrupted_run(
        prefect_server, tmp_path):
    paths = write_learnable(tmp_path / "d", [0, 1], n_train=800, n_eval=100)
    env = os.environ | {"PREFECT_API_URL": prefect_server, "PREFECT_LOGGING_LEVEL": "INFO"}
    killed_out = tmp_path / "killed"
    # The child holds still after its first checkpoint inside epoch 2 (step 120), and is killed there.
    proc = subprocess.Popen(command(paths, killed_out, tmp_path / "data"), cwd=REPO,
                            env=hold_env(tmp_path / "hold", 100, REPO) | {"PREFECT_API_URL": prefect_server},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_step(killed_out, 100, lambda: proc.poll() is None)
    finally:
        kill_tree(proc)
    assert saved_step(killed_out) == 120

    rerun = subprocess.run(command(paths, killed_out, tmp_path / "data"), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "at step 120 of 200: epoch 2, batch 21 of 100" in rerun.stderr + rerun.stdout
    resumed_run = Path(rerun.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent

    clean = subprocess.run(command(paths, tmp_path / "clean", tmp_path / "data"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]
    clean_run = Path(clean.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent

    def summary(run: Path):
        # One process: even the train loss, summed in float64 and saved with the checkpoint, comes out the same.
        return [(e["epoch"], e["step"], e["train_loss"], e["dev_accuracy"], e["weights_digest"], e["selected"])
                for e in read_json(run / "epochs.json")]

    assert summary(resumed_run) == summary(clean_run)
    assert saved_step(killed_out) == saved_step(tmp_path / "clean") == 200  # the same number of optimizer steps
    assert read_json(resumed_run / "metrics.json")["accuracy"] == read_json(clean_run / "metrics.json")["accuracy"]
    weights = "model/model.safetensors"
    assert (resumed_run / weights).read_bytes() == (clean_run / weights).read_bytes()
