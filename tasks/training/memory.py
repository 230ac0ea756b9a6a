"""Out of device memory: fail this try with a transient error, and make the retry use smaller micro-batches.

The retry splits every micro-batch in two and doubles the accumulation steps, so the global batch, the
learning-rate schedule and the checkpoint key stay the same: the retry resumes the same training.
"""

from __future__ import annotations

from pathlib import Path

from tasks.core.files import read_json, write_json

MARKER = "micro_split.json"


def micro_split(folder: Path) -> int:
    marker = folder / MARKER
    return int(read_json(marker)["micro_split"]) if marker.is_file() else 1


def record_out_of_memory(folder: Path, current: int, exc: BaseException) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MARKER, {"micro_split": current * 2, "error": str(exc)[:500]})
    return (f"out of device memory with micro-batches split {current} way(s); a retry splits them "
            f"{current * 2} ways with as many accumulation steps (same global batch). ({str(exc)[:200]})")
