"""One optimizer step over a global batch, split across ranks and micro-batches, with exact loss scaling.

Global batch = per-rank batch x ranks x accumulation steps. Every rank builds the same global batches
from the same seed (so all ranks take the same number of steps), then takes its own slices of each.
Each micro-batch's summed loss is divided by the rows in the *global* batch (times the ranks, since
DDP averages gradients over ranks), so 2 ranks x 4, 1 x 4 x 2 accumulation and 1 x 8 give the same
gradient, also when the last batch is short and the slices are uneven.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from tasks.core.device import autocast, pad_multiple
from tasks.tokens.batching import TokenizedData, collate


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def dropout_seed(seed: int, epoch: int, batch: int, rank: int) -> int:
    """The torch seed for one optimizer step of one rank: a run resumed at any batch draws the same masks."""
    return int(np.random.SeedSequence([seed % 2**64, epoch, batch, rank]).generate_state(1, np.uint64)[0])


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No decay for biases and normalisation weights: every 0-d/1-d tensor, whatever the layer names."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def rank_slices(rows: np.ndarray, world: int, rank: int, micro_steps: int) -> list[np.ndarray]:
    """This rank's micro-batches of one global batch (sorted by length: neighbouring slices, which go to
    different ranks in the same micro-step, have similar lengths, so no rank waits long for another)."""
    parts = np.array_split(rows, world * micro_steps)
    return parts[rank::world]


def classification_loss(model, data: TokenizedData, part: np.ndarray, pad_id: int, device: torch.device,
                        dtype) -> torch.Tensor:
    """Summed cross-entropy of the rows ``part`` against their labels."""
    padded = collate(data, part, pad_id, pad_multiple(device))
    batch = {k: v.to(device, non_blocking=True) for k, v in padded.items()}
    with autocast(device, dtype):
        logits = model(**batch)
    labels = torch.from_numpy(data.labels[part]).to(device)
    return torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum")


def optimizer_step(model, data: TokenizedData, rows: np.ndarray, slices: list[np.ndarray], world: int,
                   optimizer, scheduler, max_grad_norm: float, pad_id: int, device: torch.device,
                   dtype, loss_fn=classification_loss, denominator: int | None = None) -> torch.Tensor:
    """Forward/backward every slice, then one optimizer step; returns this rank's summed loss (on device).

    ``loss_fn`` gives a slice's *summed* loss; it is divided by ``denominator``, the units the loss is a mean
    over in the global batch: its rows by default, its predicted tokens for masked-language modelling.
    """
    total = torch.zeros((), device=device)
    for i, part in enumerate(slices):
        weight = world / max(denominator or len(rows), 1)
        if len(part) == 0:  # a short last batch leaves this slice empty: it still joins the all-reduce
            part, weight = rows[:1], 0.0
        last = i == len(slices) - 1
        # Under DDP, gradients are all-reduced on the last micro-batch only.
        sync = model.no_sync() if world > 1 and not last else contextlib.nullcontext()
        with sync:
            loss = loss_fn(model, data, part, pad_id, device, dtype)
            (loss * weight).backward()
        total += loss.detach() * (weight > 0)
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def train_epoch(model, data: TokenizedData, batches: list[np.ndarray], optimizer, scheduler, max_grad_norm: float,
                pad_id: int, device: torch.device, dtype, world: int = 1, rank: int = 0, micro_steps: int = 1,
                progress=None) -> float:
    """One pass over ``batches`` (global batches); returns this rank's summed loss."""
    model.train()
    total = torch.zeros((), device=device)
    for rows in batches:
        slices = rank_slices(rows, world, rank, micro_steps)
        total += optimizer_step(model, data, rows, slices, world, optimizer, scheduler, max_grad_norm, pad_id,
                                device, dtype)
        if progress is not None:
            progress()
    return float(total)
