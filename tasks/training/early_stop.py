"""Early stopping on the dev curve: a pure function of the scores so far, so a resumed run decides alike."""

from __future__ import annotations

from collections.abc import Sequence


def stop_decision(scores: list[float], patience: int, threshold: float = 0.0, points: Sequence[int] | None = None,
                  unit: str = "epoch", counted: str = "epoch") -> str | None:
    """Why training should stop after these evaluations' dev scores, or ``None`` to go on.

    Progress means beating the best score so far by more than ``threshold``; ``patience`` evaluations in
    a row without progress stop training (0 never stops). ``points`` names each evaluation in the reason
    (``unit`` 1, 2, ... by default: epochs); ``counted`` is what patience counts.
    """
    if patience <= 0 or not scores:
        return None
    names = list(points) if points is not None else list(range(1, len(scores) + 1))
    best, best_at, waited = scores[0], names[0], 0
    for at, score in zip(names[1:], scores[1:], strict=True):
        if score > best + threshold:
            best, best_at, waited = score, at, 0
        else:
            waited += 1
    if waited < patience:
        return None
    return (f"stopped after {unit} {names[-1]}: no dev gain above {threshold:g} for {waited} {counted}(s) "
            f"since {unit} {best_at} ({best:.4f}); patience {patience}")
