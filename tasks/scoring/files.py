"""Files of the scoring flow: naming outputs, reading in chunks, and one writer per file."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tasks.core.files import temporaries_of

OUTPUT_SUFFIXES = (".pred.jsonl", ".rejects.jsonl")


def jsonl_stem(name: str) -> str:
    """``a.jsonl`` and ``a.JSONL`` -> ``a``; any other name is kept whole."""
    return name[: -len(".jsonl")] if name.lower().endswith(".jsonl") else name


@dataclass(frozen=True)
class OutputPaths:
    predictions: Path
    rejects: Path
    manifest: Path
    parquet: Path
    lock: Path

    @classmethod
    def of(cls, input_path: Path, output_dir: Path, relative: Path | None = None) -> OutputPaths:
        """Outputs of ``input_path`` at ``relative`` (its place under the input root; default: its name alone)."""
        relative = relative or Path(input_path.name)
        folder, stem = output_dir / relative.parent, jsonl_stem(relative.name)
        return cls(
            predictions=folder / f"{stem}.pred.jsonl", rejects=folder / f"{stem}.rejects.jsonl",
            manifest=folder / f"{stem}.manifest.json", parquet=folder / f"{stem}.pred.parquet",
            lock=folder / f".{stem}.lock",
        )

    @classmethod
    def beside(cls, predictions: Path) -> OutputPaths:
        """The other outputs of the input whose predictions are ``predictions``."""
        return cls.of(Path(predictions.name.removesuffix(".pred.jsonl") + ".jsonl"), predictions.parent)

    def files(self) -> tuple[Path, ...]:
        """Every path a scoring run writes for this input, the lock included."""
        return self.predictions, self.rejects, self.manifest, self.parquet, self.lock


def read_chunks(path: Path, rows: int) -> Iterator[list[tuple[int, bytes]]]:
    """(1-based line number, raw bytes) in chunks of ``rows`` lines, never the whole file at once."""
    chunk: list[tuple[int, bytes]] = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            chunk.append((number, raw))
            if len(chunk) == rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class Busy(RuntimeError):
    """Another run holds this file's lock: it is being scored right now."""


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """A per-output lock, so two overlapping runs never write the same output.

    ``flock`` is released by the kernel when its holder dies, so a killed run never leaves a stale lock.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Busy(f"{lock_path}: another run is scoring this file") from exc
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(target: Path) -> int:
    """Half-written files a killed run left beside ``target``; safe only while holding its lock."""
    stale = temporaries_of(target)
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
