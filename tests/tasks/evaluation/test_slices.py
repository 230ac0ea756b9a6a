"""tasks/evaluation/slices.py: test metrics on texts that fit the length limit and on texts over it."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from tasks.core.files import read_json
from tasks.core.records import TokenizedSplit
from tasks.evaluation.metric_records import TestMetrics
from tasks.evaluation.predict import read_scores, write_scores
from tasks.evaluation.report import report_test
from tasks.evaluation.report_markdown import length_section, test_section
from tasks.evaluation.slices import length_slices
from tests.tasks.evaluation.test_report import scored_run


def tokenized(path, lines, truncated) -> TokenizedSplit:
    """A tokenized test split of the given rows, columns as tasks/tokens/cache.py writes them (ids made up)."""
    n = len(lines)
    pq.write_table(pa.table({"row": pa.array(range(n), pa.int32()), "line": pa.array(lines, pa.int32()),
                             "input_ids": pa.array([[101, 102]] * n, pa.list_(pa.int32())),
                             "length": pa.array([2] * n, pa.int32()), "label_id": pa.array([0] * n, pa.int32()),
                             "truncated": pa.array(truncated, pa.bool_())}), path)
    return TokenizedSplit(split="test", parquet=path, cache_key="k", cache_hit=False, rows=n,
                          truncated=int(np.sum(truncated)))


def rescored(predictions, y_pred) -> None:
    """Overwrite the run's scores so that the model predicts ``y_pred``."""
    lines, y_true, _, probs = read_scores(predictions.scores)
    write_scores(predictions.scores, lines, y_true, np.eye(probs.shape[1])[y_pred])


def expected(y_true, y_pred) -> tuple[float, float]:
    """Accuracy and macro-F1 straight from scikit-learn, over the classes the rows hold (its default)."""
    return accuracy_score(y_true, y_pred), f1_score(y_true, y_pred, average="macro", zero_division=0)


def test_slices_match_sklearn_and_show_long_texts_as_the_weak_spot():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 3, 400)
    long = np.arange(400) % 5 == 0  # 80 long texts
    # Right on 95 % of the texts that fit, on 55 % of the long ones.
    right = np.where(long, rng.random(400) < 0.55, rng.random(400) < 0.95)
    y_pred = np.where(right, y_true, (y_true + 1) % 3)
    slices = length_slices(y_true, y_pred, long, "cut")
    assert slices.long_texts == "cut" and (slices.fit.rows, slices.long.rows, slices.rows) == (320, 80, 400)
    for part, rows in ((slices.fit, ~long), (slices.long, long)):
        accuracy, macro_f1 = expected(y_true[rows], y_pred[rows])
        assert part.accuracy == pytest.approx(accuracy) and part.macro_f1 == pytest.approx(macro_f1)
        for name, point in (("accuracy", accuracy), ("macro_f1", macro_f1)):
            interval = part.intervals[name]
            assert interval.point == pytest.approx(point) and interval.low < point < interval.high
    assert slices.long.intervals["accuracy"].high < slices.fit.intervals["accuracy"].low  # clearly worse
    assert slices.long.macro_f1 < slices.fit.macro_f1


def test_a_slices_macro_f1_averages_over_the_classes_it_holds():
    y_true, y_pred = np.array([0, 1, 2, 3, 0, 0, 2]), np.array([0, 1, 2, 3, 0, 1, 2])
    long = np.array([0, 0, 0, 0, 1, 1, 1], bool)  # classes 0 and 2 as labels, 1 as a prediction; never 3
    slices = length_slices(y_true, y_pred, long, "window")
    assert slices.long_texts == "windowed"
    assert slices.long.macro_f1 == pytest.approx((2 / 3 + 0 + 1) / 3)  # classes 0, 1, 2: 3 adds no zero
    assert slices.long.macro_f1 == pytest.approx(expected(y_true[long], y_pred[long])[1])
    assert slices.long.intervals["macro_f1"].low <= slices.long.macro_f1 <= slices.long.intervals["macro_f1"].high
    right = length_slices(y_true[:4], y_pred[:4], np.array([1, 0, 0, 0], bool), "cut")
    assert right.long.rows == 1 and right.long.macro_f1 == 1.0  # one text, right: not 1/4 for four classes


def test_a_slice_without_rows_is_none_and_an_unknown_mode_is_refused():
    y = np.array([0, 1, 1])
    slices = length_slices(y, y, np.zeros(3, bool), "cut")
    assert slices.long is None and slices.fit.rows == 3 and slices.fit.accuracy == 1.0
    every_long = length_slices(y, y, np.ones(3, bool), "cut")
    assert every_long.fit is None and "| fit the length limit | 0 | n/a | n/a |" in length_section(every_long)
    assert length_section(slices) == "" and length_section(None) == ""
    with pytest.raises(ValueError, match="'truncate'"):
        length_slices(y, y, np.zeros(3, bool), "truncate")
    with pytest.raises(ValueError, match="2 length flags"):
        length_slices(y, y, np.zeros(2, bool), "cut")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()), min_size=1, max_size=60))
def test_slices_partition_the_rows_and_average_to_the_whole_accuracy(rows):
    y_true, y_pred, long = (np.array(column) for column in zip(*rows, strict=True))
    slices = length_slices(y_true, y_pred, long.astype(bool), "cut", resamples=20)
    parts = [s for s in (slices.fit, slices.long) if s is not None]
    assert sum(s.rows for s in parts) == len(rows) == slices.rows
    assert sum(s.rows * s.accuracy for s in parts) / len(rows) == pytest.approx(accuracy_score(y_true, y_pred))
    assert (slices.long is None) == (not long.any()) and (slices.fit is None) == bool(long.all())


def test_the_report_gives_long_texts_their_own_metrics(tmp_path):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=0)
    lines, y_true, _, _ = read_scores(predictions.scores)
    long = np.arange(len(lines)) % 4 == 0
    y_pred = np.where(long & (np.arange(len(lines)) % 8 == 0), 1 - y_true, y_true)  # wrong on half the long texts
    y_pred[1] = 1 - y_true[1]  # and on one text that fits
    rescored(predictions, y_pred)
    result = report_test.fn(predictions, data, run, model_dir, tokenized(tmp_path / "test.parquet", lines, long))
    slices = result.length_slices
    assert (slices.fit.rows, slices.long.rows) == ((~long).sum(), long.sum()) == (72, 24)
    assert (slices.long.accuracy, slices.long.macro_f1) == pytest.approx(expected(y_true[long], y_pred[long]))
    assert (slices.fit.accuracy, slices.fit.macro_f1) == pytest.approx(expected(y_true[~long], y_pred[~long]))
    saved = read_json(run.file("metrics.json"))
    assert saved["length_slices"]["long"]["rows"] == 24 and saved["length_slices"]["long_texts"] == "cut"
    assert saved["length_slices"]["long"]["intervals"]["macro_f1"]["point"] == pytest.approx(slices.long.macro_f1)
    assert TestMetrics.model_validate(saved) == result
    markdown = test_section(result)
    assert "Texts over the length limit (`max_seq_length` tokens): 24 of 96 test rows, cut to the limit." in markdown
    assert f"| over it, cut | 24 | {slices.long.intervals['accuracy'].text()} |" in markdown
    assert f"| fit the length limit | 72 | {slices.fit.intervals['accuracy'].text()} |" in markdown


def test_windowed_long_texts_are_named_so(tmp_path):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=0)
    lines = read_scores(predictions.scores)[0]
    windowed = predictions.model_copy(update={"long_texts": "window", "windowed_rows": 1, "windows": 3})
    result = report_test.fn(windowed, data, run, model_dir,
                            tokenized(tmp_path / "test.parquet", lines, np.arange(len(lines)) == 5))
    assert result.length_slices.long_texts == "windowed" and result.length_slices.long.rows == 1
    assert "1 of 96 test rows, scored as several windows" in test_section(result)
    assert "| over it, windowed | 1 |" in test_section(result)


def test_without_long_texts_the_report_has_no_slice_section(tmp_path):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=0)
    lines = read_scores(predictions.scores)[0]
    result = report_test.fn(predictions, data, run, model_dir,
                            tokenized(tmp_path / "test.parquet", lines, np.zeros(len(lines), bool)))
    assert result.length_slices.long is None and result.length_slices.fit.rows == result.rows
    saved = read_json(run.file("metrics.json"))
    assert "long" not in saved["length_slices"] and saved["length_slices"]["fit"]["accuracy"] == 1.0
    assert "length limit" not in test_section(result)
    without = report_test.fn(predictions, data, run, model_dir)  # the flow not passing the split: no slices at all
    assert without.length_slices is None and "length_slices" not in read_json(run.file("metrics.json"))


@pytest.mark.parametrize("change", ["reversed", "shorter"])
def test_a_tokenized_split_of_other_rows_is_refused_naming_both_files(tmp_path, change):
    predictions, data, run, model_dir = scored_run(tmp_path, leaked=0)
    lines = read_scores(predictions.scores)[0]
    other = lines[::-1] if change == "reversed" else lines[:-1]
    tokens = tokenized(tmp_path / "test.parquet", other, np.zeros(len(other), bool))
    with pytest.raises(RuntimeError, match="different test rows") as error:
        report_test.fn(predictions, data, run, model_dir, tokens)
    assert str(tokens.parquet) in str(error.value) and str(predictions.scores) in str(error.value)
