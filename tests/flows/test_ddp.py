"""The fine-tune task under torchrun: 2 CPU processes over gloo, through the whole flow."""

import json
import time
from pathlib import Path

import pytest

from flows.train_flow import train_flow
from tasks.core.files import read_json
from tasks.training.launch import launch_torchrun
from tasks.training.loop import TrainJob
from tests.flows.test_train_flow import tiny_config
from tests.pipeline import job_for

pytestmark = pytest.mark.slow


def test_two_processes_train_through_the_flow_and_write_everything_once(prefect_server, binary_data, tmp_path):
    cfg = tiny_config(tmp_path, binary_data, nproc_per_node=2, batch_size=[8], no_baseline=True)
    run = Path(train_flow(cfg)).parent
    metrics = read_json(run / "metrics.json")
    assert metrics["accuracy"] >= 0.85  # well above chance (0.5)
    epochs = read_json(run / "epochs.json")
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]  # written by rank 0 alone: one record per epoch
    log = (run / "torchrun").glob("*/job.json")
    assert len(list(log)) == 1
    predictions = (run / "predictions/test.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == len(binary_data["test"].read_text(encoding="utf-8").splitlines())
    assert all("pred_label" in json.loads(line) for line in predictions)

    # One process with 2 accumulation steps is the same global batch (2 x 8 = 1 x 8 x 2): it resumes the
    # finished training instead of starting again, with any number of ranks.
    again = tiny_config(tmp_path, binary_data, batch_size=[8], gradient_accumulation_steps=2, no_baseline=True)
    rerun = Path(train_flow(again)).parent
    assert read_json(rerun / "epochs.json") == epochs


def tiny_job(tmp_path, paths, **overrides) -> TrainJob:
    return job_for(tiny_config(tmp_path, paths, **overrides).resolved(), paths, tmp_path / "run")


def test_the_checkpoint_key_follows_the_global_batch_not_the_number_of_ranks(tmp_path, binary_data):
    def key(**overrides):
        return tiny_job(tmp_path, binary_data, **overrides).folder

    assert key(nproc_per_node=2, batch_size=[8]) == key(batch_size=[8], gradient_accumulation_steps=2)
    assert key(nproc_per_node=2, batch_size=[8]) == key(batch_size=[16])
    assert key(nproc_per_node=2, batch_size=[8]) != key(batch_size=[8])


def test_a_rank_that_raises_fails_the_task_within_seconds_with_its_message(tmp_path, binary_data, monkeypatch):
    # Rank 1 alone fails, at its first step; rank 0 goes on and would wait for it in the all-reduce.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('RANK') == '1':\n"
        "    import tasks.training.loop as loop\n"
        "    def boom(*args, **kwargs):\n"
        "        raise ValueError('rank one cannot go on')\n"
        "    loop.optimizer_step = boom\n")
    monkeypatch.setenv("PYTHONPATH", str(hook))
    job = tiny_job(tmp_path, binary_data, nproc_per_node=2, batch_size=[8], dist_timeout_seconds=600)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="rank 1 failed: ValueError: rank one cannot go on"):
        launch_torchrun(job, tmp_path / "work", print)
    assert time.monotonic() - started < 90, "a failed rank must not leave the others waiting for the timeout"
