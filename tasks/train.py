"""The fine-tune task: one (learning rate, batch size) setting, trained in-process or under torchrun.

AdamW with linear warmup, dev evaluation every epoch, the best epoch written to disk the moment its dev
score is seen (``tasks/train_loop.py``). The seed instead held ``model.state_dict()`` -- live references
to tensors that later epochs keep changing -- and so saved the last epoch under the best epoch's name.
"""

from __future__ import annotations

import re

from prefect import task

from tasks.checkpoint import checkpoint_dir, read_progress
from tasks.config import Setting, TrainConfig
from tasks.device import pick_device
from tasks.launch import launch_torchrun
from tasks.logs import logger
from tasks.memory import micro_split
from tasks.records import EpochRecord, LabelSet, ModelSource, RunDir, TokenizedSplit, TokenizerRecord, TrainResult
from tasks.train_loop import Ranks, TrainJob, run_training, should_stop
from tasks.ui_artifacts import epoch_progress


def setting_slug(setting: Setting) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", setting.name)


@task(name="fine-tune", task_run_name="fine-tune {setting.name}")
def fine_tune(
    train: TokenizedSplit, dev: TokenizedSplit, source: ModelSource, tok: TokenizerRecord, labels: LabelSet,
    cfg: TrainConfig, run: RunDir, setting: Setting,
) -> TrainResult:
    """Train one setting to its end (or early stop); a retry or re-run resumes from the last whole epoch."""
    log = logger()
    folder = checkpoint_dir(cfg, setting, train, dev, tok, source, labels)
    job = TrainJob(train=train.parquet, dev=dev.parquet, source=source, tok=tok, labels=labels, cfg=cfg,
                   setting=setting, folder=folder, micro_split=micro_split(folder))
    if job.micro_split > 1:
        log.info("micro-batches split %d ways after running out of device memory", job.micro_split)
    def progress(record: EpochRecord) -> None:  # the UI's progress bar, after every epoch
        epoch_progress(record, cfg.num_train_epochs)

    if cfg.distributed:
        launch_torchrun(job, run.path / "torchrun" / setting_slug(setting), log.info, on_epoch=progress)
    else:
        run_training(job, Ranks(), pick_device(cfg.device), log.info, on_epoch=progress)
    progress = read_progress(folder)
    stop = should_stop(cfg, progress.epochs)
    log.info("%s: best epoch %d of %d by dev %s = %.4f%s", setting.name, progress.best_epoch, len(progress.epochs),
             cfg.selection_metric, progress.best, f"; {stop}" if stop else "")
    return TrainResult(model_dir=folder / "best", best_epoch=progress.best_epoch, best_dev_metric=progress.best,
                       selection_metric=cfg.selection_metric, epochs=tuple(progress.epochs), setting=setting,
                       stop_reason=stop, seconds=sum(e.seconds for e in progress.epochs))
