import numpy as np
import pytest

from tasks.evaluation.calibration import expected_calibration_error, fit_temperature, nll, rescale
from tasks.training.inference import softmax


def test_fit_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(20000, 3))
    true_t = 2.5
    labels = np.array([rng.choice(3, p=p) for p in softmax(logits / true_t)])
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.05)


def test_scaling_lowers_nll_and_ece_of_an_overconfident_model_without_changing_any_label():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 6, size=(5000, 2))
    labels = np.array([rng.choice(2, p=p) for p in softmax(logits / 3.0)])
    t = fit_temperature(logits, labels)
    before, after = softmax(logits), softmax(logits / t)
    assert (before.argmax(1) == after.argmax(1)).all()  # accuracy cannot move
    assert nll(after, labels) < nll(before, labels)
    assert expected_calibration_error(after, labels) < expected_calibration_error(before, labels) / 2


def test_ece_is_zero_when_confidence_matches_accuracy_and_rescale_inverts_scaling():
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    logits = np.array([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(rescale(softmax(logits / 2.0), 2.0), softmax(logits), rtol=1e-6)
