import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.config import PromotionRules
from tasks.core.files import read_json
from tasks.core.records import Predictions, RunDir
from tasks.evaluation.bootstrap import Interval
from tasks.evaluation.gate import baseline_check, fixed_checks
from tasks.evaluation.metric_records import BaselineResult, TestMetrics
from tasks.evaluation.predict import write_scores
from tasks.evaluation.promote import POINTER_NAME, promote_model
from tasks.training.metrics import classification_metrics

LABELS = ("neg", "pos")


def scored(tmp_path, y_true, y_pred, digest="d") -> tuple[TestMetrics, Predictions]:
    """A real scores file and the test metrics computed from it, as the train flow makes them."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    probs = np.eye(len(LABELS))[y_pred] * 0.8 + 0.1
    scores = write_scores(tmp_path / f"scores-{digest}.parquet", np.arange(1, len(y_true) + 1), y_true, probs)
    calibration = {"temperature": 1.0, "ece_bins": 15, "ece_before": 0, "ece_after": 0, "nll_before": 0,
                   "nll_after": 0}
    metrics = TestMetrics.model_validate(classification_metrics(y_true, y_pred, LABELS)
                                         | {"calibration": calibration, "model_digest": digest})
    return metrics, Predictions(path=tmp_path / "p.jsonl", scores=scores, rows=len(y_true), model_digest=digest)


def model_right_on(share: float, y_true: np.ndarray, seed: int = 0) -> np.ndarray:
    wrong = np.random.default_rng(seed).random(len(y_true)) >= share
    return np.where(wrong, 1 - y_true, y_true)


def make_run(tmp_path, name):
    path = tmp_path / "runs" / name
    path.mkdir(parents=True)
    return RunDir(path=path)


DEFAULT_RULES = PromotionRules()


def promote(tmp_path, name, y_true, y_pred, rules=DEFAULT_RULES, baseline=None, digest="d"):
    metrics, predictions = scored(tmp_path, y_true, y_pred, digest)
    return promote_model.fn(make_run(tmp_path, name), metrics, predictions, baseline, tmp_path, rules)


TEST = np.array([0] * 540 + [1] * 460)  # 54 % class 0, like the run the issue reports


def test_a_model_that_predicts_one_class_is_not_promoted_by_default(tmp_path):
    result = promote(tmp_path, "a", TEST, np.zeros_like(TEST))
    assert not result.promoted and not (tmp_path / POINTER_NAME).exists()
    assert "collapsed to one class" in result.reason and "does not beat the majority class" in result.reason
    assert read_json(tmp_path / "runs/a/promotion.json")["checks"][0].startswith("FAIL: the model predicts 'neg'")


def test_a_model_not_clearly_above_the_majority_rate_is_refused_and_a_good_one_promoted(tmp_path):
    weak = promote(tmp_path, "weak", TEST, model_right_on(0.55, TEST))  # ~55 % right: inside the noise
    assert not weak.promoted and "does not beat the majority class clearly" in weak.reason
    good = promote(tmp_path, "good", TEST, model_right_on(0.80, TEST))
    assert good.promoted, good.reason
    assert "beats the majority class" in good.reason and "0.5400" in good.reason
    assert read_json(tmp_path / POINTER_NAME)["run_dir"].endswith("good")


def test_a_test_set_of_one_class_cannot_promote(tmp_path):
    y = np.ones(200, int)
    result = promote(tmp_path, "a", y, y)
    assert not result.promoted and "holds only the class 'pos'" in result.reason


def interval(point, low, high) -> Interval:
    return Interval(point=point, low=low, high=high, resamples=1000, seed=0)


def baseline_beating_by(diff: Interval) -> BaselineResult:
    comparison = {"test": {"rows": 1, "model": {}, "baseline": {}, "difference": {"accuracy": diff.model_dump()}}}
    return BaselineResult.model_validate({
        "model": "tfidf", "C": 1.0, "dev_accuracy": 0.9, "train_rows": 1, "train_rows_total": 1, "seconds": 1.0,
        "test": classification_metrics(np.array([0, 1]), np.array([0, 1]), LABELS), "test_predictions": "x",
        "comparison": comparison})


def test_a_significantly_better_baseline_warns_and_with_the_option_refuses(tmp_path):
    better = baseline_beating_by(interval(-0.08, -0.11, -0.05))
    y_pred = model_right_on(0.8, TEST)
    warned = promote(tmp_path, "a", TEST, y_pred, baseline=better)
    assert warned.promoted and len(warned.warnings) == 1 and "significantly better" in warned.warnings[0]
    refused = promote(tmp_path, "b", TEST, y_pred, PromotionRules(require_baseline=True), baseline=better)
    assert not refused.promoted and "--promote_require_baseline" in refused.reason
    tie = promote(tmp_path, "c", TEST, y_pred, PromotionRules(require_baseline=True),
                  baseline=baseline_beating_by(interval(-0.01, -0.03, 0.01)))
    assert tie.promoted and tie.warnings == []


def test_the_user_thresholds_still_apply(tmp_path):
    y_pred = model_right_on(0.8, TEST)
    low = promote(tmp_path, "a", TEST, y_pred, PromotionRules(min_accuracy=0.9))
    assert not low.promoted and "< --promote_min_accuracy 0.9000" in low.reason
    assert promote(tmp_path, "b", TEST, y_pred, PromotionRules(if_better=True), digest="d1").promoted
    worse = promote(tmp_path, "c", TEST, model_right_on(0.7, TEST), PromotionRules(if_better=True), digest="d2")
    assert not worse.promoted and "the promoted model's" in worse.reason
    assert read_json(tmp_path / POINTER_NAME)["model_digest"] == "d1"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=300), st.data())
def test_the_gate_never_passes_a_model_at_or_below_the_majority_rate(labels, data):
    y_true = np.array(labels)
    y_pred = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(labels), max_size=len(labels))))
    checks = fixed_checks(y_true, y_pred, LABELS)
    majority_rate = np.bincount(y_true, minlength=2).max() / len(y_true)
    if all(c.passed for c in checks):
        assert (y_true == y_pred).mean() > majority_rate and len(set(y_pred)) == 2
    assert not all(c.passed for c in fixed_checks(y_true, np.full_like(y_true, y_pred[0]), LABELS))


@pytest.mark.parametrize("diff,passed,warning", [((-0.1, -0.2, -0.01), True, True), ((0.0, -0.1, 0.1), True, False),
                                                 ((0.1, 0.05, 0.2), True, False)])
def test_baseline_check_warns_only_when_the_interval_is_below_zero(diff, passed, warning):
    check = baseline_check(interval(*diff), required=False)
    assert (check.passed, check.warning) == (passed, warning)
