"""Test metrics and the baseline comparison as records: what crosses task boundaries and lands in JSON.

Their JSON is what ``metrics.json`` and ``comparison.json`` always held (``model_dump``), so files written
before these types existed still load with ``model_validate``.
"""

from __future__ import annotations

from typing import Literal

from tasks.core.records import Record
from tasks.evaluation.bootstrap import Interval


class Scores(Record):
    precision: float
    recall: float
    f1: float


class ClassScores(Scores):
    support: int


class Confusion(Record):
    labels: tuple[str, ...]  # rows: true label, columns: predicted label
    matrix: tuple[tuple[int, ...], ...]


class Metrics(Record):
    """Accuracy, macro/weighted P/R/F1, per class and the confusion matrix (tasks/training/metrics.py computes them)."""

    rows: int
    accuracy: float
    macro: Scores
    weighted: Scores
    per_class: dict[str, ClassScores]
    confusion_matrix: Confusion
    intervals: dict[str, Interval] | None = None  # 95 % bootstrap intervals of accuracy and macro_f1

    def interval(self, name: str) -> Interval | None:
        return (self.intervals or {}).get(name)


class Calibration(Record):
    temperature: float
    ece_bins: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float


class SliceMetrics(Record):
    """Accuracy and macro-F1 on a subset of the test rows, each with its bootstrap interval."""

    rows: int
    accuracy: float
    macro_f1: float  # averaged over the classes in the slice (as label or prediction), not every class
    intervals: dict[str, Interval]  # keyed "accuracy" and "macro_f1"


class LengthSlices(Record):
    """The test rows split by whether their text fit within ``max_seq_length`` tokens.

    ``long_texts`` says how a text over the limit was scored: on its first ``max_seq_length`` tokens ("cut"),
    or as several windows whose probabilities were pooled ("windowed"). A slice without rows is None, never NaN.
    """

    long_texts: Literal["cut", "windowed"]
    fit: SliceMetrics | None = None
    long: SliceMetrics | None = None

    @property
    def rows(self) -> int:
        return sum(s.rows for s in (self.fit, self.long) if s is not None)


NO_FRESH_ROWS = "n/a — every test text also occurs in train"


class TestMetrics(Metrics):
    """The selected model on test: ``leakage_free`` repeats the metrics on rows whose text is not in train.

    ``leaked_rows`` counts the scored test rows whose text occurs in train. When that is every row there is
    nothing to repeat the metrics on: ``leakage_free`` is None and ``metrics.json`` holds ``"leakage_free": null``.
    """

    __test__ = False  # a record, not a pytest test class

    calibration: Calibration
    leaked_rows: int = 0
    leakage_free: Metrics | None = None
    length_slices: LengthSlices | None = None  # None: the run did not pass the tokenized test split
    model_digest: str

    @property
    def every_row_leaked(self) -> bool:
        return self.rows > 0 and self.leaked_rows >= self.rows

    def saved(self) -> dict:
        """What ``metrics.json`` holds: no empty fields, except an explicit ``leakage_free: null`` when n/a."""
        saved = self.model_dump(mode="json", exclude_none=True)
        return (saved | {"leakage_free": None}) if self.every_row_leaked else saved


class Comparison(Record):
    """Both models on the same rows, and the paired interval of (model - baseline), per metric."""

    rows: int
    model: dict[str, Interval]
    baseline: dict[str, Interval]
    difference: dict[str, Interval]


class BaselineComparison(Record):
    test: Comparison
    leakage_free: Comparison | None = None  # where test texts also occur in train


class BaselineResult(Record):
    """The TF-IDF baseline's run: its dev choice, test metrics, and where its per-row test predictions are."""

    model: str
    C: float
    dev_accuracy: float
    train_rows: int  # rows fitted on: all training rows, or a stratified sample of them
    train_rows_total: int
    test: Metrics
    seconds: float
    test_predictions: str
    comparison: BaselineComparison | None = None  # against this run's model (tasks/evaluation/comparison.py)

    @property
    def sampled(self) -> bool:
        return self.train_rows < self.train_rows_total
