"""The run's plots: real PNG files, and different data draws a different picture."""

import numpy as np
import pytest

from tasks.core.records import EpochRecord
from tasks.evaluation.calibration import ECE_BINS, expected_calibration_error
from tasks.evaluation.plots import bin_accuracy, confusion_matrix, reliability, training_curves
from tasks.training.inference import softmax

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def epochs(accuracies: list[float], selected: int) -> list[EpochRecord]:
    return [EpochRecord(epoch=i, train_loss=1.0 / i, dev_accuracy=acc, dev_macro_f1=acc - 0.02, learning_rate=1e-3,
                        seconds=2.0, texts_per_second=100.0, weights_digest="d", selected=i == selected)
            for i, acc in enumerate(accuracies, start=1)]


def assert_png(path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000  # axes, lines and text, not an empty canvas
    return data


def test_training_curves_are_a_png_that_changes_with_the_epochs(tmp_path):
    first = assert_png(training_curves(epochs([0.6, 0.8, 0.7], selected=2), tmp_path / "plots/a.png"))
    other = assert_png(training_curves(epochs([0.6, 0.7, 0.9], selected=3), tmp_path / "plots/b.png"))
    same = assert_png(training_curves(epochs([0.6, 0.8, 0.7], selected=2), tmp_path / "plots/c.png"))
    assert first != other
    assert first == same  # deterministic: the same epochs draw the same bytes


def test_confusion_matrix_png_depends_on_the_counts(tmp_path):
    a = assert_png(confusion_matrix(["neg", "pos"], [[40, 8], [5, 43]], tmp_path / "a.png"))
    b = assert_png(confusion_matrix(["neg", "pos"], [[48, 0], [0, 48]], tmp_path / "b.png"))
    three = assert_png(confusion_matrix(["neg", "neu", "pos"], [[9, 1, 0], [2, 7, 1], [0, 0, 10]], tmp_path / "c.png"))
    assert len({a, b, three}) == 3


def test_reliability_diagram_differs_before_and_after_calibration(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    logits = np.stack([np.where(labels == 0, 2.0, -2.0), np.where(labels == 1, 2.0, -2.0)], axis=1)
    logits += rng.normal(0, 2.0, logits.shape)
    over, calibrated = softmax(3 * logits), softmax(logits)  # logits x 3: overconfident
    a = assert_png(reliability(over, calibrated, labels, tmp_path / "plots/reliability.png"))
    b = assert_png(reliability(over, over, labels, tmp_path / "plots/same.png"))
    assert a != b


def test_bins_are_the_ece_bins():
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.55, 0.45], [0.25, 0.75], [0.58, 0.42]])
    labels = np.array([0, 1, 0, 1, 1])
    conf, acc = bin_accuracy(probs, labels)
    assert conf.shape == acc.shape == (ECE_BINS,)
    filled = np.flatnonzero(~np.isnan(conf))
    assert filled.tolist() == [8, 11, 13, 14]  # (8/15, 9/15] holds 0.55 and 0.58
    assert acc[8] == 0.5 and conf[8] == pytest.approx(0.565) and acc[13] == 0.0 and acc[14] == 1.0
    rows = np.array([2, 1, 1, 1])
    weighted = float(np.sum(rows / 5 * np.abs(acc[filled] - conf[filled])))
    assert weighted == pytest.approx(expected_calibration_error(probs, labels))
