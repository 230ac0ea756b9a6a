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
