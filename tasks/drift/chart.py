"""One PNG per scoring run: for each drift feature, the reference's share of rows per bin beside the batch's.

Bars, not smoothed curves: the statistics are bin counts (tasks/drift/stats.py), and the bars show exactly what
the PSI compares. Each panel's title carries its PSI and level, so the features that moved stand out.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tasks.core.files import atomic_path
from tasks.drift.stats import FEATURES, bin_labels
from tasks.ui.figures import png_bytes, with_cjk_fonts

TITLES = {"char_length": "text length (characters)", "token_length": "text length (tokens)",
          "unk_share": "share of unknown tokens", "truncated": "cut at max_seq_length",
          "confidence": "top-class probability", "predicted_label": "predicted label"}
COLOURS = {"ok": "black", "watch": "darkorange", "drift": "firebrick"}


def _shares(counts) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    return counts / max(counts.sum(), 1.0)


@with_cjk_fonts
def drift_png(profile: dict, drift: dict, title: str) -> bytes:
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 5.6))
    for ax, name in zip(axes.flat, FEATURES, strict=True):
        names = bin_labels(name, profile["labels"])
        x = np.arange(len(names))
        ax.bar(x - 0.2, _shares(profile["stats"][name]), 0.4, label=f"reference ({drift['reference_rows']})",
               color="#9db4d0")
        ax.bar(x + 0.2, _shares(drift["stats"][name]), 0.4, label=f"this run ({drift['rows']})", color="#d9822b")
        ax.set_xticks(x, names, rotation=60 if len(names) > 3 else 0, fontsize=7, ha="right" if len(names) > 3
                      else "center")
        level = drift["levels"][name]
        ax.set_title(f"{TITLES[name]}\nPSI {drift['psi'][name]:.3f} ({level})", fontsize=9, color=COLOURS[level])
        ax.tick_params(axis="y", labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return png_bytes(fig)


def save_drift_png(profile: dict, drift: dict, title: str, path: Path) -> Path:
    png = drift_png(profile, drift, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)
    return path
