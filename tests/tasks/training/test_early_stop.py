import pytest

from tasks.training.early_stop import stop_decision


@pytest.mark.parametrize(("scores", "patience", "threshold", "stops_after"), [
    ([0.70, 0.80, 0.79, 0.78, 0.90], 2, 0.0, 4),     # two epochs without a gain after epoch 2
    ([0.70, 0.80, 0.79, 0.81, 0.80], 2, 0.0, None),  # epoch 4 is a gain: the count starts again
    ([0.70, 0.80, 0.805, 0.81, 0.90], 2, 0.01, 4),   # gains below the threshold do not count
    ([0.70, 0.60], 1, 0.0, 2),
    ([0.70, 0.60, 0.50], 0, 0.0, None),              # patience 0: never stop
])
def test_training_stops_where_the_dev_curve_says(scores, patience, threshold, stops_after):
    stopped = [n for n in range(1, len(scores) + 1) if stop_decision(scores[:n], patience, threshold)]
    assert (stopped[0] if stopped else None) == stops_after


def test_the_reason_names_the_epoch_and_the_best_score():
    reason = stop_decision([0.5, 0.9, 0.8, 0.7], 2)
    assert "after epoch 4" in reason and "since epoch 2 (0.9000)" in reason and "patience 2" in reason
