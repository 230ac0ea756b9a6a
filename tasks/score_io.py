"""Files of the scoring flow: finding inputs, naming outputs, reading in chunks, and one writer per file."""

from __future__ import annotations

import fcntl
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tasks.files import temporaries_of
from tasks.jsonl import DataError


def find_inputs(spec: str) -> list[Path]:
    """A file, a directory (its ``*.jsonl``) or a glob, sorted so runs visit files in the same order."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path.resolve()]
    if path.is_dir():
        return sorted(p.resolve() for p in path.glob("*.jsonl") if p.is_file())
    if glob.has_magic(spec):
        return sorted(Path(p).resolve() for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    raise DataError(f"--inputs {spec}: no such file or directory")


def inputs_to_score(spec: str, output_dir: Path) -> list[Path]:
    """``find_inputs``, refusing an ``output_dir`` where writing the outputs would overwrite one of the inputs.

    That happens when ``--output_dir`` is the input folder and it holds, say, both ``a.jsonl`` and ``a.pred.jsonl``.
    """
    paths = find_inputs(spec)
    inputs, out = set(paths), output_dir.expanduser().resolve()
    clashes = sorted({str(p) for path in paths for p in OutputPaths.of(path, out).files() if p in inputs})
    if clashes:
        raise DataError(f"--output_dir {out}: scoring would overwrite the input files {clashes}; "
                        "choose another --output_dir")
    return paths


@dataclass(frozen=True)
class OutputPaths:
    predictions: Path
    rejects: Path
    manifest: Path
    parquet: Path
    lock: Path

    @classmethod
    def of(cls, input_path: Path, output_dir: Path) -> OutputPaths:
        stem = input_path.name.removesuffix(".jsonl")
        return cls(
            predictions=output_dir / f"{stem}.pred.jsonl", rejects=output_dir / f"{stem}.rejects.jsonl",
            manifest=output_dir / f"{stem}.manifest.json", parquet=output_dir / f"{stem}.pred.parquet",
            lock=output_dir / f".{stem}.lock",
        )

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
