"""The training loop of one process: epochs of optimizer steps, with evaluations, checkpoints and progress.

Plain PyTorch, no Prefect: the fine-tune task runs it in-process, and under torchrun every rank runs it
(``tasks/training/worker.py``). Only rank 0 evaluates dev and writes files; the others learn its decision
to stop through a broadcast, so no rank waits for a step the others will not take. Evaluations and
checkpoints are kept by ``tasks/training/book.py``, in-epoch progress by ``tasks/training/progress.py``.

A checkpoint can fall inside an epoch, and a resumed run goes on at the exact next batch: an epoch's batch
order comes from (seed, epoch) alone, and dropout is seeded afresh before every optimizer step from
(seed, epoch, batch, rank), so no RNG state has to travel and a resumed run ends with the same weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from tasks.core.config import Setting, TrainConfig
from tasks.core.device import autocast_dtype
from tasks.core.errors import DeviceOutOfMemory
from tasks.core.records import LabelSet, ModelSource, Record, TokenizerRecord
from tasks.tokens.batching import length_grouped_batches, load_tokenized
from tasks.tokens.tokenizer import load_tokenizer
from tasks.training.book import TrainBook
from tasks.training.checkpoint import load_state
from tasks.training.collectives import Ranks, ddp_wrapped
from tasks.training.evaluations import eval_due
from tasks.training.memory import record_out_of_memory
from tasks.training.model import new_classifier, pretrained_encoder, scratch_encoder
from tasks.training.progress import PROGRESS_SECONDS, EpochTicker
from tasks.training.steps import dropout_seed, optimizer_step, param_groups, rank_slices, seed_everything


class TrainJob(Record):
    """Everything one training needs, as paths and small records: the torchrun worker reads it as JSON."""

    train: Path
    dev: Path
    source: ModelSource
    tok: TokenizerRecord
    labels: LabelSet
    cfg: TrainConfig
    setting: Setting
    folder: Path  # checkpoints/<key>: last/ (resume state), best/ (the selected epoch), epochs.json
    micro_split: int = 1  # > 1 after an out-of-memory failure: smaller micro-batches, same global batch
    progress_seconds: float = PROGRESS_SECONDS  # fewest seconds between two in-epoch progress reports


def build_model(source: ModelSource, tok: TokenizerRecord, labels: LabelSet, cfg: TrainConfig):
    tokenizer = load_tokenizer(tok.path, source.local_files_only)
    if source.name_or_path is None:
        encoder = scratch_encoder(cfg.scratch, tokenizer, cfg.max_seq_length)
    else:
        encoder = pretrained_encoder(source.name_or_path, source.local_files_only)
    return new_classifier(encoder, labels), tokenizer


def run_training(job: TrainJob, ranks: Ranks, device: torch.device, log=print, on_epoch=None,
                 on_progress=None) -> None:
    """Train ``job`` to its last step or early stop. Rank 0 calls ``on_epoch(record)`` after each evaluation
    and ``on_progress(TrainProgress)`` every few percent of an epoch or once a minute, whichever comes first (at
    most every ``job.progress_seconds``; ``tasks/training/progress.py``)."""
    try:
        _train(job, ranks, device, log, on_epoch, on_progress)
    except torch.OutOfMemoryError as exc:
        raise DeviceOutOfMemory(record_out_of_memory(job.folder, job.micro_split, exc)) from exc


def _train(job: TrainJob, ranks: Ranks, device: torch.device, log, on_epoch, on_progress) -> None:
    cfg, setting = job.cfg, job.setting
    dtype = autocast_dtype(device, cfg.precision)
    seed_everything(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model, tokenizer = build_model(job.source, job.tok, job.labels, cfg)
    model.to(device)
    train_data = load_tokenized(job.train)
    dev_data = load_tokenized(job.dev) if ranks.main else None
    rows_per_step = cfg.global_batch(setting)
    steps_per_epoch = -(-len(train_data) // rows_per_step)
    total_steps = steps_per_epoch * cfg.num_train_epochs
    # fused: one kernel for the whole update on CUDA instead of several per parameter group.
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=setting.learning_rate,
                                  betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon,
                                  fused=device.type == "cuda")
    # The schedule counts optimizer steps (global batches), not micro-batches.
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * cfg.warmup_proportion), total_steps)
    resumed = load_state(job.folder, model, optimizer, scheduler) if cfg.resume else None
    book = TrainBook(job, ranks, device, dtype, (model, tokenizer, optimizer, scheduler), dev_data, steps_per_epoch,
                     resumed, log, on_epoch)
    start_epoch, first = divmod(book.step, steps_per_epoch)
    if ranks.main:
        log(f"training {sum(p.numel() for p in model.parameters()):,} parameters on {device} ({dtype or 'fp32'}), "
            f"{ranks.world} process(es), {cfg.num_train_epochs} epochs x {steps_per_epoch} steps, global batch "
            f"{rows_per_step}, {setting.name}")
        if resumed and first:
            log(f"resuming from {job.folder} at step {book.step:,} of {total_steps:,}: epoch {start_epoch + 1}, "
                f"batch {first + 1:,} of {steps_per_epoch:,}")
        elif resumed:
            log(f"resuming from {job.folder} after epoch {start_epoch} of {cfg.num_train_epochs}")
    wrapped = ddp_wrapped(model, ranks, device)
    micro_steps = cfg.gradient_accumulation_steps * job.micro_split
    stop = book.stop_reason
    for epoch in range(start_epoch + 1, cfg.num_train_epochs + 1):
        if stop:
            break
        batches = length_grouped_batches(train_data.lengths, rows_per_step, np.random.default_rng([cfg.seed, epoch]))
        ticker = EpochTicker(epoch, cfg.num_train_epochs, first, len(batches), total_steps, ranks.main, log,
                             on_progress, job.progress_seconds)
        wrapped.train()
        for batch in range(first, len(batches)):
            rows = batches[batch]
            # Fresh dropout masks per step and rank, and a run resumed at this batch draws the same ones again.
            torch.manual_seed(dropout_seed(cfg.seed, epoch, batch, ranks.rank))
            slices = rank_slices(rows, ranks.world, ranks.rank, micro_steps)
            loss = optimizer_step(wrapped, train_data, rows, slices, ranks.world, optimizer, scheduler,
                                  cfg.max_grad_norm, tokenizer.pad_token_id, device, dtype)
            book.add(loss, len(rows))
            ticker.update(batch + 1, book.step, len(rows), sum(len(s) for s in slices), loss)
            if eval_due(cfg, book.step, total_steps, batch + 1 == len(batches)):
                stop = book.evaluate(total_steps)
                if stop:
                    break
                wrapped.train()  # evaluation left the model in eval mode (no dropout)
            elif book.save_due(ticker.is_tick(batch + 1)):
                book.checkpoint()
        ticker.close()
        first = 0
