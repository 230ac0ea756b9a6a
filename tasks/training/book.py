"""The training loop's bookkeeping: what happened since the last evaluation, dev evaluations, checkpoints.

Every rank calls ``evaluate``, ``save_due`` and ``checkpoint`` at the same steps, because each joins a
collective (the loss summed over ranks, rank 0's decision); only rank 0 evaluates dev and writes files.
The best evaluation is written to ``best/`` the moment its dev score is seen (strictly better: on a tie
the earlier, less trained one stays); ``last/`` holds the resume state with its ``Position``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from tasks.core.device import token_budget
from tasks.core.records import EpochRecord
from tasks.training.checkpoint import Position, Resumed, save_state
from tasks.training.collectives import Ranks, rank0_says, sum_over_ranks
from tasks.training.evaluations import evaluation_score, should_stop
from tasks.training.inference import predict_logits
from tasks.training.metrics import classification_metrics
from tasks.training.model import save_classifier, weights_digest


class TrainBook:
    """One process's account of a training: steps taken, loss and time since the last evaluation, the records."""

    def __init__(self, job, ranks: Ranks, device: torch.device, dtype, parts: tuple, dev_data, steps_per_epoch: int,
                 resumed: Resumed | None, log: Callable[[str], None], on_epoch=None):
        self.job, self.cfg, self.ranks, self.device, self.dtype = job, job.cfg, ranks, device, dtype
        self.model, self.tokenizer, self.optimizer, self.scheduler = parts
        self.dev_data, self.steps_per_epoch, self.log, self.on_epoch = dev_data, steps_per_epoch, log, on_epoch
        self.records: list[EpochRecord] = list(resumed.epochs) if resumed else []
        self.best, self.best_epoch = (resumed.best, resumed.best_epoch) if resumed else (-1.0, 0)
        at = (resumed.position if resumed else None) or Position()
        self.step, self.best_step = at.step, at.best_step
        # Since the last evaluation. The loss of the ranks' earlier rows (before a resume) goes on in rank 0's sum.
        self.loss = torch.tensor(at.loss if ranks.main else 0.0, dtype=torch.float64, device=device)
        self.rows, self.seconds = at.rows, at.seconds
        self.clock = self.last_save = time.perf_counter()

    @property
    def stop_reason(self) -> str | None:
        return should_stop(self.cfg, self.records)

    def add(self, loss: torch.Tensor, rows: int) -> None:
        """One optimizer step: this rank's summed loss (on the device, no sync) and the global batch's rows."""
        self.loss += loss.detach()
        self.rows += rows
        self.step += 1

    def _settle(self) -> float:
        """The summed loss of every rank since the last evaluation; the training clock stops here."""
        loss = sum_over_ranks(float(self.loss), self.ranks, self.device)
        now = time.perf_counter()
        self.seconds += now - self.clock
        return loss

    def _position(self, loss: float = 0.0) -> Position:
        return Position(step=self.step, best_step=self.best_step, loss=loss, rows=self.rows, seconds=self.seconds)

    def save_due(self, tick: bool) -> bool:
        """A mid-epoch checkpoint now? ``--save_steps`` by count; ``--save_minutes`` by rank 0's clock, asked
        only at ``tick`` steps (every 2 % of an epoch, the same on every rank), so no step waits for a broadcast."""
        cfg = self.cfg
        if cfg.save_steps and self.step % cfg.save_steps == 0:
            return True
        if cfg.save_minutes <= 0 or not tick:
            return False
        late = self.ranks.main and time.perf_counter() - self.last_save >= 60 * cfg.save_minutes
        return rank0_says(late, self.ranks, self.device)

    def checkpoint(self) -> None:
        loss = self._settle()
        if self.ranks.main:
            self._save(loss)
            batch = self.step - (self._epoch() - 1) * self.steps_per_epoch
            self.log(f"checkpoint at step {self.step:,} (epoch {self._epoch()}, batch {batch:,} of "
                     f"{self.steps_per_epoch:,}) in {self.job.folder / 'last'}")
        self.clock = time.perf_counter()

    def _epoch(self) -> int:
        return (self.step - 1) // self.steps_per_epoch + 1

    def _save(self, loss: float) -> None:
        save_state(self.job.folder, self.model, self.optimizer, self.scheduler, self.step // self.steps_per_epoch,
                   self.best, self.best_epoch, self.records, self._position(loss))
        self.last_save = time.perf_counter()

    def evaluate(self, total_steps: int) -> bool:
        """Evaluate dev now (rank 0), keep the best, checkpoint; every rank learns whether to stop."""
        loss = self._settle() / max(self.rows, 1)
        stop = None
        if self.ranks.main:
            stop = self._evaluate(loss, total_steps)
        self.loss.zero_()
        self.rows, self.seconds, self.clock = 0, 0.0, time.perf_counter()
        return rank0_says(bool(stop), self.ranks, self.device)

    def _evaluate(self, loss: float, total_steps: int) -> str | None:
        cfg, job, model, epoch = self.cfg, self.job, self.model, self._epoch()
        logits = predict_logits(model, self.dev_data, cfg.eval_batch_size, self.tokenizer.pad_token_id, self.device,
                                self.dtype, token_budget(self.device, self.dtype))
        metrics = classification_metrics(self.dev_data.labels, logits.argmax(axis=1), job.labels.names)
        record = EpochRecord(
            epoch=epoch, step=self.step, train_loss=loss, dev_accuracy=metrics["accuracy"],
            dev_macro_f1=metrics["macro"]["f1"], learning_rate=self.scheduler.get_last_lr()[0], seconds=self.seconds,
            texts_per_second=self.rows / max(self.seconds, 1e-9), weights_digest=weights_digest(model))
        if evaluation_score(cfg, record) > self.best:  # strictly better: on a tie the earlier one stays
            self.best, self.best_epoch, self.best_step = evaluation_score(cfg, record), epoch, self.step
            save_classifier(model, self.tokenizer, job.labels, job.folder / "best",
                            job.source.seq_length(cfg.max_seq_length), cfg.truncation_choice())
        self.records = [r.model_copy(update={"selected": r.step == self.best_step}) for r in [*self.records, record]]
        self.rows, self.seconds = 0, 0.0
        self._save(0.0)  # after "best": a resumed run never lacks the best it records
        where = f"epoch {epoch}/{cfg.num_train_epochs}"
        if cfg.eval_steps:
            where = f"step {self.step:,}/{total_steps:,} ({where})"
        self.log(f"{where} ({job.setting.name}): loss {loss:.4f}, dev accuracy {record.dev_accuracy:.4f}, dev "
                 f"macro-F1 {record.dev_macro_f1:.4f}, {record.texts_per_second:.0f} texts/s"
                 + (" (best so far, saved)" if self.best_step == self.step else ""))
        if self.on_epoch is not None:
            self.on_epoch(record)
        return self.stop_reason
