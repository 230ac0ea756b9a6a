"""Test metrics on texts that fit the model's length limit, and on texts over it.

A text over ``max_seq_length`` tokens is cut (the model never sees its end) or scored as several windows.
Either way it can be where the model is weak, and a whole-test accuracy hides that when long texts are few:
each slice gets its own accuracy and macro-F1, with bootstrap intervals that show how little a small slice says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from tasks.core.records import TokenizedSplit
from tasks.evaluation.bootstrap import METRICS, RESAMPLES, bootstrap_interval
from tasks.evaluation.metric_records import LengthSlices, SliceMetrics

# Predictions.long_texts -> the word the report uses for what happened to a text over the limit
LONG_TEXT_WORDS = {"cut": "cut", "window": "windowed"}


def read_truncated(test_tokens: TokenizedSplit, lines: np.ndarray, scores: Path) -> np.ndarray:
    """The tokenized test split's ``truncated`` flags, once its rows are known to be the scored rows, in order."""
    table = pq.read_table(test_tokens.parquet, columns=["line", "truncated"])
    # A flag on the wrong row would put a text in the wrong slice without any visible error: check every row.
    if not np.array_equal(table.column("line").to_numpy(), lines):
        raise RuntimeError(f"{test_tokens.parquet} ({table.num_rows} rows) and {scores} ({len(lines)} rows) hold "
                           "different test rows: the slices by text length cannot be computed")
    return table.column("truncated").to_numpy().astype(bool)


def slice_metrics(y_true: np.ndarray, y_pred: np.ndarray, resamples: int = RESAMPLES) -> SliceMetrics | None:
    """Accuracy and macro-F1 of the rows given, with intervals; None when there is no row to measure.

    Macro-F1 averages over the classes that occur in the slice (as a label or a prediction), as scikit-learn's
    ``f1_score`` does by default: a class that no long text has would otherwise add an F1 of 0 and make a few
    long texts look bad when the model got them all right.
    """
    if not len(y_true):
        return None
    present = np.union1d(y_true, y_pred)  # the slice's classes, renumbered 0..k-1 for the bootstrap
    true_ids, pred_ids = np.searchsorted(present, y_true), np.searchsorted(present, y_pred)
    intervals = {name: bootstrap_interval(true_ids, pred_ids, name, len(present), resamples) for name in METRICS}
    return SliceMetrics(rows=len(y_true), accuracy=intervals["accuracy"].point,
                        macro_f1=intervals["macro_f1"].point, intervals=intervals)


def length_slices(y_true: np.ndarray, y_pred: np.ndarray, truncated: np.ndarray, long_texts: str,
                  resamples: int = RESAMPLES) -> LengthSlices:
    """The metrics of the rows that fit the limit and of the rows over it (``truncated``)."""
    if long_texts not in LONG_TEXT_WORDS:
        raise ValueError(f"long_texts is {long_texts!r}, expected one of {sorted(LONG_TEXT_WORDS)}")
    if not len(y_true) == len(y_pred) == len(truncated):
        raise ValueError(f"{len(y_true)} labels, {len(y_pred)} predictions and {len(truncated)} length flags")
    long = np.asarray(truncated, dtype=bool)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return LengthSlices(long_texts=LONG_TEXT_WORDS[long_texts],
                        fit=slice_metrics(y_true[~long], y_pred[~long], resamples),
                        long=slice_metrics(y_true[long], y_pred[long], resamples))
