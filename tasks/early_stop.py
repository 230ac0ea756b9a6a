"""Early stopping on the dev curve: a pure function of the scores so far, so a resumed run decides alike."""

from __future__ import annotations


def stop_decision(scores: list[float], patience: int, threshold: float = 0.0) -> str | None:
    """Why training should stop after these epochs' dev scores, or ``None`` to go on.

    Progress means beating the best score so far by more than ``threshold``; ``patience`` epochs in a
    row without progress stop training (0 never stops).
    """
    if patience <= 0 or not scores:
        return None
    best, best_epoch, waited = scores[0], 1, 0
    for epoch, score in enumerate(scores[1:], start=2):
        if score > best + threshold:
            best, best_epoch, waited = score, epoch, 0
        else:
            waited += 1
    if waited < patience:
        return None
    return (f"stopped after epoch {len(scores)}: no dev gain above {threshold:g} for {waited} epoch(s) "
            f"since epoch {best_epoch} ({best:.4f}); patience {patience}")
