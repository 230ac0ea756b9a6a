"""tasks/scoring/state.py: a file is skipped only for the same input, model and every output-shaping option."""

import json
import logging
from pathlib import Path

import pytest
import torch

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tasks.scoring.files import OutputPaths
from tasks.scoring.score import score_file
from tasks.scoring.state import scoring_options
from tasks.training.precision import inference_precision
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LabelSet(names=("0", "1"), kind="int"),
                                texts)


def test_a_wrong_text_field_then_the_right_one_scores_again_and_the_log_says_why(tmp_path, model_dir, caplog):
    rows = [{"id": i, "text": r["news"]} for i, r in enumerate(learnable_rows([0, 1], 12, seed=4))]
    source = write_jsonl(tmp_path / "in/part.jsonl", rows)
    out = tmp_path / "out"
    wrong = score_file.fn(source, model_dir, ScoreConfig(output_dir=out))  # the default field is "news"
    assert (wrong.status, wrong.rows_scored, wrong.rows_rejected) == ("scored", 0, 12)
    caplog.set_level(logging.INFO, logger="pipeline")
    right = score_file.fn(source, model_dir, ScoreConfig(output_dir=out, text_field="text"))
    assert (right.status, right.rows_scored, right.rows_rejected, right.warning) == ("scored", 12, 0, None)
    assert "scoring options changed: text_field 'news' -> 'text'" in caplog.text
    paths = OutputPaths.of(source, out)
    assert len(paths.predictions.read_text(encoding="utf-8").splitlines()) == 12
    assert not paths.rejects.exists() and read_json(paths.manifest)["options"]["text_field"] == "text"
    caplog.clear()
    again = score_file.fn(source, model_dir, ScoreConfig(output_dir=out, text_field="text"))
    assert again.status == "skipped" and again.rows_scored == 12
    assert "skipped, already scored with model" in caplog.text


@pytest.mark.parametrize(("option", "value"), [("batch_size", 7), ("chunk_rows", 5), ("max_batch_tokens", 300)])
def test_every_option_that_shapes_the_bytes_is_part_of_done(tmp_path, model_dir, option, value):
    source = write_jsonl(tmp_path / "part.jsonl", learnable_rows([0, 1], 10, seed=5))
    base = ScoreConfig(output_dir=tmp_path / "out", precision="fp32")
    score_file.fn(source, model_dir, base)
    assert score_file.fn(source, model_dir, base).status == "skipped"
    assert score_file.fn(source, model_dir, base.model_copy(update={option: value})).status == "scored"


def test_precision_is_recorded_as_the_dtype_it_resolves_to_on_this_machine(model_dir, tmp_path):
    assert scoring_options(ScoreConfig(precision="fp32", artifacts_dir=tmp_path), model_dir)["dtype"] == "float32"
    auto = scoring_options(ScoreConfig(precision="auto", artifacts_dir=tmp_path), model_dir)["dtype"]
    resolved = inference_precision(model_dir, torch.device("cpu"), "auto", tmp_path)  # what the train flow uses
    assert auto == {"bf16": "bfloat16", "fp32": "float32"}[resolved]


def test_a_manifest_without_options_from_an_older_version_is_redone(tmp_path, model_dir, caplog):
    source = write_jsonl(tmp_path / "part.jsonl", learnable_rows([0, 1], 10, seed=6))
    config = ScoreConfig(output_dir=tmp_path / "out")
    score_file.fn(source, model_dir, config)
    manifest = OutputPaths.of(source, tmp_path / "out").manifest
    old = read_json(manifest)
    del old["options"]
    manifest.write_text(json.dumps(old), encoding="utf-8")
    caplog.set_level(logging.INFO, logger="pipeline")
    assert score_file.fn(source, model_dir, config).status == "scored"
    assert "an older version that did not record its options" in caplog.text
