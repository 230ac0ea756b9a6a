"""The pre-training loop of one process, on the fine-tuning engine's parts.

Shared with fine-tuning: length-grouped global batches, the rank/micro-batch slicing and exact loss scaling
of ``tasks/training/steps.py`` (here a mean over the global batch's predicted tokens), AdamW without decay on
biases and norms, the linear schedule, per-epoch seeding, the atomic end-of-epoch checkpoint of
``tasks/training/checkpoint.py`` (resume after a kill ends with the same weights) and DDP. Plain PyTorch, no Prefect.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from tasks.core.config import PretrainConfig
from tasks.core.device import autocast, autocast_dtype, pad_multiple
from tasks.core.records import Record, TokenizerRecord
from tasks.pretraining.masking import HELDOUT_EPOCH, Masker, mlm_collate
from tasks.pretraining.model import MaskedLmObjective, build_mlm, save_encoder
from tasks.pretraining.records import MlmEpochRecord
from tasks.pretraining.tokens import load_corpus
from tasks.tokens.batching import length_grouped_batches
from tasks.tokens.tokenizer import load_tokenizer
from tasks.training.checkpoint import load_state, save_state
from tasks.training.collectives import Ranks, ddp_wrapped, rank0_says, sum_over_ranks
from tasks.training.model import weights_digest
from tasks.training.steps import optimizer_step, param_groups, rank_slices, seed_everything


class MlmJob(Record):
    """Everything one pre-training needs, as paths and small records (the torchrun worker reads it as JSON)."""

    corpus: Path  # the tokenized corpus (Parquet)
    tok: TokenizerRecord
    cfg: PretrainConfig
    checkpoint: str | None = None  # the encoder continued from (None: from scratch)
    local_files_only: bool = True
    folder: Path  # pretrained/<key>: last/ (resume state), model/ (the encoder, written after the last epoch)


def heldout_split(rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): a fixed share of the sequences, never trained on, for perplexity."""
    order = np.random.default_rng([seed, 7]).permutation(rows)
    held = max(1, round(rows * fraction)) if rows > 1 else 0
    return np.sort(order[held:]), np.sort(order[:held])


def mlm_loss(model, data, part, pad_id, device, dtype, masked) -> torch.Tensor:
    batch = {k: v.to(device, non_blocking=True) for k, v in mlm_collate(masked, part, pad_id,
                                                                        pad_multiple(device)).items()}
    with autocast(device, dtype):
        return model(**batch)


@torch.inference_mode()
def heldout_loss(objective, data, starts, rows, masker: Masker, seed: int, batch: int, pad_id, device, dtype) -> float:
    """Mean cross-entropy per predicted token of the held-out sequences, with masks that never change."""
    was_training = objective.training
    objective.eval()
    total, count = 0.0, 0
    for begin in range(0, len(rows), batch):
        part = rows[begin : begin + batch]
        masked = {int(r): masker.mask_row(data, starts, int(r), seed, HELDOUT_EPOCH) for r in part}
        total += float(mlm_loss(objective, data, part, pad_id, device, dtype, masked))
        count += sum(int((labels != -100).sum()) for _, labels in masked.values())
    objective.train(was_training)
    return total / max(count, 1)


def run_pretraining(job: MlmJob, ranks: Ranks, device: torch.device, log=print, on_epoch=None) -> None:
    """Pre-train to the last epoch; rank 0 checkpoints every epoch and writes ``folder/model`` at the end."""
    cfg = job.cfg
    dtype = autocast_dtype(device, cfg.precision)
    seed_everything(cfg.seed)
    tokenizer = load_tokenizer(job.tok.path, job.local_files_only)
    objective = MaskedLmObjective(build_mlm(cfg, tokenizer, job.checkpoint, job.local_files_only)).to(device)
    data, starts = load_corpus(job.corpus)
    train_rows, held_rows = heldout_split(len(data), cfg.heldout_fraction, cfg.seed)
    masker = Masker.for_tokenizer(tokenizer, cfg.mask_probability, cfg.whole_word_masking)
    steps_per_epoch = -(-len(train_rows) // cfg.global_batch)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(param_groups(objective, cfg.weight_decay), lr=cfg.learning_rate,
                                  betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon,
                                  fused=device.type == "cuda")
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * cfg.warmup_proportion), total_steps)
    resumed = load_state(job.folder, objective, optimizer, scheduler, MlmEpochRecord) if cfg.resume else None
    epochs = list(resumed.epochs) if resumed else []
    if ranks.main:
        log(f"pre-training (masked LM) {sum(p.numel() for p in objective.parameters()):,} parameters on {device}, "
            f"{ranks.world} process(es), {cfg.epochs} epochs x {steps_per_epoch} steps of {cfg.global_batch} "
            f"sequences; {len(train_rows)} sequences to train on, {len(held_rows)} held out")
        if resumed:
            log(f"resuming pre-training from {job.folder} after epoch {resumed.epoch} of {cfg.epochs}")
    wrapped = ddp_wrapped(objective, ranks, device)
    micro_steps = cfg.gradient_accumulation_steps
    pad_id = tokenizer.pad_token_id
    for epoch in range(len(epochs) + 1, cfg.epochs + 1):
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ranks.rank)  # dropout, as fine-tuning seeds it
        started = time.perf_counter()
        grouped = length_grouped_batches(data.lengths[train_rows], cfg.global_batch,
                                         np.random.default_rng([cfg.seed, epoch]))
        bar = tqdm(total=len(grouped), desc=f"pre-training epoch {epoch}/{cfg.epochs}", leave=False,
                   mininterval=2.0, disable=None if ranks.main else True)
        loss, predicted = torch.zeros((), device=device), 0
        tenth = max(1, len(grouped) // 10)
        for step, batch in enumerate(grouped, start=1):
            rows = train_rows[batch]
            # Every rank masks the whole global batch (cheap), so all know how many tokens the mean is over.
            masked = {int(r): masker.mask_row(data, starts, int(r), cfg.seed, epoch) for r in rows}
            count = sum(int((labels != -100).sum()) for _, labels in masked.values())
            loss += optimizer_step(wrapped, data, rows, rank_slices(rows, ranks.world, ranks.rank, micro_steps),
                                   ranks.world, optimizer, scheduler, cfg.max_grad_norm, pad_id, device, dtype,
                                   loss_fn=partial(mlm_loss, masked=masked), denominator=count)
            predicted += count
            bar.update()
            if ranks.main and step % tenth == 0 and step < len(grouped):  # a long epoch says how far it is
                elapsed = time.perf_counter() - started
                log(f"pre-training epoch {epoch}/{cfg.epochs}: {step}/{len(grouped)} steps, {elapsed:.0f} s, "
                    f"MLM loss so far {float(loss) / max(predicted, 1):.4f} (this process)")
        bar.close()
        train_loss = sum_over_ranks(float(loss), ranks, device) / max(predicted, 1)
        seconds = time.perf_counter() - started
        if ranks.main:
            held = heldout_loss(objective, data, starts, held_rows, masker, cfg.seed, 2 * cfg.batch_size, pad_id,
                                device, dtype)
            record = MlmEpochRecord(
                epoch=epoch, train_loss=train_loss, heldout_loss=held, heldout_perplexity=math.exp(min(held, 50.0)),
                learning_rate=scheduler.get_last_lr()[0], seconds=seconds,
                tokens_per_second=float(data.lengths[train_rows].sum()) / seconds,
                weights_digest=weights_digest(objective))
            epochs.append(record)
            save_state(job.folder, objective, optimizer, scheduler, epoch, -held, epoch, epochs)
            log(f"pre-training epoch {epoch}/{cfg.epochs}: MLM loss {train_loss:.4f}, held-out loss {held:.4f} "
                f"(perplexity {record.heldout_perplexity:.1f}), {record.tokens_per_second:.0f} tokens/s")
            if on_epoch is not None:
                on_epoch(record)
        rank0_says(True, ranks, device)  # keep the ranks in step while rank 0 evaluates and saves
    if ranks.main:
        save_encoder(objective.model, tokenizer, job.folder / "model")
