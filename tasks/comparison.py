"""This run's model against the baseline on the same test rows, with paired bootstrap intervals.

A gap of a point or two on ~1,200 rows is often noise, so the report calls a model the winner only when
the paired 95 % interval of the difference excludes 0 (tasks/bootstrap.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from prefect import task

from tasks.bootstrap import METRICS, Interval, metric_intervals, paired_difference
from tasks.files import write_json
from tasks.logs import logger
from tasks.markdown import markdown_table
from tasks.predict import read_scores
from tasks.records import BaselineResult, DataSummary, Predictions, RunDir, TokenizedSplit

NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


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


def compare(y_true: np.ndarray, model: np.ndarray, baseline: np.ndarray, n_classes: int) -> dict:
    return {"rows": len(y_true), "model": metric_intervals(y_true, model, n_classes),
            "baseline": metric_intervals(y_true, baseline, n_classes),
            "difference": {name: paired_difference(y_true, model, baseline, name, n_classes).model_dump()
                           for name in METRICS}}


@task(name="compare with baseline")
def compare_with_baseline(baseline: BaselineResult, predictions: Predictions, test: TokenizedSplit,
                          data: DataSummary, run: RunDir) -> BaselineResult:
    """The baseline's result with ``comparison`` added (also written to ``comparison.json``).

    Where test texts also occur in train, the comparison is repeated on the rows that do not.
    """
    lines, y_true, model = model_rows(predictions, test)
    base = baseline_rows(baseline.test_predictions, lines, y_true)
    k = len(data.labels.names)
    comparison = {"test": compare(y_true, model, base, k)}
    quality = data.quality.get("test")
    fresh = ~np.isin(lines, np.array(quality.leaked_lines if quality else (), dtype=lines.dtype))
    if 0 < fresh.sum() < len(fresh):  # with --leakage drop the leaked rows are gone and every row is fresh
        comparison["leakage_free"] = compare(y_true[fresh], model[fresh], base[fresh], k)
    write_json(run.file("comparison.json"), comparison)
    diff = Interval(**comparison["test"]["difference"]["accuracy"])
    logger().info("model - baseline accuracy: %s points (paired 95 %% bootstrap)", diff.text(100, 1, sign=True))
    return baseline.model_copy(update={"comparison": comparison})


def verdict(metric: str, diff: Interval) -> str:
    """A win only when the paired interval excludes 0; otherwise the gap is called noise."""
    points, name = diff.text(100, 1, sign=True), NAMES[metric]
    gap = abs(diff.point) * 100
    if diff.low > 0:
        return f"This model beats the baseline on {name} by {gap:.1f} points (paired interval {points} points)."
    if diff.high < 0:
        return (f"**The baseline wins on {name} by {gap:.1f} points** (paired interval {points} points): "
                "prefer it, or a pretrained checkpoint.")
    return (f"No winner on {name}: the difference, {points} points, is within noise (its paired interval "
            "contains 0).")


def comparison_table(result: dict, baseline: BaselineResult) -> str:
    def cells(intervals: dict, sign: bool = False) -> list[str]:
        return [Interval(**intervals[name]).text(sign=sign) for name in METRICS]

    sample = f", fitted on a stratified sample of {baseline.train_rows:,} of {baseline.train_rows_total:,} training " \
        "rows" if baseline.sampled else ""
    label = f"{baseline.model} (C={baseline.C:g}, {baseline.seconds:.0f} s{sample})"
    rows = [["this run's model", *cells(result["model"])], [label, *cells(result["baseline"])],
            ["difference (this model - baseline), paired", *cells(result["difference"], sign=True)]]
    table = markdown_table(["model", *(NAMES[m] for m in METRICS)], rows)
    verdicts = " ".join(verdict(m, Interval(**result["difference"][m])) for m in METRICS)
    return f"{table}\n\n{verdicts}\n"


def comparison_section(baseline: BaselineResult) -> str:
    """The report's comparison: point estimates with 95 % bootstrap intervals, and which model wins, if any."""
    comparison = baseline.comparison
    test = comparison["test"]
    any_interval = Interval(**test["difference"]["accuracy"])
    parts = [f"## Baseline on the same test rows\n\n{test['rows']} rows; in brackets the 95 % bootstrap interval "
             f"({any_interval.resamples} resamples of the test rows, seed {any_interval.seed}). The difference is "
             "paired: both models scored on the same resampled rows.\n", comparison_table(test, baseline)]
    fresh = comparison.get("leakage_free")
    if fresh:
        parts.append(f"On the {fresh['rows']} test rows whose text does not occur in train:\n\n"
                     f"{comparison_table(fresh, baseline)}")
    return "\n".join(parts)
