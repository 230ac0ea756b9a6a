"""Bootstrap confidence intervals for test metrics, and paired intervals for the gap between two models.

A test set is a sample: on ~1,200 rows accuracy moves by about ±1.5 points from the rows alone. Resampling
the test rows with replacement (percentile bootstrap) shows that spread; a paired interval reuses the same
resampled rows for both models, so what the two share (easy and hard rows) cancels out of their difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from tasks.core.records import Record

RESAMPLES = 1000
SEED = 20240901  # fixed, so a report's intervals are reproducible from its predictions alone
LEVEL = 0.95
MAX_CELLS = 20_000_000  # resampled row indices held at once (~160 MB of int64): bounds memory on big test sets


class Interval(Record):
    """A point estimate on all rows and the central ``level`` share of its bootstrap distribution."""

    point: float
    low: float
    high: float
    resamples: int
    seed: int
    level: float = LEVEL

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, scale: float = 1.0, digits: int = 4, sign: bool = False) -> str:
        """``0.8100 [0.7920, 0.8280]``; ``scale=100`` gives points."""
        fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
        return (f"{fmt.format(self.point * scale)} "
                f"[{fmt.format(self.low * scale)}, {fmt.format(self.high * scale)}]")


def accuracy_of(y_true: np.ndarray, y_pred: np.ndarray, idx: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy of each resample (one row of ``idx`` each)."""
    return (y_true == y_pred)[idx].mean(axis=1)


def macro_f1_of(y_true: np.ndarray, y_pred: np.ndarray, idx: np.ndarray, n_classes: int) -> np.ndarray:
    """Macro-F1 of each resample, from one confusion matrix per resample built with a single bincount.

    F1 = 2TP / (2TP + FP + FN) per class, 0 where a class is neither true nor predicted: the same as
    sklearn's ``f1_score(labels=range(n_classes), average="macro", zero_division=0)``.
    """
    k = n_classes
    cell = y_true[idx] * k + y_pred[idx]  # (resamples, rows): which confusion cell each drawn row falls in
    offset = np.arange(idx.shape[0])[:, None] * (k * k)
    confusion = np.bincount((cell + offset).ravel(), minlength=idx.shape[0] * k * k).reshape(-1, k, k)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    denominator = confusion.sum(axis=1) + confusion.sum(axis=2)  # (TP + FP) + (TP + FN)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(axis=1)


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
METRICS: dict[str, Metric] = {"accuracy": accuracy_of, "macro_f1": macro_f1_of}


def _index_blocks(rows: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of every resample, a block of resamples at a time.

    Blocks continue one random stream, so the indices equal a single (resamples, rows) draw; a test checks it.
    """
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, MAX_CELLS // rows))
    for start in range(0, resamples, block):
        yield rng.integers(0, rows, size=(min(block, resamples - start), rows))


def _resampled(y_true: np.ndarray, preds: list[np.ndarray], metric: str, n_classes: int, resamples: int,
               seed: int) -> np.ndarray:
    """The metric of each prediction vector on each resample, shape (len(preds), resamples), same rows for all."""
    if len(y_true) == 0:
        raise ValueError("a bootstrap interval needs at least one row")
    if any(len(p) != len(y_true) for p in preds):
        raise ValueError(f"predictions of {[len(p) for p in preds]} rows for {len(y_true)} labels")
    fn = METRICS[metric]
    blocks = [[fn(y_true, p, idx, n_classes) for p in preds] for idx in _index_blocks(len(y_true), resamples, seed)]
    return np.stack([np.concatenate(per_pred) for per_pred in zip(*blocks, strict=True)])


def _interval(point: float, values: np.ndarray, resamples: int, seed: int, level: float) -> Interval:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(point=float(point), low=float(low), high=float(high), resamples=resamples, seed=seed, level=level)


def _classes(n_classes: int | None, *arrays: np.ndarray) -> int:
    return n_classes if n_classes is not None else int(max(a.max() for a in arrays)) + 1


def bootstrap_interval(y_true, y_pred, metric: str, n_classes: int | None = None, resamples: int = RESAMPLES,
                       seed: int = SEED, level: float = LEVEL) -> Interval:
    """Percentile interval of ``metric`` ("accuracy" or "macro_f1") over resampled test rows.

    Pass ``n_classes`` when a class may be absent from both arrays: macro-F1 averages over every class.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = _classes(n_classes, y_true, y_pred)
    values = _resampled(y_true, [y_pred], metric, k, resamples, seed)[0]
    point = METRICS[metric](y_true, y_pred, np.arange(len(y_true))[None], k)[0]
    return _interval(point, values, resamples, seed, level)


def paired_difference(y_true, pred_a, pred_b, metric: str, n_classes: int | None = None,
                      resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Interval:
    """Interval of ``metric(a) - metric(b)``, both models scored on the same resampled rows."""
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    k = _classes(n_classes, y_true, pred_a, pred_b)
    a, b = _resampled(y_true, [pred_a, pred_b], metric, k, resamples, seed)
    every = np.arange(len(y_true))[None]
    point = METRICS[metric](y_true, pred_a, every, k)[0] - METRICS[metric](y_true, pred_b, every, k)[0]
    return _interval(point, a - b, resamples, seed, level)


def metric_intervals(y_true, y_pred, n_classes: int) -> dict:
    """Both report metrics' intervals as JSON-ready dicts, keyed as in ``metrics.json``."""
    return {name: bootstrap_interval(y_true, y_pred, name, n_classes).model_dump() for name in METRICS}
