"""The promotion gate's fixed checks, as pure functions of the test labels and predictions.

A model that answers one class for every row can still reach a test accuracy near the majority share (a
1-epoch model did: 0.54, all class 0), and any fixed accuracy floor is wrong for some data set. So the gate
compares the model with the cheapest model there is, always answering the test set's most frequent class,
on the same rows: the paired bootstrap interval of the accuracy difference must lie above zero. A paired
interval, not the model's own interval against a fixed rate, because both accuracies come from the same
sample of rows.
"""

from __future__ import annotations

import numpy as np

from tasks.core.records import Record
from tasks.evaluation.bootstrap import Interval, paired_difference


class Check(Record):
    passed: bool
    text: str
    warning: bool = False  # passed, but a user must hear of it (the baseline is significantly better)

    def line(self) -> str:
        return f"{'WARN' if self.warning else 'PASS' if self.passed else 'FAIL'}: {self.text}"


def class_check(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> Check:
    present, predicted = np.unique(y_true), np.unique(y_pred)
    if len(present) < 2:
        return Check(passed=False, text=f"the test set holds only the class '{labels[int(present[0])]}': it cannot "
                                        "show that the model tells classes apart")
    if len(predicted) < 2:
        return Check(passed=False, text=f"the model predicts '{labels[int(predicted[0])]}' for all {len(y_pred):,} "
                                        "test rows: it has collapsed to one class")
    return Check(passed=True, text=f"predicts {len(predicted)} of the {len(present)} classes in test")


def majority_check(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> Check:
    counts = np.bincount(y_true, minlength=len(labels))
    majority = int(counts.argmax())
    rate, accuracy = counts[majority] / len(y_true), float((y_true == y_pred).mean())
    diff = paired_difference(y_true, y_pred, np.full_like(y_pred, majority), "accuracy", len(labels))
    versus = (f"test accuracy {accuracy:.4f} against the majority-class rate {rate:.4f} (always "
              f"'{labels[majority]}'): {diff.text(100, 1, sign=True)} points, paired 95 % interval")
    if diff.low > 0:
        return Check(passed=True, text=f"beats the majority class: {versus}")
    return Check(passed=False, text=f"does not beat the majority class clearly: {versus}, not above zero")


def fixed_checks(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> list[Check]:
    """The checks every promotion passes, whatever the options; an empty test set passes none."""
    if len(y_true) == 0:
        return [Check(passed=False, text="no test rows were scored")]
    classes = class_check(y_true, y_pred, labels)
    if not classes.passed and len(np.unique(y_true)) < 2:
        return [classes]  # one class in test: no majority comparison can mean anything
    return [classes, majority_check(y_true, y_pred, labels)]


def baseline_check(difference: Interval, required: bool) -> Check:
    """``difference``: the paired interval of (model - baseline) test accuracy (tasks/evaluation/comparison.py)."""
    figures = f"model - baseline accuracy {difference.text(100, 1, sign=True)} points, paired 95 % interval"
    if difference.high >= 0:
        return Check(passed=True, text=f"the TF-IDF baseline is not significantly better: {figures}")
    if required:
        return Check(passed=False, text=f"the TF-IDF baseline is significantly better ({figures}; "
                                        "--promote_require_baseline)")
    return Check(passed=True, warning=True, text=f"the TF-IDF baseline is significantly better ({figures}); "
                                                 "--promote_require_baseline would refuse this model")
