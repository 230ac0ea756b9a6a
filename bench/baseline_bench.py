"""The TF-IDF baseline on ChnSentiCorp: hashed n-grams (the pipeline's) against an exact vocabulary.

    python -m bench.baseline_bench [--max_rows 100000]

Both fit character 1-3-grams, sublinear tf, min_df=2, logistic regression with C picked on dev, on the
same validated rows; the exact one is scikit-learn's TfidfVectorizer, which holds every n-gram in a dict
(what the pipeline did before it had to bound memory on large files). Prints test accuracy and seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bench.common import CHNSENTICORP, machine
from tasks.core.records import RunDir
from tasks.data.validate import validate_splits
from tasks.evaluation.baseline import C_GRID, sample_texts, split_labels, train_baseline


def exact_vocabulary(data, seed: int) -> tuple[float, float]:
    """Test accuracy and seconds of the same recipe with an exact n-gram vocabulary."""
    started = time.perf_counter()
    y_train, y_dev, y_test = (split_labels(data.splits[s], data.labels)[0] for s in ("train", "dev", "test"))
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    train = vectorizer.fit_transform(sample_texts(data.splits["train"], None))
    dev, test = (vectorizer.transform(sample_texts(data.splits[s], None)) for s in ("dev", "test"))
    models = [LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(train, y_train) for c in C_GRID]
    best = max(models, key=lambda m: float((m.predict(dev) == y_dev).mean()))  # first of equals, as the task does
    return float((best.predict(test) == y_test).mean()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max_rows", type=int, default=100_000)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(path=Path(tmp))
        paths = {split: CHNSENTICORP / f"{split}.jsonl" for split in ("train", "dev", "test")}
        data = validate_splits.fn(paths, "news", "label", 0.01, run)
        ours = train_baseline.fn(data, "news", "label", 42, run, args.max_rows)
        exact_accuracy, exact_seconds = exact_vocabulary(data, 42)
    print(f"hashed n-grams (pipeline): test accuracy {ours.test.accuracy:.4f} (C={ours.C:g}) in {ours.seconds:.1f} s, "
          f"fitted on {ours.train_rows:,} of {ours.train_rows_total:,} rows")
    print(f"exact vocabulary:          test accuracy {exact_accuracy:.4f} in {exact_seconds:.1f} s")
    gap = 100 * (ours.test.accuracy - exact_accuracy)
    print(f"ratio hashed/exact: accuracy {ours.test.accuracy / exact_accuracy:.4f} ({gap:+.2f} points), "
          f"time {ours.seconds / exact_seconds:.2f}x")


if __name__ == "__main__":
    main()
