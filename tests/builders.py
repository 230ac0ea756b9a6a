"""Small, clearly learnable JSONL data sets and paths to ../shared, for tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BERT_SHAPE = SHARED / "models" / "bert-base-chinese-shape"

FILLER = "的了是在我有这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里"
MARKERS = {"neg": "差烂糟", "neu": "平凡般", "pos": "好棒赞"}


def learnable_rows(labels: list, n: int, seed: int) -> list[dict]:
    """Texts whose label is recoverable: each holds marker characters of its class among filler."""
    rng = random.Random(seed)
    names = list(MARKERS)
    rows = []
    for _ in range(n):
        label = rng.choice(labels)
        markers = MARKERS[names[labels.index(label) % len(names)]]
        chars = [rng.choice(FILLER) for _ in range(rng.randint(4, 16))]
        for _ in range(2):
            chars.insert(rng.randint(0, len(chars)), rng.choice(markers))
        rows.append({"news": "".join(chars), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_learnable(folder: Path, labels: list, n_train: int = 480, n_eval: int = 96) -> dict[str, Path]:
    return {
        split: write_jsonl(folder / f"{split}.jsonl", learnable_rows(labels, n, seed))
        for split, n, seed in (("train", n_train, 1), ("dev", n_eval, 2), ("test", n_eval, 3))
    }
