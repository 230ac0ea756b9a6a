"""This run's model against the baseline on the same test rows, with paired bootstrap intervals.

A gap of a point or two on ~1,200 rows is often noise, so the report calls a model the winner only when
the paired 95 % interval of the difference excludes 0 (tasks/evaluation/bootstrap.py; the words are in
tasks/evaluation/report_markdown.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from prefect import task

from tasks.core.files import write_json
from tasks.core.logs import logger
from tasks.core.records import DataSummary, Predictions, RunDir, TokenizedSplit
from tasks.evaluation.bootstrap import METRICS, metric_intervals, paired_difference
from tasks.evaluation.metric_records import BaselineComparison, BaselineResult, Comparison
from tasks.evaluation.predict import read_scores


def model_rows(predictions: Predictions, test: TokenizedSplit) -> tuple[np.ndarray, ...]:
    """Source lines, true and predicted label ids of the model's test rows (in the tokenized Parquet's order)."""
    lines, y_true, pred, _ = read_scores(predictions.scores)
    if len(pred) != test.rows:
        raise RuntimeError(f"{predictions.scores}: {len(pred)} predictions for {test.rows} tokenized test rows")
    return lines, y_true, pred


def baseline_rows(path: str, lines: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """The baseline's predictions reordered to ``lines``; both models must have scored exactly the same rows."""
    table = pq.read_table(path)
    by_line = {int(line): i for i, line in enumerate(table.column("line").to_numpy())}
    if len(by_line) != len(lines) or any(int(line) not in by_line for line in lines):
        raise RuntimeError(f"{path}: the baseline scored other test rows than the model ({len(by_line)} vs "
                           f"{len(lines)}); the paired comparison needs the same rows")
    order = np.array([by_line[int(line)] for line in lines])
    if not np.array_equal(table.column("label_id").to_numpy()[order], y_true):
        raise RuntimeError(f"{path}: true labels differ from the model's on the same lines")
    return table.column("pred_id").to_numpy()[order]


def compare(y_true: np.ndarray, model: np.ndarray, baseline: np.ndarray, n_classes: int) -> Comparison:
    return Comparison(rows=len(y_true), model=metric_intervals(y_true, model, n_classes),
                      baseline=metric_intervals(y_true, baseline, n_classes),
                      difference={name: paired_difference(y_true, model, baseline, name, n_classes)
                                  for name in METRICS})


@task(name="compare with baseline")
def compare_with_baseline(baseline: BaselineResult, predictions: Predictions, test: TokenizedSplit,
                          data: DataSummary, run: RunDir) -> BaselineResult:
    """The baseline's result with ``comparison`` added (also written to ``comparison.json``).

    Where test texts also occur in train, the comparison is repeated on the rows that do not.
    """
    lines, y_true, model = model_rows(predictions, test)
    base = baseline_rows(baseline.test_predictions, lines, y_true)
    k = len(data.labels.names)
    quality = data.quality.get("test")
    fresh = ~np.isin(lines, np.array(quality.leaked_lines if quality else (), dtype=lines.dtype))
    comparison = BaselineComparison(
        test=compare(y_true, model, base, k),
        # With --leakage drop the leaked rows are gone and every row is fresh.
        leakage_free=compare(y_true[fresh], model[fresh], base[fresh], k) if 0 < fresh.sum() < len(fresh) else None)
    write_json(run.file("comparison.json"), comparison.model_dump(mode="json", exclude_none=True))
    diff = comparison.test.difference["accuracy"]
    logger().info("model - baseline accuracy: %s points (paired 95 %% bootstrap)", diff.text(100, 1, sign=True))
    return baseline.model_copy(update={"comparison": comparison})
