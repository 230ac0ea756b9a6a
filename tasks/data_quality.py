"""Data-set checks across rows and splits: duplicates, train/dev/test leakage and conflicting labels.

Texts are compared after Unicode NFKC normalisation and trimming, so a full-width copy or one with a
trailing space still counts as the same text.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict

from pydantic import BaseModel, ConfigDict

from tasks.jsonl import Row

EXAMPLES = 5


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


class SplitQuality(BaseModel):
    model_config = ConfigDict(frozen=True)

    duplicate_rows: int  # rows whose text already occurred earlier in the same split
    duplicate_examples: tuple[tuple[int, int], ...]  # (line, line of its first occurrence)
    leaked_lines: tuple[int, ...] = ()  # dev/test rows whose text occurs in train
    conflicting_texts: int = 0  # distinct texts with more than one label in this split
    conflict_examples: tuple[tuple[int, ...], ...] = ()  # lines of one conflicting text
    shared_with: dict[str, int] = {}  # rows of this split whose text also occurs in another split
    length_chars: dict[str, int] = {}  # percentiles of text length in characters


def percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": ordered[-1]}


def split_quality(rows: list[Row], train_texts: set[str] | None) -> SplitQuality:
    first_line: dict[str, int] = {}
    labels: dict[str, set] = defaultdict(set)
    lines_of: dict[str, list[int]] = defaultdict(list)
    duplicates, leaked = [], []
    for row in rows:
        key = normalize(row.text)
        if key in first_line:
            duplicates.append((row.line, first_line[key]))
        else:
            first_line[key] = row.line
        labels[key].add(repr(row.label))
        lines_of[key].append(row.line)
        if train_texts is not None and key in train_texts:
            leaked.append(row.line)
    conflicts = [key for key, seen in labels.items() if len(seen) > 1]
    return SplitQuality(
        duplicate_rows=len(duplicates), duplicate_examples=tuple(duplicates[:EXAMPLES]), leaked_lines=tuple(leaked),
        conflicting_texts=len(conflicts), conflict_examples=tuple(tuple(lines_of[k]) for k in conflicts[:EXAMPLES]),
        length_chars=percentiles([len(row.text) for row in rows]),
    )


def dataset_quality(rows: dict[str, list[Row]]) -> dict[str, SplitQuality]:
    """Per split; leakage is measured against train, ``shared_with`` between every pair of splits."""
    texts = {split: {normalize(r.text) for r in split_rows} for split, split_rows in rows.items()}
    out = {}
    for split, split_rows in rows.items():
        quality = split_quality(split_rows, None if split == "train" else texts.get("train"))
        shared = {other: sum(normalize(r.text) in texts[other] for r in split_rows)
                  for other in rows if other != split}
        out[split] = quality.model_copy(update={"shared_with": shared})
    return out


def count_by_reason(reasons: list[str]) -> dict[str, int]:
    """'not valid JSON: Expecting value (column 1)' and '...(column 7)' count as one reason."""
    return dict(Counter(reason.split(":")[0].split(" (")[0] for reason in reasons).most_common())
