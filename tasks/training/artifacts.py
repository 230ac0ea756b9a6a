"""What training shows in the Prefect UI while it runs: its progress bar, and the rows of its epochs table."""

from __future__ import annotations

from collections.abc import Sequence

from tasks.core.records import EpochRecord
from tasks.training.evaluations import by_step
from tasks.training.progress import TrainProgress
from tasks.ui.artifacts import report_progress

TRAINING_PROGRESS_KEY = "training-progress"


def epoch_progress(record: EpochRecord, total_epochs: int, total_steps: int = 0) -> None:
    """After an evaluation: at an epoch's end, or (``total_steps`` given) at a step of ``--eval_steps``."""
    scores = f"train loss {record.train_loss:.4f}, dev accuracy {record.dev_accuracy:.4f}"
    if total_steps:
        report_progress(record.step / total_steps, f"Training: step {record.step:,} of {total_steps:,} (epoch "
                        f"{record.epoch} of {total_epochs}) evaluated, {scores}", TRAINING_PROGRESS_KEY)
    else:
        report_progress(record.epoch / total_epochs, f"Training: epoch {record.epoch} of {total_epochs} done, "
                        f"{scores}", TRAINING_PROGRESS_KEY)


def step_progress(progress: TrainProgress, setting: str) -> None:
    """Inside an epoch: the same bar, moved on with the step, the pace and the time left."""
    report_progress(progress.fraction, f"Training ({setting}): {progress.line()}", TRAINING_PROGRESS_KEY)


def epoch_rows(epochs: Sequence[EpochRecord]) -> list[dict]:
    """The rows of the training-epochs table, rounded as in report.md so both show the same numbers; with
    evaluations by step (``--eval_steps``), each row is one evaluation and starts with its step."""
    steps = by_step(epochs)
    return [{**({"step": e.step} if steps else {}), "epoch": e.epoch, "train loss": f"{e.train_loss:.4f}",
             "dev accuracy": f"{e.dev_accuracy:.4f}", "dev macro-F1": f"{e.dev_macro_f1:.4f}",
             "learning rate": f"{e.learning_rate:.2e}", "seconds": f"{e.seconds:.1f}",
             "texts/s": f"{e.texts_per_second:.0f}", "selected": "selected" if e.selected else ""} for e in epochs]
