"""Progress inside an epoch: a terminal bar, and a log line with a callback (rank 0 only) every few percent of
the epoch or once a minute, whichever comes first.

A million-row epoch is hours long; without this, the log and the UI would say nothing until its end. Every 2 %
alone is not enough: on 2 CPU cores 2 % of such an epoch is about 12 minutes, which looks like a hung run, so a
line also comes once ``PROGRESS_MAX_SECONDS`` have passed since the last one (or since the epoch began). Never
more often than every ``PROGRESS_SECONDS``, so a short epoch does not flood the log. Batches where no line is due
read only the clock: the loss stays on the device (no sync) until a line is written.

Plain Python, no Prefect: the fine-tune task turns the callback into the UI's progress bar, and under torchrun
rank 0 prints the record as one ``PROGRESS_MARKER`` line that the launcher (``tasks/training/launch.py``) reads back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from tasks.core.records import Record

PROGRESS_SHARE = 0.02  # a line every 2 % of an epoch's steps: 2.4 minutes of a 2-hour epoch ...
PROGRESS_SECONDS = 10.0  # ... but not more often than this, so a short epoch does not flood the log
PROGRESS_MAX_SECONDS = 60.0  # ... and at least this often however slow the steps: a sign of life every minute
PROGRESS_MARKER = "@@train-progress "


class TrainProgress(Record):
    epoch: int
    epochs: int
    batch: int  # batches (optimizer steps) done in this epoch
    batches: int
    step: int  # optimizer steps done over all epochs
    total_steps: int
    texts_per_second: float
    epoch_eta_seconds: float  # training time left in this epoch, at this process's pace since it began it
    eta_seconds: float  # training time left to the last step (evaluations not counted)
    loss: float  # mean train loss of rank 0's rows of this epoch, in this process

    @property
    def fraction(self) -> float:
        return self.step / max(self.total_steps, 1)

    def line(self) -> str:
        return (f"epoch {self.epoch}/{self.epochs}: step {self.batch:,}/{self.batches:,} "
                f"({100 * self.batch / self.batches:.0f} %), {self.texts_per_second:.0f} texts/s, train loss "
                f"{self.loss:.4f}, about {duration(self.epoch_eta_seconds)} left in this epoch, "
                f"{duration(self.eta_seconds)} to the last step")


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class EpochTicker:
    """One epoch of one process, from batch ``first`` on (later than 0 after a mid-epoch resume)."""

    def __init__(self, epoch: int, epochs: int, first: int, batches: int, total_steps: int, main: bool,
                 log: Callable[[str], None], on_progress: Callable[[TrainProgress], None] | None,
                 min_seconds: float = PROGRESS_SECONDS, max_seconds: float = PROGRESS_MAX_SECONDS,
                 clock: Callable[[], float] = time.perf_counter):
        self.epoch, self.epochs, self.first, self.batches, self.total_steps = epoch, epochs, first, batches, total_steps
        self.main, self.log, self.on_progress = main, log, on_progress
        self.min_seconds, self.max_seconds, self.clock = min_seconds, max_seconds, clock  # clock: tests pass a fake
        self.every = max(1, math.ceil(batches * PROGRESS_SHARE))
        # disable=None: the bar shows on a terminal only; logs and the UI get the lines and the callback.
        self.bar = tqdm(total=batches, initial=first, desc=f"epoch {epoch}/{epochs}", leave=False, mininterval=2.0,
                        disable=None if main else True)
        self.started = self.last = clock()
        self.rows, self.own_rows, self.loss = 0, 0, None

    def is_tick(self, batch: int) -> bool:
        """Every few percent of the epoch, short of its end (the evaluation or the next epoch says the rest).

        By count alone, the same on every rank: mid-epoch checkpoints by time are asked only at ticks
        (``tasks/training/book.py``), and every rank must ask together. The once-a-minute lines are rank 0's own."""
        return batch % self.every == 0 and batch < self.batches

    def update(self, batch: int, step: int, rows: int, own_rows: int, loss: torch.Tensor) -> None:
        """After batch ``batch`` (1-based) of the epoch, global step ``step``: ``rows`` of every rank, this
        rank's ``own_rows`` and their summed ``loss`` (kept on the device: no sync unless a line is due)."""
        self.bar.update()
        self.rows, self.own_rows = self.rows + rows, self.own_rows + own_rows
        self.loss = loss.detach() if self.loss is None else self.loss + loss.detach()
        if not self.main or batch >= self.batches:  # the epoch's end: its evaluation or the next epoch says it
            return
        now = self.clock()  # a clock read, not a device sync: cheap enough for every batch
        since = now - self.last
        if since < self.min_seconds or not (self.is_tick(batch) or since >= self.max_seconds):
            return
        self.last = now
        per_step = (now - self.started) / (batch - self.first)
        progress = TrainProgress(
            epoch=self.epoch, epochs=self.epochs, batch=batch, batches=self.batches, step=step,
            total_steps=self.total_steps, texts_per_second=self.rows / (now - self.started),
            epoch_eta_seconds=per_step * (self.batches - batch), eta_seconds=per_step * (self.total_steps - step),
            loss=float(self.loss) / max(self.own_rows, 1))
        self.log(progress.line())
        if self.on_progress is not None:
            self.on_progress(progress)

    def close(self) -> None:
        self.bar.close()
