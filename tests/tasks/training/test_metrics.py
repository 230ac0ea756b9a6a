import numpy as np
import pytest
from sklearn.metrics import f1_score

from tasks.training.metrics import classification_metrics


def test_binary_metrics_by_hand():
    # true 0 0 1 1, predicted 0 1 1 1: class 0 P=1 R=.5, class 1 P=2/3 R=1
    m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ("0", "1"))
    assert m["rows"] == 4
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["per_class"]["0"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["per_class"]["1"]["precision"] == pytest.approx(2 / 3)
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["confusion_matrix"] == {"labels": ["0", "1"], "matrix": [[1, 1], [0, 2]]}


def test_a_class_never_predicted_still_has_a_row_and_zero_scores():
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 1, 1, 1, 1])
    m = classification_metrics(y_true, y_pred, ("neg", "neu", "pos"))
    assert m["per_class"]["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert m["weighted"]["f1"] == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert np.array(m["confusion_matrix"]["matrix"]).sum() == 5
