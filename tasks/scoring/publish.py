"""Writing one file's outputs: staged under temporary names, then published together under the manifest's watch.

Order matters for a kill at any instant. The manifest is rewritten first, in state ``writing``, listing the new
outputs and the ones they replace, each with its sha256; then each staged file is renamed over its target; then
outputs this run no longer produces (an old rejects or Parquet file) are removed; then the manifest is written in
state ``complete``. At every step each file at an output path is one the manifest proves this scorer wrote
(tasks/scoring/ownership.py), and a rerun redoes the file to exactly the bytes of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from os import replace, unlink  # by name: a test kills publishing between any two of these calls
from pathlib import Path
from typing import Any

from tasks.core.files import sha256_file, temporary_for, write_json
from tasks.core.overlap import in_order
from tasks.data.jsonl import BadRow
from tasks.data.rejects import RejectSink
from tasks.scoring.files import OutputPaths, read_chunks
from tasks.scoring.parquet_copy import write_parquet_file


@dataclass
class Staged:
    """A file's outputs, complete under temporary names; ``files`` maps each target to its staged temporary."""

    files: dict[Path, Path] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    renamed: Counter = field(default_factory=Counter)  # input fields kept as input.<name> (tasks/data/record_out.py)
    rejects: RejectSink | None = None
    input_sha: str = ""  # of exactly the bytes read, even if the file grew meanwhile
    stats: dict | None = None

    def digests(self) -> dict[str, str]:
        return {str(target): sha256_file(tmp) for target, tmp in self.files.items()}

    def discard(self) -> None:
        for tmp in self.files.values():
            tmp.unlink(missing_ok=True)


ChunkScorer = Callable[[Any], tuple[list[str], list[BadRow], dict]]  # takes what ``prepare`` gave


def stage_outputs(input_path: Path, paths: OutputPaths, chunk_rows: int, score: ChunkScorer, parquet: bool,
                  on_chunk: Callable[[Staged], None] = lambda staged: None,
                  prepare: Callable[[list[tuple[int, bytes]]], Any] = lambda chunk: chunk,
                  ahead: bool = False) -> Staged:
    """Score ``input_path`` chunk by chunk into staged predictions (and rejects, and the Parquet copy).

    ``ahead``: ``prepare`` of the next chunk runs in a thread while ``score`` takes this one. Either way files are
    written, and bytes hashed, in the input's order by this thread alone."""
    staged, hasher = Staged(), hashlib.sha256()
    predictions = staged.files[paths.predictions] = temporary_for(paths.predictions)
    try:
        with RejectSink(input_path, paths.rejects, publish=False) as bad, open(predictions, "w",
                                                                                 encoding="utf-8") as out:
            staged.rejects = bad
            for chunk, prepared in in_order(read_chunks(input_path, chunk_rows), prepare, ahead):
                for _, raw in chunk:
                    hasher.update(raw)
                lines, rejected, counts = score(prepared)
                out.writelines(lines)
                for item in rejected:
                    bad.add(item)
                staged.counts.update(counts)
                on_chunk(staged)
            out.flush()
            os.fsync(out.fileno())  # the rename must never publish bytes still in the page cache
        if bad.staged:
            staged.files[paths.rejects] = bad.staged
        if parquet:
            staged.files[paths.parquet] = temporary_for(paths.parquet)
            write_parquet_file(predictions, staged.files[paths.parquet])
    except BaseException:
        staged.discard()
        raise
    staged.input_sha = hasher.hexdigest()
    return staged


def publish(paths: OutputPaths, staged: Staged, owned: dict[str, str], manifest: dict) -> None:
    """Rename the staged outputs into place and retire the old ones, as the module docstring orders it."""
    write_json(paths.manifest, manifest | {"state": "writing", "previous_outputs": owned})
    for target, tmp in staged.files.items():
        replace(tmp, target)
    for old in _retired(owned, staged.files):
        with contextlib.suppress(FileNotFoundError):
            unlink(old)
    write_json(paths.manifest, manifest)


def _retired(owned: Iterable[str], written: dict[Path, Path]) -> list[Path]:
    """Outputs of an earlier run (ours, proven) that this run does not write: left in place they would lie."""
    return [Path(p) for p in owned if Path(p) not in written]
