"""Data-set checks across rows and splits: duplicates, train/dev/test leakage and conflicting labels.

Texts are compared after Unicode NFKC normalisation and trimming, so a full-width copy or one with a
trailing space still counts as the same text. The checks work on 64-bit keys of those texts in arrays
(tasks/data/row_store.py says why a collision is negligible), so ten million rows need a few hundred MB, not
the texts themselves in Python sets.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tasks.core.records import SplitQuality

EXAMPLES = 5


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def percentiles(values) -> dict[str, int]:
    if len(values) == 0:
        return {}
    ordered = np.sort(np.asarray(values))
    pick = lambda q: int(ordered[min(len(ordered) - 1, int(q * len(ordered)))])  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": int(ordered[-1])}


@dataclass(frozen=True)
class SplitKeys:
    """One split's rows as arrays in file order: what the checks need, 24 bytes a row whatever the text length."""

    keys: np.ndarray  # uint64 key of the normalised text (tasks/data/row_store.py)
    lines: np.ndarray  # source line
    labels: np.ndarray  # label code: equal codes, equal labels
    chars: np.ndarray  # text length in characters


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by key (stably: file order within a key), where each key's run starts, and its row count."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(keys) else np.zeros(0, np.int64)
    return order, starts, np.diff(np.r_[starts, len(keys)])


def split_quality(rows: SplitKeys, train_keys: np.ndarray | None) -> SplitQuality:
    order, starts, sizes = _groups(rows.keys)
    first_of_row = np.empty(len(order), dtype=np.int64)  # index (file order) of each row's first occurrence
    first_of_row[order] = np.repeat(order[starts], sizes)
    duplicate = np.flatnonzero(first_of_row != np.arange(len(order)))
    examples = tuple((int(rows.lines[i]), int(rows.lines[first_of_row[i]])) for i in duplicate[:EXAMPLES])
    if len(order):
        labels = rows.labels[order]
        mixed = np.minimum.reduceat(labels, starts) != np.maximum.reduceat(labels, starts)
    else:
        mixed = np.zeros(0, dtype=bool)
    # The conflicting texts in the order their first row appears, each with all its lines.
    conflicts = sorted(np.flatnonzero(mixed), key=lambda g: order[starts[g]])
    conflict_examples = tuple(tuple(int(rows.lines[i]) for i in np.sort(order[starts[g]:starts[g] + sizes[g]]))
                              for g in conflicts[:EXAMPLES])
    leaked = () if train_keys is None else tuple(int(x) for x in rows.lines[np.isin(rows.keys, train_keys)])
    return SplitQuality(
        duplicate_rows=len(duplicate), duplicate_examples=examples, leaked_lines=leaked,
        conflicting_texts=len(conflicts), conflict_examples=conflict_examples, length_chars=percentiles(rows.chars),
    )


def dataset_quality(rows: dict[str, SplitKeys]) -> dict[str, SplitQuality]:
    """Per split; leakage is measured against train, ``shared_with`` between every pair of splits."""
    distinct = {split: np.unique(r.keys) for split, r in rows.items()}
    out = {}
    for split, split_rows in rows.items():
        quality = split_quality(split_rows, None if split == "train" else distinct.get("train"))
        shared = {other: int(np.isin(split_rows.keys, distinct[other]).sum()) for other in rows if other != split}
        out[split] = quality.model_copy(update={"shared_with": shared})
    return out


def count_by_reason(reasons: list[str]) -> dict[str, int]:
    """'not valid JSON: Expecting value (column 1)' and '...(column 7)' count as one reason."""
    return dict(Counter(reason.split(":")[0].split(" (")[0] for reason in reasons).most_common())
