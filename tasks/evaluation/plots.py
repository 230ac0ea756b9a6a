"""Plots of a run for people: training curves, confusion matrix, reliability before/after calibration.

PNG files under ``<run>/plots/``; report.md links them, and the training-plots and test-report artifacts show
them as images (tasks/ui/images.py). Text is drawn with a CJK fallback font, so Chinese class names show.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tasks.core.records import EpochRecord
from tasks.evaluation.calibration import ECE_BINS, expected_calibration_error
from tasks.training.evaluations import by_step
from tasks.ui.figures import save_png, with_cjk_fonts

PLOTS = ("training_curves.png", "confusion_matrix.png", "reliability.png")


@with_cjk_fonts
def training_curves(epochs: Sequence[EpochRecord], path: Path) -> Path:
    """Train loss (left axis) and dev accuracy / macro-F1 (right axis) per evaluation; the selected one marked.

    The x axis is the epoch, or the optimizer step when dev was evaluated by step (``--eval_steps``)."""
    steps = by_step(epochs)
    unit = "step" if steps else "epoch"
    x = [e.step if steps else e.epoch for e in epochs]
    dots = len(x) <= 40  # many evaluations: a line reads better than a row of markers
    fig, loss_ax = plt.subplots(figsize=(6.4, 4))
    loss_ax.plot(x, [e.train_loss for e in epochs], "o-" if dots else "-", color="tab:red", label="train loss")
    loss_ax.set_xlabel(unit)
    loss_ax.set_ylabel("train loss")
    if not steps:
        loss_ax.set_xticks(x)
    dev_ax = loss_ax.twinx()
    dev_ax.plot(x, [e.dev_accuracy for e in epochs], "s-" if dots else "-", color="tab:blue", label="dev accuracy")
    dev_ax.plot(x, [e.dev_macro_f1 for e in epochs], "^--" if dots else "--", color="tab:green", label="dev macro-F1")
    dev_ax.set_ylabel("dev score")
    dev_ax.set_ylim(0, 1.02)  # a fixed scale: runs compare at a glance, a flat 1.0 does not look like noise
    for at, e in zip(x, epochs, strict=True):
        if e.selected:
            loss_ax.axvline(at, color="grey", linestyle=":", label=f"selected {unit} {at}")
    handles = loss_ax.get_legend_handles_labels()[0] + dev_ax.get_legend_handles_labels()[0]
    loss_ax.legend(handles=handles, loc="center right", fontsize="small")
    loss_ax.set_title("Training" + (" (dev evaluated by step)" if steps else ""))
    return save_png(fig, path)


@with_cjk_fonts
def confusion_matrix(names: Sequence[str], matrix: Sequence[Sequence[int]], path: Path) -> Path:
    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 1.2 * len(names) + 2))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(names)), labels=names)
    ax.set_yticks(range(len(names)), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = counts.max() / 2 if counts.size else 0
    for i, j in itertools.product(range(counts.shape[0]), range(counts.shape[1])):
        ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                color="white" if counts[i, j] > threshold else "black")
    ax.set_title("Confusion matrix (test)")
    return save_png(fig, path)


def bin_accuracy(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Per equal-width confidence bin (the ECE's bins): mean confidence and accuracy, NaN where empty."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)  # (low, high] as in the ECE
    conf, acc = np.full(bins, np.nan), np.full(bins, np.nan)
    for b in range(bins):
        if (inside := which == b).any():
            conf[b], acc[b] = confidence[inside].mean(), correct[inside].mean()
    return conf, acc


@with_cjk_fonts
def reliability(before: np.ndarray, after: np.ndarray, labels: np.ndarray, path: Path,
                bins: int = ECE_BINS) -> Path:
    """Accuracy against confidence per bin, before and after temperature scaling; the diagonal is perfect."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for probs, name, style in ((before, "before", "o-"), (after, "after", "s-")):
        conf, acc = bin_accuracy(probs, labels, bins)
        ece = expected_calibration_error(probs, labels, bins)
        ax.plot(conf, acc, style, label=f"{name} temperature scaling (ECE {ece:.3f})")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (top class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability on test ({bins} bins)")
    ax.legend(loc="upper left", fontsize="small")
    return save_png(fig, path)
