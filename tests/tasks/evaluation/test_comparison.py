import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.core.files import read_json
from tasks.core.records import Predictions, RunDir, TokenizedSplit
from tasks.data.row_store import label_ids, read_columns
from tasks.data.validate import validate_splits
from tasks.evaluation.baseline import train_baseline
from tasks.evaluation.bootstrap import Interval
from tasks.evaluation.comparison import baseline_rows, compare_with_baseline
from tasks.evaluation.metric_records import NO_FRESH_ROWS
from tasks.evaluation.predict import write_scores
from tasks.evaluation.report import report_test
from tasks.evaluation.report_markdown import comparison_section, verdict
from tests.builders import write_learnable


@pytest.fixture
def leaky_run(tmp_path):
    """Validated data whose test file starts with 30 training texts, and the baseline's result on it."""
    paths = write_learnable(tmp_path / "d", [0, 1])
    train_rows = paths["train"].read_text(encoding="utf-8").splitlines()
    paths["test"].write_text("\n".join(train_rows[:30] + paths["test"].read_text().splitlines()) + "\n")
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir()
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    return data, run, train_baseline.fn(data, "news", "label", 42, run)


def model_files(data, run, pred_ids) -> tuple[Predictions, TokenizedSplit]:
    """What the predict and tokenize tasks leave for the test split: its scores Parquet, keyed by source line."""
    test = data.splits["test"]
    kept = read_columns(test.rows_file, ["line", "label"], test.excluded_lines)
    probs = np.eye(len(data.labels.names))[np.asarray(pred_ids)]
    scores = write_scores(run.file("predictions/test.scores.parquet"), kept.column("line").to_numpy(),
                          label_ids(kept.column("label"), data.labels), probs)
    return (Predictions(path=run.file("predictions/test.jsonl"), scores=scores, rows=kept.num_rows, model_digest="x"),
            TokenizedSplit(split="test", parquet=run.file("unused.parquet"), cache_key="k", cache_hit=False,
                           rows=kept.num_rows))


def test_the_same_predictions_as_the_baseline_win_nothing_on_all_rows_and_on_fresh_ones(leaky_run):
    data, run, baseline = leaky_run
    same = pq.read_table(baseline.test_predictions).column("pred_id").to_numpy()
    result = compare_with_baseline.fn(baseline, *model_files(data, run, same), data, run)
    comparison = read_json(run.file("comparison.json"))
    assert result.comparison.model_dump(mode="json", exclude_none=True) == comparison and result.test == baseline.test
    assert comparison["test"]["rows"] == 126 and comparison["leakage_free"]["rows"] == 96
    for part in ("test", "leakage_free"):
        for name in ("accuracy", "macro_f1"):
            assert comparison[part]["model"][name] == comparison[part]["baseline"][name]
            assert (comparison[part]["difference"][name]["low"], comparison[part]["difference"][name]["high"]) == (0, 0)
    assert comparison["test"]["baseline"]["accuracy"]["point"] == pytest.approx(baseline.test.accuracy)
    section = comparison_section(result)
    assert "wins" not in section and "beats" not in section and section.count("No winner") == 4
    assert "On the 96 test rows whose text does not occur in train" in section


def test_a_clearly_worse_model_loses_to_the_baseline(leaky_run):
    data, run, baseline = leaky_run
    kept = pq.read_table(baseline.test_predictions)
    truth = kept.column("label_id").to_numpy()
    worse = np.where(np.arange(len(truth)) % 3 == 0, 1 - truth, truth)  # wrong on a third of the rows
    result = compare_with_baseline.fn(baseline, *model_files(data, run, worse), data, run)
    diff = result.comparison.test.difference["accuracy"]
    assert diff.high < 0 and diff.low <= diff.point <= diff.high
    assert "**The baseline wins on accuracy by" in comparison_section(result)


def test_rows_are_matched_by_source_line_and_other_rows_are_refused(tmp_path):
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"line": [7, 3, 5], "label_id": [1, 0, 1], "pred_id": [0, 0, 1]}), path)
    assert baseline_rows(str(path), np.array([3, 5, 7]), np.array([0, 1, 1])).tolist() == [0, 1, 0]
    with pytest.raises(RuntimeError, match="other test rows"):
        baseline_rows(str(path), np.array([3, 5, 8]), np.array([0, 1, 1]))
    with pytest.raises(RuntimeError, match="true labels differ"):
        baseline_rows(str(path), np.array([3, 5, 7]), np.array([1, 1, 1]))


def test_only_an_interval_clear_of_zero_is_called_a_win():
    def diff(low, high):
        return Interval(point=(low + high) / 2, low=low, high=high, resamples=1000, seed=1)

    assert verdict("accuracy", diff(0.004, 0.03)).startswith("This model beats the baseline on accuracy by 1.7")
    assert verdict("macro_f1", diff(-0.05, -0.01)).startswith("**The baseline wins on macro-F1 by 3.0 points**")
    noise = verdict("accuracy", diff(-0.002, 0.028))
    assert noise.startswith("No winner on accuracy") and "+1.3 [-0.2, +2.8] points" in noise


def test_a_test_file_equal_to_train_has_no_fresh_comparison_and_the_report_says_so(tmp_path):
    paths = write_learnable(tmp_path / "d", [0, 1])
    paths["test"].write_bytes(paths["train"].read_bytes())  # every test text leaked
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir()
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    baseline = train_baseline.fn(data, "news", "label", 42, run)
    same = pq.read_table(baseline.test_predictions).column("pred_id").to_numpy()
    predictions, tokenized = model_files(data, run, same)
    result = compare_with_baseline.fn(baseline, predictions, tokenized, data, run)
    assert result.comparison.leakage_free is None and "leakage_free" not in read_json(run.file("comparison.json"))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}", encoding="utf-8")
    metrics = report_test.fn(predictions, data, run, model_dir)
    section = comparison_section(result, metrics)
    assert f"On test rows whose text does not occur in train: {NO_FRESH_ROWS}." in section
    assert NO_FRESH_ROWS not in comparison_section(result)  # without the test metrics, nothing is claimed
