"""Markdown of training, the test metrics and the baseline comparison: rendered here only, for report.md and the UI.

Nothing here computes a metric; it formats the records that tasks/evaluation/report.py and
tasks/evaluation/comparison.py return.
"""

from __future__ import annotations

from tasks.core.records import Promotion, TrainResult
from tasks.evaluation.bootstrap import METRICS, Interval
from tasks.evaluation.metric_records import (
    NO_FRESH_ROWS,
    BaselineResult,
    Comparison,
    LengthSlices,
    Metrics,
    SliceMetrics,
    TestMetrics,
)
from tasks.evaluation.selection import sweep_rows
from tasks.training.artifacts import epoch_rows
from tasks.training.evaluations import by_step, selected_name
from tasks.ui.markdown import markdown_table

NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
HOW_LONG_TEXTS = {"cut": "cut to the limit", "windowed": "scored as several windows"}


def ci(metrics: Metrics, name: str) -> str:
    """`` [low, high]`` to follow a metric: how far the choice of test rows alone could move it."""
    interval = metrics.interval(name)
    return f" [{interval.low:.4f}, {interval.high:.4f}]" if interval else ""


def ci_note(metrics: Metrics) -> str:
    interval = metrics.interval("accuracy")
    if interval is None:
        return ""
    return (f" In brackets: {100 * interval.level:.0f} % bootstrap intervals ({interval.resamples} resamples of the "
            f"test rows, seed {interval.seed}).")


def slice_cells(name: str, metrics: SliceMetrics | None) -> list[str]:
    if metrics is None:
        return [name, "0", "n/a", "n/a"]
    return [name, str(metrics.rows), *(metrics.intervals[m].text() for m in METRICS)]


def length_section(slices: LengthSlices | None) -> str:
    """Long texts against the rest, only when some test text was over the limit: otherwise there is no contrast."""
    if slices is None or slices.long is None:
        return ""
    long = slices.long
    table = markdown_table(["test texts", "rows", *(NAMES[m] for m in METRICS)], [
        slice_cells("fit the length limit", slices.fit), slice_cells(f"over it, {slices.long_texts}", long)])
    return (f"Texts over the length limit (`max_seq_length` tokens): {long.rows} of {slices.rows} test rows, "
            f"{HOW_LONG_TEXTS[slices.long_texts]}. Their accuracy and macro-F1 against the texts that fit:"
            f"\n\n{table}\n\n")


def test_section(metrics: TestMetrics) -> str:
    summary = markdown_table(["metric", "precision", "recall", "F1"], [
        [name, f"{avg.precision:.4f}", f"{avg.recall:.4f}", f"{avg.f1:.4f}"]
        for name, avg in (("macro", metrics.macro), ("weighted", metrics.weighted))])
    per_class = markdown_table(["class", "precision", "recall", "F1", "support"], [
        [name, f"{m.precision:.4f}", f"{m.recall:.4f}", f"{m.f1:.4f}", m.support]
        for name, m in metrics.per_class.items()])
    names = metrics.confusion_matrix.labels
    confusion = markdown_table(["true \\ predicted", *names],
                               [[name, *row] for name, row in zip(names, metrics.confusion_matrix.matrix, strict=True)])
    fresh = metrics.leakage_free
    leak = (f" On the {fresh.rows} test rows whose text does not occur in train: accuracy "
            f"**{fresh.accuracy:.4f}**{ci(fresh, 'accuracy')}, macro-F1 {fresh.macro.f1:.4f}"
            f"{ci(fresh, 'macro_f1')}." if fresh else "")
    if metrics.every_row_leaked:
        leak = (f" Metrics on the test rows whose text does not occur in train: **{NO_FRESH_ROWS}**, so the numbers "
                "above measure texts the model was trained on, not new text.")
    cal = metrics.calibration
    calibration = (f"Calibration (temperature scaling fitted on dev, T = {cal.temperature:.3f}; labels unchanged): "
                   f"test ECE ({cal.ece_bins} bins) {cal.ece_before:.4f} -> {cal.ece_after:.4f}, "
                   f"NLL {cal.nll_before:.4f} -> {cal.nll_after:.4f}.")
    return (f"## Test\n\n**Accuracy {metrics.accuracy:.4f}**{ci(metrics, 'accuracy')} on {metrics.rows} rows, "
            f"macro-F1 {metrics.macro.f1:.4f}{ci(metrics, 'macro_f1')}.{leak}{ci_note(metrics)}\n\n{summary}\n\n"
            f"{length_section(metrics.length_slices)}{calibration}\n\n{per_class}\n\n"
            f"Confusion matrix (rows: true label):\n\n{confusion}\n")


test_section.__test__ = False  # a renderer, not a pytest test


def training_section(train: TrainResult) -> str:
    # The same cells as the training-epochs artifact, so the UI and report.md show the same numbers.
    cells = epoch_rows(train.epochs)
    short = {"dev accuracy": "dev acc", "learning rate": "lr", "selected": ""}  # the columns' names, shorter
    names = list(cells[0]) if cells else ["epoch", "train loss", "dev accuracy", "dev macro-F1", "learning rate",
                                          "seconds", "texts/s", "selected"]
    header = [short.get(name, name) for name in names]
    rows = [[*list(row.values())[:-1], "**selected**" if row["selected"] else ""] for row in cells]
    table = markdown_table(header, rows)
    calibrated = (f" Temperature scaling on dev: T = {train.temperature:.3f}, dev NLL {train.dev_nll[0]:.4f} -> "
                  f"{train.dev_nll[1]:.4f}." if train.dev_nll else "")
    setting = f" with {train.setting.name}" if train.setting else ""
    stopped = f" Early stopping {train.stop_reason}." if train.stop_reason else ""
    sweep = ""
    if len(train.sweep) > 1:
        rows = sweep_rows(train.sweep)
        sweep = (f"\n\nSweep: {len(rows)} settings, each its own fine-tune run; the best dev score over every "
                 f"setting and evaluation wins, and only the winner is evaluated on test.\n\n"
                 + markdown_table(list(rows[0]), [list(r.values()) for r in rows]))
    steps = by_step(train.epochs)
    listed = "Evaluations (every `--eval_steps` steps and the last)" if steps else "Epochs"
    return (f"## Training\n\nSelected {selected_name(train.epochs, train.best_epoch, train.best_step)}{setting} by "
            f"dev {train.selection_metric} ({train.best_dev_metric:.4f}); its weights are the saved model.{stopped}"
            f"{calibrated}{sweep}\n\n{listed} of the selected setting:\n\n{table}\n")


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


def comparison_table(result: Comparison, baseline: BaselineResult) -> str:
    def cells(intervals: dict[str, Interval], sign: bool = False) -> list[str]:
        return [intervals[name].text(sign=sign) for name in METRICS]

    sample = (f", fitted on a stratified sample of {baseline.train_rows:,} of {baseline.train_rows_total:,} training "
              "rows" if baseline.sampled else "")
    label = f"{baseline.model} (C={baseline.C:g}, {baseline.seconds:.0f} s{sample})"
    rows = [["this run's model", *cells(result.model)], [label, *cells(result.baseline)],
            ["difference (this model - baseline), paired", *cells(result.difference, sign=True)]]
    table = markdown_table(["model", *(NAMES[m] for m in METRICS)], rows)
    verdicts = " ".join(verdict(m, result.difference[m]) for m in METRICS)
    return f"{table}\n\n{verdicts}\n"


def comparison_section(baseline: BaselineResult, metrics: TestMetrics | None = None) -> str:
    """The report's comparison: point estimates with 95 % bootstrap intervals, and which model wins, if any.

    ``metrics`` (this run's test metrics) tells whether every test text is also in train: then the comparison on
    rows not in train is n/a, and says so.
    """
    test = baseline.comparison.test
    any_interval = test.difference["accuracy"]
    parts = [f"## Baseline on the same test rows\n\n{test.rows} rows; in brackets the 95 % bootstrap interval "
             f"({any_interval.resamples} resamples of the test rows, seed {any_interval.seed}). The difference is "
             "paired: both models scored on the same resampled rows.\n", comparison_table(test, baseline)]
    fresh = baseline.comparison.leakage_free
    if fresh:
        parts.append(f"On the {fresh.rows} test rows whose text does not occur in train:\n\n"
                     f"{comparison_table(fresh, baseline)}")
    elif metrics is not None and metrics.every_row_leaked:
        parts.append(f"On test rows whose text does not occur in train: {NO_FRESH_ROWS}.\n")
    return "\n".join(parts)


def promotion_section(promotion: Promotion, heading: str = "##") -> str:
    """Why the model was or was not promoted: the verdict, each check of the gate, and where the pointer is."""
    verdict = "**Promoted**" if promotion.promoted else "**Not promoted**: the scoring flow keeps its current model"
    warned = "".join(f"\n> **Warning:** {text}.\n" for text in promotion.warnings)
    checks = "\n".join(f"- {line}" for line in promotion.checks)
    return (f"{heading} Promotion\n\n{verdict}.\n{warned}\n{checks}\n\n"
            f"Pointer: `{promotion.pointer.resolve()}`.\n")
