"""The fine-tune task: one (learning rate, batch size) setting, trained in-process or under torchrun.

AdamW with linear warmup, dev evaluation every epoch (or every ``--eval_steps``), the best evaluation written
to disk the moment its dev score is seen (``tasks/training/loop.py``). The seed instead held
``model.state_dict()`` -- live references to tensors that later epochs keep changing -- and so saved the
last epoch under the best epoch's name.
"""

from __future__ import annotations

import re

from prefect import task

from tasks.core.config import Setting, TrainConfig
from tasks.core.device import pick_device
from tasks.core.logs import logger
from tasks.core.records import EpochRecord, LabelSet, ModelSource, RunDir, TokenizedSplit, TokenizerRecord, TrainResult
from tasks.training.artifacts import epoch_progress, step_progress
from tasks.training.checkpoint import checkpoint_dir, read_progress
from tasks.training.evaluations import by_step, selected_name, should_stop
from tasks.training.launch import launch_torchrun
from tasks.training.loop import Ranks, TrainJob, run_training
from tasks.training.memory import micro_split
from tasks.training.progress import TrainProgress


def setting_slug(setting: Setting) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", setting.name)


@task(name="fine-tune", task_run_name="fine-tune {setting.name}")
def fine_tune(
    train: TokenizedSplit, dev: TokenizedSplit, source: ModelSource, tok: TokenizerRecord, labels: LabelSet,
    cfg: TrainConfig, run: RunDir, setting: Setting,
) -> TrainResult:
    """Train one setting to its end (or early stop); a retry or re-run resumes from the last checkpoint."""
    log = logger()
    folder = checkpoint_dir(cfg, setting, train, dev, tok, source, labels)
    job = TrainJob(train=train.parquet, dev=dev.parquet, source=source, tok=tok, labels=labels, cfg=cfg,
                   setting=setting, folder=folder, micro_split=micro_split(folder))
    if job.micro_split > 1:
        log.info("micro-batches split %d ways after running out of device memory", job.micro_split)
    total_steps = -(-train.rows // cfg.global_batch(setting)) * cfg.num_train_epochs

    def evaluated(record: EpochRecord) -> None:  # the UI's progress bar, after every evaluation
        epoch_progress(record, cfg.num_train_epochs, total_steps if cfg.eval_steps else 0)

    def moving(progress: TrainProgress) -> None:  # and every few percent of an epoch
        step_progress(progress, setting.name)

    if cfg.distributed:
        launch_torchrun(job, run.path / "torchrun" / setting_slug(setting), log.info, on_epoch=evaluated,
                        on_progress=moving)
    else:
        run_training(job, Ranks(), pick_device(cfg.device), log.info, on_epoch=evaluated, on_progress=moving)
    done = read_progress(folder)
    stop = should_stop(cfg, done.epochs)
    best_step = done.position.best_step if done.position else 0
    log.info("%s: best %s of %d evaluation(s)%s by dev %s = %.4f%s", setting.name,
             selected_name(done.epochs, done.best_epoch, best_step), len(done.epochs),
             " (by step)" if by_step(done.epochs) else "", cfg.selection_metric, done.best, f"; {stop}" if stop else "")
    return TrainResult(model_dir=folder / "best", best_epoch=done.best_epoch, best_step=best_step,
                       best_dev_metric=done.best, selection_metric=cfg.selection_metric, epochs=tuple(done.epochs),
                       setting=setting, stop_reason=stop, seconds=sum(e.seconds for e in done.epochs))
