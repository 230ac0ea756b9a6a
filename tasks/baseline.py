"""A classical baseline beside BERT: character 1-3-gram TF-IDF + logistic regression, C chosen on dev.

It runs on the same validated rows and is scored on the same test rows, so the report can say plainly
when the simple model wins. It is a comparator: its metrics and its test predictions (by source line, for
the paired bootstrap in tasks/comparison.py) are kept, the model itself is not saved.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from tasks.files import atomic_path, write_json
from tasks.logs import logger
from tasks.metrics import classification_metrics
from tasks.records import DataSummary, RunDir
from tasks.validate import kept_rows

C_GRID = (0.25, 1.0, 4.0, 16.0)
PREDICTIONS = "baseline_test_predictions.parquet"


def _rows(data: DataSummary, split: str, text_field: str, label_field: str) -> tuple[list[str], np.ndarray, list]:
    kept = kept_rows(data.splits[split], text_field, label_field, data.labels)
    return [r.text for r in kept], np.array([data.labels.id_of(r.label) for r in kept]), [r.line for r in kept]


def write_test_predictions(run: RunDir, lines: list[int], y_true: np.ndarray, pred: np.ndarray) -> str:
    """Predicted label ids keyed by source line: the key BERT's predictions are matched on."""
    table = pa.table({"line": pa.array(lines, pa.int32()), "label_id": pa.array(y_true, pa.int32()),
                      "pred_id": pa.array(pred, pa.int32())})
    target = run.file(PREDICTIONS)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return str(target)


@task(name="baseline: tf-idf + logistic regression")
def train_baseline(data: DataSummary, text_field: str, label_field: str, seed: int, run: RunDir) -> dict:
    started = time.perf_counter()
    (x_train, y_train, _), (x_dev, y_dev, _), (x_test, y_test, test_lines) = (
        _rows(data, s, text_field, label_field) for s in ("train", "dev", "test"))
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    train_m = vectorizer.fit_transform(x_train)
    dev_m, test_m = vectorizer.transform(x_dev), vectorizer.transform(x_test)
    best_c, best_acc, best_model = None, -1.0, None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(train_m, y_train)
        accuracy = float((model.predict(dev_m) == y_dev).mean())
        if accuracy > best_acc:
            best_c, best_acc, best_model = c, accuracy, model
    pred = best_model.predict(test_m)
    metrics = classification_metrics(y_test, pred, data.labels.names)
    result = {"model": "char 1-3-gram TF-IDF + logistic regression", "C": best_c, "dev_accuracy": best_acc,
              "test": metrics, "seconds": round(time.perf_counter() - started, 2),
              "test_predictions": write_test_predictions(run, test_lines, y_test, pred)}
    write_json(run.file("baseline.json"), result)
    logger().info("baseline (C=%g on dev): test accuracy %.4f in %.1f s", best_c, metrics["accuracy"],
                  result["seconds"])
    return result
