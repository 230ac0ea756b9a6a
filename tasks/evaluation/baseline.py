"""A classical baseline beside BERT: character 1-3-gram TF-IDF + logistic regression, C chosen on dev.

It runs on the same validated rows and is scored on the same test rows, so the report can say plainly
when the simple model wins. It is a comparator: its metrics and its test predictions (by source line, for
the paired bootstrap in tasks/evaluation/comparison.py) are kept, the model itself is not saved.

Bounded on any training file: n-grams are hashed into 2^20 columns (no vocabulary held), and a training
file above ``max_rows`` rows is fitted on a stratified sample of that many rows (each class keeps its
share), which the report states. On 9,600 ChnSentiCorp rows this loses nothing against an exact
vocabulary (bench/RESULTS.md); a linear model on character n-grams gains little from millions more rows.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from tasks.core.files import atomic_path, write_json
from tasks.core.logs import logger
from tasks.core.records import DataSummary, LabelSet, RunDir, SplitData
from tasks.data.row_store import READ_ROWS, iter_batches, label_ids, read_columns
from tasks.evaluation.baseline_features import NgramTfidf
from tasks.evaluation.metric_records import BaselineResult, Metrics
from tasks.training.metrics import classification_metrics

C_GRID = (0.25, 1.0, 4.0, 16.0)
PREDICTIONS = "baseline_test_predictions.parquet"
MODEL = "char 1-3-gram TF-IDF + logistic regression"


def stratified_sample(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray | None:
    """Sorted row indices of a class-stratified sample of ``max_rows`` rows, or None when every row fits."""
    if len(y) <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = max(1, round(max_rows * len(rows) / len(y)))
        picked.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))


def sample_texts(split: SplitData, rows: np.ndarray | None) -> list[str]:
    """The texts of ``rows`` (indices into the kept rows), streamed from the rows file; all when None."""
    texts, seen = [], 0
    for batch in iter_batches(split.rows_file, ["text"], split.excluded_lines, READ_ROWS):
        column = batch.column("text")
        if rows is None:
            texts += column.to_pylist()
        else:
            inside = rows[(rows >= seen) & (rows < seen + batch.num_rows)] - seen
            texts += column.take(pa.array(inside)).to_pylist()
        seen += batch.num_rows
    return texts


def split_labels(split: SplitData, labels: LabelSet) -> tuple[np.ndarray, np.ndarray]:
    table = read_columns(split.rows_file, ["line", "label"], split.excluded_lines)
    return label_ids(table.column("label"), labels), table.column("line").to_numpy()


def write_test_predictions(run: RunDir, lines: np.ndarray, y_true: np.ndarray, pred: np.ndarray) -> str:
    """Predicted label ids keyed by source line: the key BERT's predictions are matched on."""
    table = pa.table({"line": pa.array(lines, pa.int32()), "label_id": pa.array(y_true, pa.int32()),
                      "pred_id": pa.array(pred, pa.int32())})
    target = run.file(PREDICTIONS)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return str(target)


@task(name="baseline: tf-idf + logistic regression")
def train_baseline(data: DataSummary, text_field: str, label_field: str, seed: int, run: RunDir,
                   max_rows: int = 100_000) -> BaselineResult:
    started = time.perf_counter()
    splits, labels = data.splits, data.labels
    y_all, _ = split_labels(splits["train"], labels)
    sample = stratified_sample(y_all, max_rows, seed)
    y_train = y_all if sample is None else y_all[sample]
    features = NgramTfidf(HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2**20,
                                            alternate_sign=False, norm=None, dtype=np.float32))
    train_m = features.fit_transform(sample_texts(splits["train"], sample))
    y_dev, _ = split_labels(splits["dev"], labels)
    dev_m = features.transform(sample_texts(splits["dev"], None))
    best_c, best_acc, best_model = None, -1.0, None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(train_m, y_train)
        accuracy = float((model.predict(dev_m) == y_dev).mean())
        if accuracy > best_acc:
            best_c, best_acc, best_model = c, accuracy, model
    y_test, test_lines = split_labels(splits["test"], labels)
    pred = np.concatenate([best_model.predict(features.transform(chunk)) for chunk in text_chunks(splits["test"])]
                          or [np.zeros(0, dtype=np.int64)])
    test = Metrics.model_validate(classification_metrics(y_test, pred, labels.names))
    result = BaselineResult(
        model=MODEL, C=best_c, dev_accuracy=best_acc, train_rows=len(y_train), train_rows_total=len(y_all), test=test,
        seconds=round(time.perf_counter() - started, 2),
        test_predictions=write_test_predictions(run, test_lines, y_test, pred))
    write_json(run.file("baseline.json"), result.model_dump(mode="json"))
    sampled = f" (fitted on a stratified sample of {len(y_train):,} of {len(y_all):,} rows)" if result.sampled else ""
    logger().info("baseline (C=%g on dev): test accuracy %.4f in %.1f s%s", best_c, result.test.accuracy,
                  result.seconds, sampled)
    return result


def text_chunks(split: SplitData):
    """Test texts a batch at a time: a large test file is predicted in flat memory."""
    for batch in iter_batches(split.rows_file, ["text"], split.excluded_lines, 4 * READ_ROWS):
        yield batch.column("text").to_pylist()
