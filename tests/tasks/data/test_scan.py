"""tasks/data/scan.py: a file read in ranges, in this process or in workers, gives the outputs of one pass
line by line with ``parse_line``: the same Parquet bytes, the same rejects file, the same counts."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

import tasks.data.row_store as row_store
import tasks.data.scan as scan
from tasks.core.records import LabelSet
from tasks.data.jsonl import BadRow, BlankLine, parse_line
from tasks.data.rejects import RejectSink
from tasks.data.row_store import RowWriter
from tasks.data.validate import scan_split

LABELS = LabelSet(names=("0", "1"), kind="int")
LINES = [
    b'\xef\xbb\xbf{"news": "bom", "label": 0}\r\n', b"\n", b"not json\n", b'{"news": "a:b", "label": 1}\n',
    b'\xef\xbb\xbf{"news": "bom later", "label": 0}\n', b'{"news": "dup", "label": 1, "news": "x"}\n',
    b'{"news": "seven", "label": 7}\n', b'{"news": "\xe5\xa5\xbd\xef\xbc\x8c", "label": 1, "m": {"v": 1.5}}\n',
    b'{"news": "str", "label": "1"}\n', b"  \r\n", b'{"news": "\\ud800", "label": 0}\n', b"\xff\xfe\n",
]


def reference(path: Path, labels: LabelSet | None, out: Path) -> tuple[int, int, int]:
    """What validation wrote before the fast path: parse_line on every line, rows added one at a time."""
    writer, blank, lines = RowWriter(out / "ref.parquet", "news", "label"), 0, 0
    with RejectSink(path, out / "ref.jsonl") as bad:
        for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
            item, lines = parse_line(raw, number, "news", "label"), number
            if isinstance(item, BlankLine):
                blank += 1
            elif isinstance(item, BadRow):
                bad.add(item)
            elif labels is not None and labels.id_of(item.label) is None:
                bad.add(BadRow(number, labels.unknown_reason(item.label), json.dumps(item.record, ensure_ascii=False)))
            else:
                writer.add(item)
    return lines, writer.close(), bad.count


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("labels", [None, LABELS])
def test_ranges_and_workers_write_what_one_pass_line_by_line_writes(tmp_path, monkeypatch, workers, labels):
    monkeypatch.setattr(scan, "RANGE_BYTES", 1)  # a range per line: the BOM of line 5 starts one
    monkeypatch.setattr(row_store, "GROUP_ROWS", 4)  # row groups made of several ranges' rows
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(LINES * 5) + b'{"news": "no newline", "label": 1}')
    lines, rows, rejected = reference(path, labels, tmp_path)
    with RejectSink(path, tmp_path / "rejects.jsonl") as bad:
        got = scan_split(path, "news", "label", labels, tmp_path / "rows.parquet", bad, workers=workers)
    assert (got.lines, got.rows, bad.count) == (lines, rows, rejected) == (61, rows, 61 - rows - 10)
    assert got.blank == 10
    assert (tmp_path / "rows.parquet").read_bytes() == (tmp_path / "ref.parquet").read_bytes()
    assert (tmp_path / "rejects.jsonl").read_bytes() == (tmp_path / "ref.jsonl").read_bytes()


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_ranges_cover_the_file_and_end_after_newlines(tmp_path, size):
    path = tmp_path / "f.jsonl"
    data = b"a\n" + b"x" * 300 + b"\n\n" + b"bc\n" * 20 + b"tail"
    path.write_bytes(data)
    cuts = list(scan.ranges(path, size))
    assert cuts[0][0] == 0 and cuts[-1][1] == len(data)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(cuts))
    assert all(data[end - 1:end] == b"\n" for _, end in cuts[:-1])
    assert b"".join(data[a:b] for a, b in cuts) == data


def test_a_small_file_is_read_in_this_process_and_a_large_one_by_workers(tmp_path, monkeypatch):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"news": "a", "label": 1}\n' * 100)
    assert scan.workers_for(path) == 1
    monkeypatch.setattr(scan, "PARALLEL_BYTES", 100)
    assert scan.workers_for(path) == min(scan.MAX_WORKERS, len(os.sched_getaffinity(0)))
