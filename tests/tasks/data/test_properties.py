"""Properties of reading and validating any file a user can give: no exception escapes, every line is counted.

Examples found failing once are pinned with ``@example`` so they run first, every time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tasks.core.errors import DataError
from tasks.data.jsonl import BadRow, BlankLine, Row, parse_line
from tasks.data.validate import validate_file
from tests.strategies import file_bytes, lines

FOUND = [  # rows that crashed the reader, validation or scoring before issue 24 (see test_jsonl.UNUSABLE)
    [b'{"news": "a\\ud800b", "label": 1}'], [b'{"news": "ok", "label": 1, "x": ' + b"1" * 5000 + b"}"],
    [b'{"news": "ok", "label": 1, "x": ' + b"[" * 990 + b"]" * 990 + b"}"], [b'{"news": "ok", "label": 1e400}'],
    [b'{"news": "ok", "label": 1, "\\udfff": 1, "\\udfff": 2}'],
]
LINES_PROPERTY = settings(max_examples=300, deadline=None)


def line_count(data: bytes) -> int:
    return len(data.split(b"\n")) - (1 if data.endswith(b"\n") or not data else 0)


@LINES_PROPERTY
@given(lines, st.sampled_from(["label", None]))
def test_every_line_parses_to_exactly_one_item_and_rejects_can_be_written(items, label_field):
    for number, raw in enumerate(items, start=1):
        item = parse_line(raw + b"\n", number, "news", label_field)
        assert isinstance(item, Row | BadRow | BlankLine) and item.line == number
        if isinstance(item, BadRow):
            assert item.reason and json.dumps(item.record(Path("f")), ensure_ascii=False).encode("utf-8")
        if isinstance(item, Row):
            assert item.text.strip() and item.text.encode("utf-8")  # a text the tokenizer and Parquet can take


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines, st.booleans())
@example(FOUND[0], True).via("lone surrogate")
@example(FOUND[1], True).via("5000 digits")
@example(FOUND[2], False).via("990 levels")
@example(FOUND[3], True).via("1e400 label")
@example(FOUND[4], True).via("unprintable duplicate key")
def test_validation_counts_every_line_and_stores_what_it_keeps(tmp_path, items, trailing):
    source = tmp_path / "train.jsonl"
    data = file_bytes(items, trailing)
    source.write_bytes(data)
    rows_file, rejects = tmp_path / "rows.parquet", tmp_path / "rejects.jsonl"
    rows_file.unlink(missing_ok=True)
    rejects.unlink(missing_ok=True)
    try:
        split, _ = validate_file("train", source, "news", "label", None, rows_file, rejects, 1.0)
    except DataError as exc:  # no valid row (or an empty file): a message naming the file, never a traceback
        assert str(source) in str(exc)
        return
    assert split.lines_read == line_count(data) == split.valid_rows + split.rejected_rows + split.blank_lines
    stored = pq.read_table(rows_file)
    assert stored.num_rows == split.valid_rows
    for extra in stored.column("extra").to_pylist():  # the other fields, as strict JSON
        assert extra is None or isinstance(json.loads(extra, parse_constant=lambda c: 1 / 0), dict)
    written = rejects.read_text(encoding="utf-8").splitlines() if split.rejected_rows else []
    assert len(written) == split.rejected_rows
    assert all(json.loads(line)["reason"] and json.loads(line)["line"] >= 1 for line in written)
