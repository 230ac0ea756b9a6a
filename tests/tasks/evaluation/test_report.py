"""tasks/evaluation/report.py: what the report says about the model."""

import json

from tasks.core.config import TrainConfig
from tasks.core.records import LabelSet, TrainResult
from tasks.evaluation.report import model_note
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier


def test_the_report_gives_the_trained_vocabularys_real_size_not_the_option(tmp_path):
    texts = [r["news"] for r in learnable_rows([0, 1], 50, seed=1)]  # ~60 distinct characters: fewer than asked
    model_dir = save_tiny_classifier(tmp_path / "model", LabelSet(names=("0", "1"), kind="int"), texts)
    real = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    train = TrainResult(model_dir=model_dir, best_epoch=1, best_dev_metric=0.5, selection_metric="accuracy",
                        epochs=())
    note = model_note(TrainConfig(), train)
    assert real != TrainConfig().scratch.vocab_size
    assert f"WordPiece vocabulary of {real:,} tokens" in note and "at most 8,000 asked" in note
