import json

import numpy as np
import pytest
import torch

from tasks.core.config import ScratchModel, TrainConfig
from tasks.core.device import autocast_dtype, pick_device
from tasks.core.records import ModelSource, RunDir
from tasks.data.validate import validate_splits
from tasks.evaluation.selection import select_model
from tasks.tokens.batching import load_tokenized
from tasks.training.finetune import fine_tune
from tasks.training.inference import predict_logits
from tasks.training.model import load_classifier, saved_temperature, weights_digest
from tasks.training.steps import param_groups
from tests.builders import learnable_rows, write_jsonl, write_learnable
from tests.pipeline import tokenize_all

TINY = ScratchModel(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=120)


def config(tmp_path, **overrides):
    base = {"scratch": TINY, "num_train_epochs": 4, "batch_size": 16, "learning_rate": 3e-3,
            "max_seq_length": 32, "data_dir": tmp_path / "data", "output_dir": tmp_path / "artifacts"}
    return TrainConfig(**(base | overrides)).resolved()


def run_fine_tune(tmp_path, paths, cfg):
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir(parents=True)
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    tok, tokenized = tokenize_all(data, cfg, ModelSource(name_or_path=None))
    trained = fine_tune.fn(tokenized["train"], tokenized["dev"], ModelSource(name_or_path=None), tok, data.labels,
                           cfg, run, cfg.settings()[0])
    result = select_model.fn([trained], tokenized["dev"], cfg, run)
    return run, tokenized, result


def test_no_weight_decay_for_biases_and_layer_norms():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    decay, no_decay = param_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 4])]
    assert len(no_decay["params"]) == 3  # linear bias, norm weight, norm bias


def test_saved_model_is_the_best_dev_epoch_not_the_last(tmp_path):
    """Dev labels are the opposite of the learnable rule, so dev accuracy falls as training succeeds:
    the best dev epoch is an early one, and the saved weights must be that epoch's."""
    paths = write_learnable(tmp_path / "d", [0, 1])
    flipped = [{"news": r["news"], "label": 1 - r["label"]} for r in learnable_rows([0, 1], 96, seed=2)]
    paths["dev"] = write_jsonl(tmp_path / "d" / "flipped_dev.jsonl", flipped)
    cfg = config(tmp_path)
    run, tokenized, result = run_fine_tune(tmp_path, paths, cfg)

    epochs = result.epochs
    assert len(epochs) == 4 and result.best_epoch < 4
    assert epochs[-1].dev_accuracy < epochs[result.best_epoch - 1].dev_accuracy or result.best_epoch == 1
    assert [e.selected for e in epochs].count(True) == 1 and epochs[result.best_epoch - 1].selected
    saved, tokenizer, _ = load_classifier(result.model_dir)
    assert weights_digest(saved) == epochs[result.best_epoch - 1].weights_digest
    assert weights_digest(saved) != epochs[-1].weights_digest
    dev = load_tokenized(tokenized["dev"].parquet)
    device = pick_device("cpu")
    logits = predict_logits(saved, dev, 64, tokenizer.pad_token_id, device, autocast_dtype(device, "fp32"))
    assert float((logits.argmax(1) == dev.labels).mean()) == pytest.approx(result.best_dev_metric)
    on_disk = json.loads(run.file("epochs.json").read_text())
    assert [e["epoch"] for e in on_disk if e["selected"]] == [result.best_epoch]


def test_training_learns_a_learnable_rule_and_is_reproducible(tmp_path):
    paths = write_learnable(tmp_path / "d", [0, 1])
    # Separate data dirs: the second run trains its own vocabulary and tokenizes again from nothing.
    _, _, first = run_fine_tune(tmp_path / "a", paths, config(tmp_path / "a"))
    _, _, second = run_fine_tune(tmp_path / "b", paths, config(tmp_path / "b"))
    assert first.best_dev_metric >= 0.9
    assert first.dev_nll[1] <= first.dev_nll[0] and first.temperature != 1.0  # calibrated on dev
    assert saved_temperature(first.model_dir) == first.temperature
    assert first.epochs[-1].train_loss < first.epochs[0].train_loss
    assert [e.weights_digest for e in first.epochs] == [e.weights_digest for e in second.epochs]
    assert np.isclose(first.epochs[0].learning_rate, second.epochs[0].learning_rate)
