"""The true label mix of a batch, corrected for the model's own errors: black-box shift estimation.

Lipton, Wang and Smola (2018), "Detecting and Correcting for Label Shift with Black Box Predictors": when only the
label mix moves (texts of each class still look as they did), the batch's predicted-label shares are
``mu = C q``, with ``C[i, j] = P(pred = i | true = j)`` measured on dev and ``q`` the batch's true label mix. So
``q`` solves a K x K linear system. Sampling noise can put the solution slightly outside the simplex, so it is
clipped to non-negative shares that sum to 1.

The interval is a parametric bootstrap: the batch's predicted counts are redrawn from a multinomial with their
own shares, and each dev column (the rows of one true class) from a multinomial with its own shares, so both the
batch's and dev's sampling noise widen it.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95


def confusion_given_true(confusion_counts: np.ndarray) -> np.ndarray:
    """``counts[..., pred, true]`` normalised per true class (column); a class absent from dev keeps a zero column."""
    counts = np.asarray(confusion_counts, dtype=np.float64)
    return counts / np.maximum(counts.sum(axis=-2, keepdims=True), 1.0)


def _to_simplex(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 0.0, None)
    total = q.sum(axis=-1, keepdims=True)
    return np.where(total > 0, q / np.where(total > 0, total, 1.0), 1.0 / q.shape[-1])


def solve_label_mix(conditional: np.ndarray, predicted_shares: np.ndarray) -> np.ndarray:
    """Least-squares ``q`` of ``C q = mu`` (exact when C is invertible), clipped to valid proportions.

    Works on stacks too (``conditional`` of shape (B, K, K), ``predicted_shares`` (B, K)): the pseudo-inverse is the
    least-squares solution, and numpy computes it for a whole stack of bootstrap draws at once.
    """
    q = np.einsum("...ij,...j->...i", np.linalg.pinv(conditional), predicted_shares)
    return _to_simplex(q)


def estimate_label_mix(confusion_counts, predicted_counts, resamples: int = RESAMPLES, seed: int = 0,
                       level: float = LEVEL) -> dict:
    """The estimate and its percentile bootstrap interval, per class (lists in label-id order)."""
    dev = np.asarray(confusion_counts, dtype=np.int64)
    batch = np.asarray(predicted_counts, dtype=np.int64)
    n = max(int(batch.sum()), 1)
    estimate = solve_label_mix(confusion_given_true(dev), batch / n)
    rng = np.random.default_rng(seed)
    # Each dev column (one true class) redrawn with its own row count and shares: draws[b, pred, true].
    columns = [rng.multinomial(int(col.sum()), col / max(col.sum(), 1), size=resamples) for col in dev.T]
    redrawn = np.stack(columns, axis=2)
    draws = solve_label_mix(confusion_given_true(redrawn), rng.multinomial(n, batch / n, size=resamples) / n)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return {"estimate": estimate.tolist(), "low": low.tolist(), "high": high.tolist(), "level": level,
            "resamples": resamples}
