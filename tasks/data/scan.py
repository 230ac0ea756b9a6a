"""One JSONL file read in byte ranges cut at newlines, by worker processes when it is large enough to pay.

Each range is parsed (tasks/data/fast_jsonl.py) and turned into the columns the rows file stores
(tasks/data/row_store.py ``row_batch``) by a worker; this process takes the parts back in file order, numbers
their lines and writes them, so the outputs are those of a single pass. At most ``2 * workers`` ranges are in
flight, so memory stays flat in the file size. Workers are forked (Linux): they inherit the imported modules
and the normalisation table, where a spawned one would import this project and its ``__main__`` again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.core.errors import DataError
from tasks.core.records import LabelSet
from tasks.data.fast_jsonl import Chunk, parse_chunk
from tasks.data.jsonl import BadRow
from tasks.data.nfkc import warm_up
from tasks.data.row_store import row_batch

RANGE_BYTES = 4 << 20  # ~12k review lines per range
PARALLEL_BYTES = 32 << 20  # below this, starting workers costs more than they save
MAX_WORKERS = 4


@dataclass
class Part:
    """What one range holds. Its lines are numbered from ``first``: 1 for the file's first range (the only
    line 1, where a BOM is read past), 2 for any other; ``renumbered`` gives them their numbers in the file."""

    first: int
    count: int
    blank: int
    bad: list[BadRow]  # parse rejects and labels outside the label set, in line order
    rows: pa.RecordBatch
    labels: Counter  # of the kept rows


def _unknown_labels(chunk: Chunk, known: LabelSet) -> list[BadRow]:
    """The rows of ``chunk`` whose label is not in ``known``, taken out of it and returned as bad rows."""
    ok = {value: known.id_of(value) is not None for value in set(chunk.labels)}
    if all(ok.values()):
        return []
    unknown, kept = [], []
    for row in zip(chunk.lines, chunk.texts, chunk.labels, chunk.records, strict=True):
        if ok[row[2]]:
            kept.append(row)
        else:
            unknown.append(BadRow(row[0], known.unknown_reason(row[2]), json.dumps(row[3], ensure_ascii=False)))
    columns = [list(c) for c in zip(*kept, strict=True)] if kept else [[], [], [], []]
    chunk.lines, chunk.texts, chunk.labels, chunk.records = columns
    return unknown


def scan_range(path: Path, start: int, end: int, text_field: str, label_field: str | None,
               known: LabelSet | None) -> Part:
    """Parse the bytes ``start:end`` of ``path`` (whole lines) into a Part."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    raws = data.split(b"\n")
    if raws[-1] == b"":
        raws.pop()  # the range ends after a newline (only the file's last line may lack one)
    chunk = parse_chunk(raws, 1 if start == 0 else 2, text_field, label_field)
    bad = chunk.bad
    if known is not None and (unknown := _unknown_labels(chunk, known)):
        bad = sorted([*bad, *unknown], key=lambda b: b.line)
    rows = row_batch(chunk.lines, chunk.texts, chunk.labels, chunk.records, (text_field, label_field))
    return Part(chunk.first, chunk.count, len(chunk.blank), bad, rows, Counter(chunk.labels))


def _line_end(fh, pos: int, total: int) -> int:
    """The offset just after the first newline at or after ``pos``; the end of the file if there is none."""
    fh.seek(pos)
    while piece := fh.read(1 << 16):
        if (at := piece.find(b"\n")) >= 0:
            return pos + at + 1
        pos += len(piece)
    return total


def ranges(path: Path, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``size`` (``RANGE_BYTES``) covering the file, each ending just after a newline."""
    size, total = size or RANGE_BYTES, path.stat().st_size
    start = 0
    with open(path, "rb") as fh:
        while start < total:
            end = total if start + size >= total else _line_end(fh, start + size - 1, total)
            yield start, end
            start = end


def renumbered(part: Part, before: int) -> Part:
    """``part`` with its lines numbered in the file, ``before`` lines coming ahead of it."""
    shift = before + 1 - part.first
    if not shift:
        return part
    lines = pc.add(part.rows.column("line"), pa.scalar(shift, pa.int32()))
    rows = part.rows.set_column(0, "line", lines)
    return replace(part, first=before + 1, rows=rows, bad=[replace(b, line=b.line + shift) for b in part.bad])


def workers_for(path: Path) -> int:
    if sys.platform != "linux" or path.stat().st_size < PARALLEL_BYTES:
        return 1
    return min(MAX_WORKERS, len(os.sched_getaffinity(0)))


def scan_parts(path: Path, text_field: str, label_field: str | None, known: LabelSet | None,
               workers: int | None = None) -> Iterator[Part]:
    """Every line of ``path`` in one Part or another, in file order, numbered as in the file."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    workers = workers_for(path) if workers is None else workers
    jobs = ((path, start, end, text_field, label_field, known) for start, end in ranges(path))
    parts = (scan_range(*job) for job in jobs) if workers < 2 else _in_workers(jobs, workers)
    before = 0
    for part in parts:
        yield renumbered(part, before)
        before += part.count


def _in_workers(jobs: Iterator[tuple], workers: int) -> Iterator[Part]:
    warm_up()  # built once here, inherited by every worker
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        pending = deque(pool.submit(scan_range, *job) for job in islice(jobs, 2 * workers))
        while pending:
            part = pending.popleft().result()
            if (job := next(jobs, None)) is not None:
                pending.append(pool.submit(scan_range, *job))
            yield part
    finally:
        pool.shutdown(cancel_futures=True)
