"""Scoring texts over the model's limit: the truncation a model was trained with is the default, changing it
re-scores, and windows give one row per input row whose probabilities are the mean of its windows'."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tasks.core.truncation import Truncation
from tasks.scoring.files import OutputPaths
from tasks.scoring.score import score_file
from tasks.tokens.batching import from_token_lists
from tasks.tokens.truncation import encode_truncated, long_text_windows
from tasks.training.inference import predict_logits, softmax
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier

LABELS = LabelSet(names=("neg", "pos"), kind="str")
HEAD_TAIL = Truncation(mode="head_tail", head_tokens=10)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The same weights saved twice: as trained with head (the default) and as trained with head_tail."""
    texts = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]
    root = tmp_path_factory.mktemp("models")
    return {"head": save_tiny_classifier(root / "head", LABELS, texts),
            "head_tail": save_tiny_classifier(root / "head_tail", LABELS, texts, truncation=HEAD_TAIL)}


def long_input(path: Path) -> tuple[Path, list[str]]:
    """Short texts and texts of several hundred tokens (the tiny model takes 64), a bad row and a blank line."""
    short = [r["news"] for r in learnable_rows([0, 1], 12, seed=5)]
    texts = [*short[:6], " ".join(short) * 3, *short[6:], "".join(short[::-1]) * 2]
    lines = [json.dumps({"id": i, "news": t}, ensure_ascii=False) for i, t in enumerate(texts)]
    lines[2:2] = ["{not json", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, texts


def score(source: Path, model: Path, out: Path, **options):
    result = score_file.fn(source, model, ScoreConfig(output_dir=out, **options))
    paths = OutputPaths.of(source, out)
    rows = [json.loads(line) for line in paths.predictions.read_text(encoding="utf-8").splitlines()]
    return result, rows, read_json(paths.manifest)


def test_changing_truncation_rescores_and_leaves_texts_that_fit_unchanged(tmp_path, models):
    source, texts = long_input(tmp_path / "news.jsonl")
    first, head_rows, manifest = score(source, models["head"], tmp_path / "out")
    assert first.status == "scored" and manifest["options"]["truncation"] == {"mode": "head", "head_tokens": None}
    assert score(source, models["head"], tmp_path / "out")[0].status == "skipped"
    again, tail_rows, manifest = score(source, models["head"], tmp_path / "out", truncation="tail")
    assert again.status == "scored" and manifest["options"]["truncation"]["mode"] == "tail"
    assert manifest["rows_truncated"] == 2 and manifest["rows_windowed"] == 0
    fits = [len(ids) < 64 for ids in encode_truncated(texts, *tokenizer_of(models["head"]), Truncation())[0]]
    assert [h for h, f in zip(head_rows, fits, strict=True) if f] == [t for t, f in zip(tail_rows, fits, strict=True)
                                                                       if f]
    assert [h["probs"] for h, f in zip(head_rows, fits, strict=True) if not f] != \
           [t["probs"] for t, f in zip(tail_rows, fits, strict=True) if not f]


def tokenizer_of(model: Path):
    from tasks.training.model import load_classifier

    return load_classifier(model)[1], 64


def test_a_model_trained_with_head_tail_is_scored_with_head_tail_by_default(tmp_path, models):
    source, _ = long_input(tmp_path / "news.jsonl")
    _, default_rows, manifest = score(source, models["head_tail"], tmp_path / "a")
    assert manifest["options"]["truncation"] == HEAD_TAIL.model_dump()
    _, told_rows, _ = score(source, models["head"], tmp_path / "b", truncation="head_tail", head_tokens=10)
    assert default_rows == told_rows  # the same weights told head_tail: the same bytes
    _, head_rows, _ = score(source, models["head_tail"], tmp_path / "c", truncation="head")
    assert head_rows != default_rows


def test_windows_score_each_row_once_with_the_mean_of_its_windows(tmp_path, models):
    from tasks.training.model import load_classifier

    source, texts = long_input(tmp_path / "news.jsonl")
    _, rows, manifest = score(source, models["head"], tmp_path / "out", long_texts="window", window_stride=20)
    assert manifest["rows_in"] == len(texts) + 2 == manifest["rows_scored"] + manifest["rows_rejected"] + \
        manifest["blank_lines"]
    assert [r["id"] for r in rows] == list(range(len(texts)))
    model, tokenizer, _ = load_classifier(models["head"])
    _, over = encode_truncated(texts, tokenizer, 64, Truncation())
    long = [t for t, cut in zip(texts, over, strict=True) if cut]
    windows = long_text_windows(long, tokenizer, 64, 20)
    assert manifest["rows_windowed"] == len(long) == 2 and manifest["windows"] == sum(map(len, windows)) > 4
    for text, text_windows in zip(long, windows, strict=True):
        probs = softmax(predict_logits(model, from_token_lists(text_windows), 64, tokenizer.pad_token_id,
                                       torch.device("cpu"), None)).mean(axis=0)
        row = rows[texts.index(text)]
        assert np.allclose([row["probs"][name] for name in LABELS.names], probs, atol=1e-5)
    assert score(source, models["head"], tmp_path / "out", long_texts="window", window_stride=20)[0].status == \
        "skipped"
    assert score(source, models["head"], tmp_path / "out", long_texts="window")[0].status == "scored"
