"""What a batch of scored texts looks like, as counts in fixed bins: bounded, and mergeable across chunks and files.

The same counts describe the reference (held-out rows at training time, tasks/drift/profile.py) and every scored
file, so the two compare bin by bin (tasks/drift/compare.py). The bins are fixed, not quantiles of the reference,
so a chunk's counts need nothing but the chunk, and a file's or a run's counts are plain sums.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

# Doubling edges: a text twice as long moves one bin, whatever its length.
LENGTH_EDGES = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
TOKEN_EDGES = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Share of a text's tokens that are the unknown token: none, a little, ..., mostly unknown.
UNK_EDGES = (1e-9, 0.02, 0.05, 0.1, 0.2, 0.5)
CONFIDENCE_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
BINNED = {"char_length": LENGTH_EDGES, "token_length": TOKEN_EDGES, "unk_share": UNK_EDGES,
          "confidence": CONFIDENCE_EDGES}
FEATURES = ("char_length", "token_length", "unk_share", "truncated", "confidence", "predicted_label")


def empty_stats(n_labels: int) -> dict:
    stats = {name: [0] * (len(edges) + 1) for name, edges in BINNED.items()}
    return {"rows": 0, **stats, "truncated": [0, 0], "predicted_label": [0] * n_labels}


def _binned(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    # digitize: bin i holds edges[i-1] <= value < edges[i]; below the first edge is bin 0, above the last the last.
    return np.bincount(np.digitize(values, edges), minlength=len(edges) + 1).tolist()


def chunk_stats(texts: Sequence[str], ids: Sequence[Sequence[int]], cut: Sequence[bool], probs: np.ndarray,
                unk_id: int | None) -> dict:
    """Counts of one chunk, from what scoring already has: the texts, their token ids, cut flags, probabilities."""
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    unknown = np.fromiter((row.count(unk_id) if unk_id is not None else 0 for row in ids), np.int64, len(ids))
    probs = np.asarray(probs)
    return {
        "rows": len(texts),
        "char_length": _binned(np.fromiter(map(len, texts), np.int64, len(texts)), LENGTH_EDGES),
        "token_length": _binned(lengths, TOKEN_EDGES),
        "unk_share": _binned(unknown / np.maximum(lengths, 1), UNK_EDGES),
        "truncated": [len(cut) - int(sum(cut)), int(sum(cut))],
        "confidence": _binned(probs.max(axis=1), CONFIDENCE_EDGES),
        "predicted_label": np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).tolist(),
    }


def merge_stats(total: dict, more: dict) -> dict:
    """The counts of two batches together (neither is changed)."""
    merged = {"rows": total["rows"] + more["rows"]}
    for name in FEATURES:
        merged[name] = [a + b for a, b in zip(total[name], more[name], strict=True)]
    return merged


def bin_labels(name: str, label_names: Sequence[str] = ()) -> list[str]:
    """Human names of a feature's bins, for tables and plots."""
    if name == "truncated":
        return ["kept whole", "cut"]
    if name == "predicted_label":
        return [str(n) for n in label_names]
    edges = [f"{e:g}" for e in BINNED[name]]
    first = "none" if name == "unk_share" else f"<{edges[0]}"
    if name == "unk_share":
        edges[0] = "0"
    return [first] + [f"{a}-{b}" for a, b in itertools.pairwise(edges)] + [f">={edges[-1]}"]
