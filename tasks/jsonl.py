"""Reading labelled JSONL line by line, turning every bad line into a reason instead of a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class DataError(ValueError):
    """Bad input data or configuration: retrying cannot help, the user must fix something."""


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line number in the file
    text: str
    label: int | str | None
    record: dict


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str
    raw: str

    def record(self, path: Path) -> dict:
        """The quarantine / rejects line: enough to find, understand and fix the row."""
        return {"file": str(path), "line": self.line, "reason": self.reason, "raw": self.raw}


@dataclass(frozen=True)
class BlankLine:
    line: int


def _label_problem(value: object) -> str | None:
    if isinstance(value, float) and value != value:
        return "label is NaN"
    # bool is a subclass of int, but true/false is almost always a mistake in a label column.
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"label must be an integer or a string, got {type(value).__name__}"
    if isinstance(value, str) and not value.strip():
        return "label is an empty string"
    return None


def parse_line(raw: bytes, line: int, text_field: str, label_field: str | None) -> Row | BadRow | BlankLine:
    if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is harmless: read past it
    raw = raw.rstrip(b"\r\n")
    try:
        text_line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRow(line, f"invalid UTF-8 at byte {exc.start}", raw.decode("utf-8", "replace"))
    if not text_line.strip():
        return BlankLine(line)
    try:
        record = json.loads(text_line)
    except json.JSONDecodeError as exc:
        return BadRow(line, f"not valid JSON: {exc.msg} (column {exc.colno})", text_line)
    if not isinstance(record, dict):
        return BadRow(line, f"expected a JSON object, got {type(record).__name__}", text_line)
    if text_field not in record:
        return BadRow(line, f"missing text field '{text_field}'", text_line)
    text = record[text_field]
    if not isinstance(text, str):
        return BadRow(line, f"text field '{text_field}' must be a string, got {type(text).__name__}", text_line)
    if not text.strip():
        return BadRow(line, f"text field '{text_field}' is empty", text_line)
    if label_field is None:
        return Row(line, text, None, record)
    if label_field not in record or record[label_field] is None:
        return BadRow(line, f"missing label field '{label_field}'", text_line)
    label = record[label_field]
    if problem := _label_problem(label):
        return BadRow(line, problem, text_line)
    return Row(line, text, label, record)


def read_lines(
    path: Path, text_field: str, label_field: str | None
) -> Iterator[Row | BadRow | BlankLine]:
    """Every line of ``path`` as exactly one item, so lines read = rows + bad rows + blank lines."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            yield parse_line(raw, number, text_field, label_field)
