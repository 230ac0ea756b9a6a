"""A batch's counts against the model's reference profile: PSI per feature, a chi-square test on the predicted
label mix, and the label mix corrected for the model's errors.

PSI (population stability index) of reference shares r and batch shares b over the same bins is
``sum((b - r) * ln(b / r))``. A bin empty on one side would make it infinite, so every share is first raised to
at least PSI_EPSILON (1e-4, a bin with 0.01 % of the rows). By convention PSI below 0.1 is stable, 0.1-0.25 worth
watching, above 0.25 a real shift; both thresholds are options (tasks/core/config.py).

The chi-square test compares the two sets of predicted-label counts as a 2 x K contingency table (scipy's
``chi2_contingency``), so the reference's own sampling noise counts too, not only the batch's.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency

from tasks.drift.label_shift import estimate_label_mix
from tasks.drift.stats import FEATURES

PSI_EPSILON = 1e-4


def psi(reference_counts, batch_counts) -> float:
    ref = np.asarray(reference_counts, dtype=np.float64)
    new = np.asarray(batch_counts, dtype=np.float64)
    ref = np.maximum(ref / max(ref.sum(), 1.0), PSI_EPSILON)
    new = np.maximum(new / max(new.sum(), 1.0), PSI_EPSILON)
    return float(np.sum((new - ref) * np.log(new / ref)))


def label_mix_test(reference_counts, batch_counts) -> dict:
    table = np.array([reference_counts, batch_counts], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]  # a class neither side predicted adds nothing and breaks the test
    if table.shape[1] < 2 or table[1].sum() == 0:
        return {"chi2": 0.0, "p_value": 1.0, "dof": 0}
    result = chi2_contingency(table, correction=False)
    return {"chi2": round(float(result.statistic), 3), "p_value": float(result.pvalue), "dof": int(result.dof)}


def shares(counts) -> list[float]:
    total = max(sum(counts), 1)
    return [round(c / total, 4) for c in counts]


def level_of(value: float, watch: float, drift: float) -> str:
    return "drift" if value >= drift else "watch" if value >= watch else "ok"


def compare(profile: dict, stats: dict, psi_watch: float, psi_drift: float, alpha: float, min_rows: int) -> dict:
    """The drift record of one batch: figures, the features that moved, and a status.

    status: ``drift`` when a feature's PSI reaches ``psi_drift``; ``watch`` when one reaches ``psi_watch`` or the
    predicted label mix differs at significance ``alpha``; ``too few rows`` below ``min_rows`` (PSI on a handful
    of rows is noise, so no verdict, but the figures are kept); else ``ok``.
    """
    reference, names = profile["stats"], profile["labels"]
    values = {name: round(psi(reference[name], stats[name]), 4) for name in FEATURES}
    levels = {name: level_of(v, psi_watch, psi_drift) for name, v in values.items()}
    test = label_mix_test(reference["predicted_label"], stats["predicted_label"])
    moved = sorted((n for n in FEATURES if levels[n] != "ok"), key=lambda n: -values[n])
    mix = estimate_label_mix(profile["dev_confusion"], stats["predicted_label"]) if stats["rows"] else None
    if stats["rows"] < min_rows:
        status = "too few rows"
    elif "drift" in levels.values():
        status = "drift"
    else:
        status = "watch" if moved or test["p_value"] < alpha else "ok"
    return {
        "status": status, "rows": stats["rows"], "reference_rows": reference["rows"], "psi": values,
        "levels": levels, "moved": moved, "label_mix_test": test,
        "predicted_mix": dict(zip(names, shares(stats["predicted_label"]), strict=True)),
        "reference_predicted_mix": dict(zip(names, shares(reference["predicted_label"]), strict=True)),
        "training_label_prior": dict(zip(names, shares(profile["train_label_counts"]), strict=True)),
        "estimated_label_mix": None if mix is None else {
            name: {"estimate": round(e, 4), "low": round(lo, 4), "high": round(hi, 4)}
            for name, e, lo, hi in zip(names, mix["estimate"], mix["low"], mix["high"], strict=True)},
        "thresholds": {"psi_watch": psi_watch, "psi_drift": psi_drift, "alpha": alpha, "min_rows": min_rows},
        "stats": stats,
    }
