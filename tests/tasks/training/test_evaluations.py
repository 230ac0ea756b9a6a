"""When dev is evaluated, and how evaluations are told apart from epochs, from the options and the records alone."""

from tasks.core.config import TrainConfig
from tasks.core.records import EpochRecord
from tasks.training.evaluations import by_step, eval_due, selected_name, should_stop


def record(epoch: int, step: int, accuracy: float = 0.5) -> EpochRecord:
    return EpochRecord(epoch=epoch, step=step, train_loss=0.1, dev_accuracy=accuracy, dev_macro_f1=accuracy,
                       learning_rate=1e-3, seconds=1.0, texts_per_second=1.0, weights_digest="d")


def test_dev_is_evaluated_every_n_steps_across_epochs_and_at_the_last_step():
    # 3 epochs of 30 steps: every 7 steps, wherever the epochs end, and the last step.
    every_7 = TrainConfig(eval_steps=7)
    assert [s for s in range(1, 91) if eval_due(every_7, s, 90, s % 30 == 0)] == [*range(7, 90, 7), 90]
    by_epoch = TrainConfig()
    assert [s for s in range(1, 91) if eval_due(by_epoch, s, 90, s % 30 == 0)] == [30, 60, 90]


def test_records_at_the_epochs_ends_are_shown_per_epoch_and_any_others_per_step():
    assert not by_step([record(1, 30), record(2, 60), record(3, 90)])
    assert not by_step([])
    assert by_step([record(1, 7), record(1, 14), record(1, 21), record(1, 28), record(2, 30)])
    assert by_step([record(2, 40), record(3, 60)])  # every 40 steps of 30-step epochs
    assert selected_name([record(1, 7), record(1, 14)], 1, 14) == "step 14 (epoch 1)"
    assert selected_name([record(1, 30), record(2, 60)], 2, 60) == "epoch 2"


def test_with_eval_steps_patience_counts_evaluations_and_the_reason_names_steps():
    cfg = TrainConfig(eval_steps=500, early_stopping_patience=2)
    records = [record(1, 500, 0.5), record(1, 1000, 0.9), record(2, 1500, 0.8), record(2, 1750, 0.7)]
    assert should_stop(cfg, records[:3]) is None
    reason = should_stop(cfg, records)
    assert "after step 1750" in reason and "for 2 evaluation(s) since step 1000 (0.9000)" in reason
    by_epoch = TrainConfig(early_stopping_patience=2)
    assert "after epoch 4" in should_stop(by_epoch, records)
