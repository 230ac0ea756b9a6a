import numpy as np

from tasks.core.files import read_json
from tasks.core.records import RunDir
from tasks.evaluation.metric_records import TestMetrics
from tasks.evaluation.promote import POINTER_NAME, gate, promote_model
from tasks.training.metrics import classification_metrics


def scored(accuracy: float) -> TestMetrics:
    """Test metrics of a model right on ``accuracy`` of 10 rows."""
    right = round(accuracy * 10)
    computed = classification_metrics(np.ones(10, int), np.array([1] * right + [0] * (10 - right)), ("0", "1"))
    calibration = {"temperature": 1.0, "ece_bins": 15, "ece_before": 0, "ece_after": 0, "nll_before": 0,
                   "nll_after": 0}
    return TestMetrics.model_validate(computed | {"calibration": calibration, "model_digest": "x"})


def make_run(tmp_path, name):
    path = tmp_path / "runs" / name
    path.mkdir(parents=True)
    return RunDir(path=path)


def test_gate_refuses_below_the_minimum():
    ok, why = gate(0.80, 0.85, False, None)
    assert not ok and "below --promote_min_accuracy" in why


def test_gate_compares_with_the_promoted_model_only_when_asked():
    current = {"test_accuracy": 0.9, "model_dir": "/m"}
    assert gate(0.85, 0.0, False, current)[0]
    ok, why = gate(0.85, 0.0, True, current)
    assert not ok and "0.9000" in why
    assert gate(0.90, 0.0, True, current)[0]


def test_promote_writes_the_pointer_and_keeps_it_when_the_next_run_is_worse(tmp_path):
    first = make_run(tmp_path, "a")
    result = promote_model.fn(first, scored(0.9), "d1", tmp_path, 0.5, True)
    assert result.promoted
    assert read_json(tmp_path / POINTER_NAME)["model_dir"] == str(first.model_dir.resolve())
    second = make_run(tmp_path, "b")
    result = promote_model.fn(second, scored(0.8), "d2", tmp_path, 0.5, True)
    assert not result.promoted
    assert read_json(tmp_path / POINTER_NAME)["model_digest"] == "d1"
    assert read_json(second.file("promotion.json"))["promoted"] is False
