"""Batched inference over a tokenized split: length-sorted batches, original order restored."""

from __future__ import annotations

import numpy as np
import torch

from tasks.core.device import autocast, pad_multiple
from tasks.tokens.batching import TokenizedData, collate, sorted_batches


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, data: TokenizedData, batch_size: int, pad_id: int,
    device: torch.device, dtype: torch.dtype | None, max_tokens: int | None = None,
) -> np.ndarray:
    """Logits of every row as float32, in the row order of ``data``."""
    was_training = model.training
    model.eval()
    out = np.empty((len(data), model.classifier.out_features), dtype=np.float32)
    for rows in sorted_batches(data.lengths, batch_size, max_tokens):
        padded = collate(data, rows, pad_id, pad_multiple(device))
        batch = {k: v.to(device, non_blocking=True) for k, v in padded.items()}
        with autocast(device, dtype):
            logits = model(**batch)
        out[rows] = logits.float().cpu().numpy()
    model.train(was_training)
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def mean_over_windows(probs: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Each row's mean probability over its windows (``rows[i]``: the row window ``i`` belongs to).

    The mean, not the max: every part of a long text counts alike, so one vivid paragraph cannot outvote the
    rest (max would follow the single most confident window, and its probabilities no longer sum to one); a mean
    of distributions is still a distribution, and calibrated windows give a calibrated mean in expectation.
    """
    total = np.zeros((n_rows, probs.shape[1]), dtype=np.float64)
    np.add.at(total, rows, probs)
    counts = np.bincount(rows, minlength=n_rows)[:, None]
    return total / np.maximum(counts, 1)
