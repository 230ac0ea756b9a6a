"""tasks/evaluation/report.py: what the report says about the model."""

import json
import logging

import numpy as np

from tasks.core.config import TrainConfig
from tasks.core.files import read_json
from tasks.core.records import LabelSet, Predictions, RunDir, TrainResult
from tasks.data.row_store import label_ids, read_columns
from tasks.data.validate import validate_splits
from tasks.evaluation.metric_records import NO_FRESH_ROWS, TestMetrics
from tasks.evaluation.predict import write_scores
from tasks.evaluation.report import model_note, report_test
from tasks.evaluation.report_markdown import test_section
from tests.builders import learnable_rows, write_learnable
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


def scored_run(tmp_path, leaked: int):
    """Validated data whose test file holds ``leaked`` training texts (all of them: the train file itself), with
    the written scores of a model that is right on every row, and a model directory to read the temperature from."""
    paths = write_learnable(tmp_path / "d", [0, 1])
    train_rows = paths["train"].read_text(encoding="utf-8").splitlines()
    test_rows = [] if leaked >= len(train_rows) else paths["test"].read_text(encoding="utf-8").splitlines()
    paths["test"].write_text("\n".join(train_rows[:leaked] + test_rows) + "\n", encoding="utf-8")
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir()
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    test = data.splits["test"]
    kept = read_columns(test.rows_file, ["line", "label"], test.excluded_lines)
    y_true = label_ids(kept.column("label"), data.labels)
    scores = write_scores(run.file("predictions/test.scores.parquet"), kept.column("line").to_numpy(), y_true,
                          np.eye(len(data.labels.names))[np.asarray(y_true)])
    predictions = Predictions(path=run.file("predictions/test.jsonl"), scores=scores, rows=kept.num_rows,
                              model_digest="x")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}", encoding="utf-8")
    return predictions, data, run, model_dir


def test_a_test_file_equal_to_train_reports_the_leakage_free_metrics_as_not_available(tmp_path, caplog):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=10**9)
    assert data.quality["test"].leaked_lines and data.splits["test"].valid_rows == predictions.rows
    with caplog.at_level(logging.INFO, logger="pipeline"):
        result = report_test.fn(predictions, data, run, model_dir)  # used to fail inside scikit-learn
    assert result.every_row_leaked and result.leakage_free is None and result.leaked_rows == result.rows
    saved = read_json(run.file("metrics.json"))
    assert "leakage_free" in saved and saved["leakage_free"] is None and saved["leaked_rows"] == result.rows
    assert TestMetrics.model_validate(saved) == result
    assert f"leakage-free metrics {NO_FRESH_ROWS}" in caplog.text
    assert NO_FRESH_ROWS == "n/a — every test text also occurs in train" and NO_FRESH_ROWS in test_section(result)


def test_partly_leaked_test_rows_get_their_metrics_again_on_the_rest(tmp_path):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=30)
    result = report_test.fn(predictions, data, run, model_dir)
    assert (result.rows, result.leaked_rows, result.leakage_free.rows) == (126, 30, 96)
    assert not result.every_row_leaked and "n/a" not in test_section(result)
    assert "On the 96 test rows whose text does not occur in train" in test_section(result)
    assert read_json(run.file("metrics.json"))["leakage_free"]["rows"] == 96


def test_without_leakage_metrics_json_has_no_leakage_free_entry(tmp_path):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=0)
    result = report_test.fn(predictions, data, run, model_dir)
    assert result.leaked_rows == 0 and "leakage_free" not in read_json(run.file("metrics.json"))
    assert "does not occur in train" not in test_section(result)
