import numpy as np
import pyarrow.parquet as pq

from tasks.core.files import read_json
from tasks.core.records import RunDir
from tasks.data.validate import validate_splits
from tasks.evaluation.baseline import C_GRID, stratified_sample, train_baseline
from tests.builders import write_learnable


def test_baseline_learns_the_rule_picks_c_on_dev_and_skips_dropped_rows(tmp_path):
    paths = write_learnable(tmp_path / "d", [0, 1])
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir()
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    result = train_baseline.fn(data, "news", "label", 42, run)
    assert result.C in C_GRID and result.dev_accuracy >= 0.9
    assert result.test.accuracy >= 0.9 and result.test.rows == 96
    assert read_json(run.file("baseline.json"))["test"]["accuracy"] == result.test.accuracy
    kept = pq.read_table(result.test_predictions).to_pydict()  # per row, for the paired comparison
    assert kept["line"] == list(range(1, 97))
    accuracy = sum(p == t for p, t in zip(kept["pred_id"], kept["label_id"], strict=True)) / 96
    assert accuracy == result.test.accuracy
    dropped = data.model_copy(update={"splits": data.splits | {
        "test": data.splits["test"].model_copy(update={"excluded_lines": (1, 2, 3)})}})
    assert train_baseline.fn(dropped, "news", "label", 42, run).test.rows == 93
    assert pq.read_table(result.test_predictions).column("line").to_pylist() == list(range(4, 97))
    assert not list(run.path.glob("*.pkl")) and not list(run.path.glob("*.joblib"))  # never pickled


def test_a_large_training_file_is_fitted_on_a_stratified_sample_that_the_result_states(tmp_path):
    paths = write_learnable(tmp_path / "d", ["neg", "pos"], n_train=600)
    run = RunDir(path=tmp_path / "run")
    run.path.mkdir()
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    result = train_baseline.fn(data, "news", "label", 42, run, max_rows=200)
    assert (result.train_rows, result.train_rows_total, result.sampled) == (200, 600, True)
    assert result.test.accuracy >= 0.85  # a sample of a learnable rule still learns it
    counts = data.splits["train"].label_counts
    sample = stratified_sample(np.array([0] * counts["neg"] + [1] * counts["pos"]), 200, 42)
    assert abs(int((sample >= counts["neg"]).sum()) - round(200 * counts["pos"] / 600)) <= 1  # each class its share
    assert len(np.unique(sample)) == len(sample) and stratified_sample(np.zeros(5), 10, 0) is None
