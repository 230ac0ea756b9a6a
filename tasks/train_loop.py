"""The training loop of one process: epochs, dev evaluation, best-epoch snapshot, checkpoint, early stop.

Plain PyTorch, no Prefect: the fine-tune task runs it in-process, and under torchrun every rank runs it
(``tasks/ddp_worker.py``). Only rank 0 evaluates dev and writes files; the others learn its decision
to stop through a broadcast, so no rank waits for a step the others will not take.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from tasks.batching import length_grouped_batches, load_tokenized
from tasks.checkpoint import load_state, save_state
from tasks.config import Setting, TrainConfig
from tasks.device import autocast_dtype, token_budget
from tasks.early_stop import stop_decision
from tasks.inference import predict_logits
from tasks.memory import DeviceOutOfMemory, record_out_of_memory
from tasks.metrics import classification_metrics
from tasks.model import new_classifier, pretrained_encoder, save_classifier, scratch_encoder, weights_digest
from tasks.records import EpochRecord, LabelSet, ModelSource, Record, TokenizerRecord
from tasks.tokenizer import load_tokenizer
from tasks.train_steps import param_groups, seed_everything, train_epoch


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


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def build_model(source: ModelSource, tok: TokenizerRecord, labels: LabelSet, cfg: TrainConfig):
    tokenizer = load_tokenizer(tok.path, source.local_files_only)
    if source.name_or_path is None:
        encoder = scratch_encoder(cfg.scratch, tokenizer, cfg.max_seq_length)
    else:
        encoder = pretrained_encoder(source.name_or_path, source.local_files_only)
    return new_classifier(encoder, labels), tokenizer


def epoch_score(cfg: TrainConfig, epoch: EpochRecord) -> float:
    return epoch.dev_accuracy if cfg.selection_metric == "accuracy" else epoch.dev_macro_f1


def should_stop(cfg: TrainConfig, epochs: list[EpochRecord]) -> str | None:
    scores = [epoch_score(cfg, e) for e in epochs]
    return stop_decision(scores, cfg.early_stopping_patience, cfg.early_stopping_threshold)


def _sum_over_ranks(value: float, ranks: Ranks, device: torch.device) -> float:
    if ranks.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def _rank0_says(value: bool, ranks: Ranks, device: torch.device) -> bool:
    """Rank 0's ``value`` on every rank (only rank 0 evaluates dev and decides to stop)."""
    if ranks.world == 1:
        return value
    tensor = torch.tensor([float(value)], device=device)
    dist.broadcast(tensor, 0)
    return bool(tensor.item())


def run_training(job: TrainJob, ranks: Ranks, device: torch.device, log=print, on_epoch=None) -> None:
    """Train ``job`` to its last epoch or early stop; rank 0 calls ``on_epoch(record)`` after each epoch."""
    try:
        _train(job, ranks, device, log, on_epoch)
    except torch.OutOfMemoryError as exc:
        raise DeviceOutOfMemory(record_out_of_memory(job.folder, job.micro_split, exc)) from exc


def _train(job: TrainJob, ranks: Ranks, device: torch.device, log, on_epoch) -> None:
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
    epochs = resumed.epochs if resumed else []
    best, best_epoch = (resumed.best, resumed.best_epoch) if resumed else (-1.0, 0)
    if ranks.main:
        log(f"training {sum(p.numel() for p in model.parameters()):,} parameters on {device} ({dtype or 'fp32'}), "
            f"{ranks.world} process(es), {cfg.num_train_epochs} epochs x {steps_per_epoch} steps, global batch "
            f"{rows_per_step}, {setting.name}")
        if resumed:
            log(f"resuming from {job.folder} after epoch {resumed.epoch} of {cfg.num_train_epochs}")
    wrapped = model
    if ranks.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    micro_steps = cfg.gradient_accumulation_steps * job.micro_split
    stop = should_stop(cfg, epochs)
    for epoch in range(len(epochs) + 1, cfg.num_train_epochs + 1):
        if stop:
            break
        # Dropout draws fresh masks per epoch and rank, and a resumed run draws the same ones again.
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ranks.rank)
        started = time.perf_counter()
        batches = length_grouped_batches(train_data.lengths, rows_per_step, np.random.default_rng([cfg.seed, epoch]))
        desc = f"epoch {epoch}/{cfg.num_train_epochs}"
        bar = tqdm(total=len(batches), desc=desc, leave=False, mininterval=2.0, disable=None if ranks.main else True)
        loss = train_epoch(wrapped, train_data, batches, optimizer, scheduler, cfg.max_grad_norm,
                           tokenizer.pad_token_id, device, dtype, ranks.world, ranks.rank, micro_steps,
                           progress=bar.update)
        bar.close()
        loss = _sum_over_ranks(loss, ranks, device) / len(train_data)
        seconds = time.perf_counter() - started
        if ranks.main:
            logits = predict_logits(model, dev_data, cfg.eval_batch_size, tokenizer.pad_token_id, device, dtype,
                                    token_budget(device, dtype))
            metrics = classification_metrics(dev_data.labels, logits.argmax(axis=1), job.labels.names)
            record = EpochRecord(
                epoch=epoch, train_loss=loss, dev_accuracy=metrics["accuracy"], dev_macro_f1=metrics["macro"]["f1"],
                learning_rate=scheduler.get_last_lr()[0], seconds=seconds,
                texts_per_second=len(train_data) / seconds, weights_digest=weights_digest(model),
            )
            score = epoch_score(cfg, record)
            if score > best:  # strictly better: on a tie the earlier, less trained epoch stays
                best, best_epoch = score, epoch
                save_classifier(model, tokenizer, job.labels, job.folder / "best",
                                job.source.seq_length(cfg.max_seq_length))
            epochs = [e.model_copy(update={"selected": e.epoch == best_epoch}) for e in [*epochs, record]]
            save_state(job.folder, model, optimizer, scheduler, epoch, best, best_epoch, epochs)  # after "best"
            stop = should_stop(cfg, epochs)
            log(f"{desc} ({setting.name}): loss {loss:.4f}, dev accuracy {record.dev_accuracy:.4f}, dev macro-F1 "
                f"{record.dev_macro_f1:.4f}, {record.texts_per_second:.0f} texts/s"
                + (" (best so far, saved)" if best_epoch == epoch else ""))
            if on_epoch is not None:
                on_epoch(record)
        stop = _rank0_says(bool(stop), ranks, device)
