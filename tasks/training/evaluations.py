"""When dev is evaluated, how an evaluation scores, and how a list of evaluations is shown.

Plain functions of the options and the records, no torch: training decides with them, and the report,
the UI table and the plot read the same records back. With ``--eval_steps 0`` every evaluation is an
epoch's end; with ``--eval_steps N``, every N optimizer steps (counted across epochs) and the last step,
so the final weights are always among those considered, whatever N is.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.core.config import TrainConfig
from tasks.core.records import EpochRecord
from tasks.training.early_stop import stop_decision


def eval_due(cfg: TrainConfig, step: int, total_steps: int, epoch_end: bool) -> bool:
    """Is dev evaluated after optimizer step ``step`` (1-based, over all epochs)?"""
    if cfg.eval_steps <= 0:
        return epoch_end
    return step % cfg.eval_steps == 0 or step == total_steps


def evaluation_score(cfg: TrainConfig, record: EpochRecord) -> float:
    return record.dev_accuracy if cfg.selection_metric == "accuracy" else record.dev_macro_f1


def should_stop(cfg: TrainConfig, records: Sequence[EpochRecord]) -> str | None:
    """Early stopping over the evaluations so far: patience counts evaluations (epochs by default)."""
    scores = [evaluation_score(cfg, r) for r in records]
    if cfg.eval_steps <= 0:
        return stop_decision(scores, cfg.early_stopping_patience, cfg.early_stopping_threshold)
    return stop_decision(scores, cfg.early_stopping_patience, cfg.early_stopping_threshold,
                         points=[r.step for r in records], unit="step", counted="evaluation")


def by_step(records: Sequence[EpochRecord]) -> bool:
    """True unless the evaluations are exactly the epochs' ends (one per epoch, in order): then show steps.

    Read from the records alone, so report, UI and plot agree without being told the option; an
    ``--eval_steps`` equal to the steps of an epoch evaluates at the epochs' ends and is shown per epoch.
    """
    if not records:
        return False
    per_epoch = records[0].step
    return not all(r.epoch == i and r.step == i * per_epoch for i, r in enumerate(records, start=1))


def selected_name(records: Sequence[EpochRecord], best_epoch: int, best_step: int) -> str:
    """'epoch 3', or 'step 1500 (epoch 2)' when evaluations are by step."""
    return f"step {best_step} (epoch {best_epoch})" if by_step(records) else f"epoch {best_epoch}"
