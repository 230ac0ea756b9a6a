import pickle

import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from tasks.core.config import TrainConfig
from tasks.core.records import EpochRecord, LabelSet, ModelSource, TokenizedSplit, TokenizerRecord
from tasks.training.checkpoint import CheckpointError, Position, checkpoint_dir, load_state, read_progress, save_state


def trained_pieces(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = get_linear_schedule_with_warmup(optimizer, 2, 10)
    for _ in range(3):
        model(torch.randn(5, 4)).sum().backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


RECORD = EpochRecord(epoch=1, train_loss=0.5, dev_accuracy=0.9, dev_macro_f1=0.9, learning_rate=1e-3, seconds=1.0,
                     texts_per_second=10.0, weights_digest="d", selected=True)


def test_state_round_trips_weights_optimizer_and_scheduler(tmp_path):
    model, optimizer, scheduler = trained_pieces(0)
    save_state(tmp_path, model, optimizer, scheduler, 1, 0.9, 1, [RECORD])

    fresh_model, fresh_opt, fresh_sched = trained_pieces(1)
    resumed = load_state(tmp_path, fresh_model, fresh_opt, fresh_sched)
    assert (resumed.epoch, resumed.best, resumed.best_epoch, resumed.epochs) == (1, 0.9, 1, [RECORD])
    for a, b in zip(model.state_dict().values(), fresh_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    state, fresh_state = optimizer.state_dict()["state"], fresh_opt.state_dict()["state"]
    torch.testing.assert_close(fresh_state[0]["exp_avg"], state[0]["exp_avg"])
    assert fresh_sched.get_last_lr() == scheduler.get_last_lr()
    # No RNG state travels: every step seeds dropout from (seed, epoch, batch, rank) (tasks/training/loop.py).


def test_no_checkpoint_means_start_from_scratch(tmp_path):
    assert load_state(tmp_path, *trained_pieces(0)) is None


class Payload:
    def __reduce__(self):
        import os

        return os.system, ("touch PWNED",)


def test_a_pickle_payload_planted_as_a_checkpoint_is_refused_unrun(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, optimizer, scheduler = trained_pieces(0)
    save_state(tmp_path / "ckpt", model, optimizer, scheduler, 1, 0.9, 1, [RECORD])
    with open(tmp_path / "ckpt/last/state.pt", "wb") as fh:
        pickle.dump({"optimizer": Payload()}, fh)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_state(tmp_path / "ckpt", model, optimizer, scheduler)
    assert not (tmp_path / "PWNED").exists()


def test_progress_is_read_without_loading_weights(tmp_path):
    assert read_progress(tmp_path) is None
    save_state(tmp_path, *trained_pieces(0), 2, 0.9, 1, [RECORD, RECORD.model_copy(update={"epoch": 2})])
    progress = read_progress(tmp_path)
    assert (progress.epoch, progress.best_epoch, [e.epoch for e in progress.epochs]) == (2, 1, [1, 2])


def test_a_mid_epoch_position_round_trips_with_the_state(tmp_path):
    position = Position(step=37, best_step=30, loss=12.345678901234567, rows=112, seconds=3.5)
    save_state(tmp_path, *trained_pieces(0), 1, 0.9, 1, [RECORD], position)
    assert read_progress(tmp_path).position == position
    save_state(tmp_path, *trained_pieces(0), 1, 0.9, 1, [RECORD])  # pre-training saves no position
    assert read_progress(tmp_path).position is None


def test_the_key_ignores_when_checkpoints_are_written_but_not_when_dev_is_evaluated(tmp_path):
    def key(**options):
        cfg = TrainConfig(output_dir=tmp_path, **options).resolved()
        split = TokenizedSplit(split="train", parquet=tmp_path / "t.parquet", cache_key="k", cache_hit=False, rows=1)
        tok = TokenizerRecord(path="t", fingerprint="f", trained_here=True)
        labels = LabelSet(names=("0", "1"), kind="int")
        return checkpoint_dir(cfg, cfg.settings()[0], split, split, tok, ModelSource(name_or_path=None), labels)

    assert key() == key(save_steps=50) == key(save_minutes=0) == key(save_minutes=1.5)
    assert key() != key(eval_steps=100)  # it changes which weights are selected
