"""The training loop inside an epoch: progress reports, evaluation every N steps, and a DDP run killed mid-epoch."""

import subprocess
from pathlib import Path

import pytest
import torch

from tasks.core.files import write_text
from tasks.core.records import TrainResult
from tasks.evaluation.plots import training_curves
from tasks.evaluation.report_markdown import training_section
from tasks.training.artifacts import epoch_rows
from tasks.training.checkpoint import read_progress
from tasks.training.evaluations import by_step, evaluation_score
from tasks.training.launch import launch_torchrun, torchrun_command
from tasks.training.loop import Ranks, run_training
from tasks.training.model import load_classifier, weights_digest
from tasks.training.progress import PROGRESS_MAX_SECONDS, PROGRESS_SECONDS, EpochTicker
from tests.builders import learnable_rows, write_jsonl
from tests.kill import hold_env, kill_tree, saved_step, wait_for_step
from tests.pipeline import tiny_train_job

REPO = Path(__file__).resolve().parents[3]
CPU = torch.device("cpu")


def test_progress_moves_inside_every_epoch_with_the_step_the_pace_and_the_time_left(tmp_path, binary_data):
    job = tiny_train_job(tmp_path, binary_data)  # 480 rows in global batches of 16: 30 steps per epoch, 2 epochs
    reports, lines = [], []
    run_training(job, Ranks(), CPU, log=lines.append, on_progress=reports.append)
    # Every 2 % of 30 steps is every step; the epoch's last step is said by its evaluation instead.
    assert [(p.epoch, p.batch) for p in reports] == [(e, b) for e in (1, 2) for b in range(1, 30)]
    for p in reports:
        assert (p.batches, p.total_steps, p.step) == (30, 60, (p.epoch - 1) * 30 + p.batch)
        assert p.texts_per_second > 0 and 0 < p.fraction < 1 and p.loss > 0
        # The time left is this epoch's pace times the steps left: to the epoch's end, and to the last step.
        assert p.epoch_eta_seconds * (60 - p.step) == pytest.approx(p.eta_seconds * (30 - p.batch))
    assert "epoch 1/2: step 15/30 (50 %)" in "\n".join(lines)
    # Without --eval_steps, the records stay one per epoch, now with the step each ended at.
    assert [(r.epoch, r.step) for r in read_progress(job.folder).epochs] == [(1, 30), (2, 60)]


def test_a_report_comes_every_few_percent_of_an_epoch_but_not_more_often_than_asked():
    def reports(min_seconds: float) -> list:
        seen = []
        ticker = EpochTicker(1, 1, 0, 1000, 1000, True, lambda line: None, seen.append, min_seconds)
        for batch in range(1, 1001):
            ticker.update(batch, batch, 16, 16, torch.tensor(8.0))
        ticker.close()
        return seen

    assert [p.batch for p in reports(0.0)] == list(range(20, 1000, 20))  # every 2 %, short of the end
    assert reports(3600.0) == []  # a short epoch says nothing in between


class _Loss:
    """A loss that counts how often it is read: each read would be a device sync on a GPU."""

    def __init__(self):
        self.reads = 0

    def detach(self):
        return self

    def __add__(self, other):
        return self

    def __float__(self):
        self.reads += 1
        return 8.0


def ticks(seconds_per_batch: float, batches: int = 1000, main: bool = True) -> tuple[list[float], list, _Loss]:
    """One epoch on a fake clock: the times (since the epoch began) its lines came at, the reports, the loss."""
    now, seen, lines, loss = [0.0], [], [], _Loss()
    ticker = EpochTicker(1, 1, 0, batches, batches, main, lambda line: lines.append(now[0]), seen.append,
                         clock=lambda: now[0])
    for batch in range(1, batches + 1):
        now[0] += seconds_per_batch
        ticker.update(batch, batch, 16, 16, loss)
    ticker.close()
    assert len(lines) == len(seen)  # every line comes with its callback
    return lines, seen, loss


def test_a_slow_epoch_says_something_at_least_once_a_minute_and_reads_the_loss_only_then():
    times, seen, loss = ticks(30.0)  # 1,000 steps of 30 s: 2 % of them is 10 minutes
    gaps = [b - a for a, b in zip([0.0, *times], [*times, 1000 * 30.0], strict=True)]
    assert max(gaps) <= PROGRESS_MAX_SECONDS and min(gaps) >= PROGRESS_SECONDS
    assert [p.batch for p in seen][:3] == [2, 4, 6]
    assert loss.reads == len(seen) < 1000  # no sync on the batches without a line
    assert ticks(30.0, main=False)[1] == []  # the other ranks stay quiet


def test_a_fast_epoch_is_not_said_more_often_than_every_ten_seconds():
    times, seen, _ = ticks(0.125)  # 2 % is 2.5 s (a step time exact in binary: no rounding at the 10 s mark)
    assert min(b - a for a, b in zip([0.0, *times], times, strict=False)) >= PROGRESS_SECONDS
    assert [p.batch for p in seen] == list(range(80, 1000, 80))  # every 10 s, on a 2 % step


def test_lines_stay_at_every_two_percent_when_that_is_more_often_than_a_minute():
    for seconds in (1.0, 2.9):  # 2 % is 20 s and 58 s
        assert [p.batch for p in ticks(seconds)[1]] == list(range(20, 1000, 20))


def test_eval_steps_evaluate_every_n_steps_and_the_last_and_keep_the_best_one(tmp_path):
    """Dev labels are the opposite of the learnable rule, so dev accuracy falls as training succeeds: the best
    evaluation is an early one, and best/ must hold its weights, not the last step's."""
    paths = {s: write_jsonl(tmp_path / f"{s}.jsonl", learnable_rows([0, 1], n, seed))
             for s, n, seed in (("train", 480, 1), ("test", 96, 3))}
    flipped = [{"news": r["news"], "label": 1 - r["label"]} for r in learnable_rows([0, 1], 96, seed=2)]
    paths["dev"] = write_jsonl(tmp_path / "dev.jsonl", flipped)
    job = tiny_train_job(tmp_path, paths, eval_steps=7)
    run_training(job, Ranks(), CPU, log=lambda line: None)
    done = read_progress(job.folder)
    records = done.epochs
    assert [(r.step, r.epoch) for r in records] == [(s, (s - 1) // 30 + 1) for s in (7, 14, 21, 28, 35, 42, 49, 56, 60)]
    scores = [evaluation_score(job.cfg, r) for r in records]
    (selected,) = [r for r in records if r.selected]
    assert selected is records[scores.index(max(scores))]  # the first of the best: a tie keeps the earlier
    assert (done.best, done.best_epoch, done.position.best_step) == (max(scores), selected.epoch, selected.step)
    assert selected is not records[-1]
    best, _, _ = load_classifier(job.folder / "best")
    assert weights_digest(best) == selected.weights_digest != records[-1].weights_digest

    # Shown by step: the report's table, the UI's rows and the plot's x axis.
    result = TrainResult(model_dir=job.folder / "best", best_epoch=done.best_epoch, best_step=selected.step,
                         best_dev_metric=done.best, selection_metric="accuracy", epochs=tuple(records))
    assert by_step(records) and list(epoch_rows(records)[0])[:2] == ["step", "epoch"]
    section = training_section(result)
    assert f"Selected step {selected.step} (epoch {selected.epoch})" in section and "| step | epoch |" in section
    assert training_curves(records, tmp_path / "curves.png").stat().st_size > 0


def test_a_ddp_run_killed_inside_an_epoch_resumes_at_that_batch_and_ends_with_the_same_weights(tmp_path,
                                                                                               binary_data):
    """torchrun, 2 gloo processes of 8 (global batch 16, 30 steps an epoch), a checkpoint every 4 steps."""
    options = {"nproc_per_node": 2, "batch_size": [8], "save_steps": 4}
    killed = tiny_train_job(tmp_path, binary_data, output_dir=tmp_path / "killed", **options)
    job_file = write_text(tmp_path / "killed.json", killed.model_dump_json())
    proc = subprocess.Popen(torchrun_command(killed, job_file), cwd=REPO, env=hold_env(tmp_path / "hold", 30, REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_step(killed.folder, 30, lambda: proc.poll() is None)
    finally:
        kill_tree(proc)  # torchrun and both ranks
    assert saved_step(killed.folder) == 32  # inside epoch 2: its first 2 batches done

    lines = []
    launch_torchrun(killed, tmp_path / "rerun", lines.append)
    assert any("at step 32 of 60: epoch 2, batch 3 of 30" in line for line in lines)

    clean = tiny_train_job(tmp_path, binary_data, output_dir=tmp_path / "clean", **options)
    reports = []
    launch_torchrun(clean, tmp_path / "clean-run", lambda line: None, on_progress=reports.append)
    # Rank 0's in-epoch progress comes back through torchrun's output to the task.
    assert [(p.epoch, p.batch) for p in reports] == [(e, b) for e in (1, 2) for b in range(1, 30)]

    resumed, uninterrupted = read_progress(killed.folder), read_progress(clean.folder)
    assert resumed.position.step == uninterrupted.position.step == 60
    assert [(r.step, r.dev_accuracy, r.weights_digest, r.selected) for r in resumed.epochs] == \
        [(r.step, r.dev_accuracy, r.weights_digest, r.selected) for r in uninterrupted.epochs]
    for name in ("last/model.safetensors", "best/model.safetensors"):
        assert (killed.folder / name).read_bytes() == (clean.folder / name).read_bytes(), name
