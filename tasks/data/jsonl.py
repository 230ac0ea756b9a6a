"""Reading labelled JSONL line by line, turning every bad line into a reason instead of a crash."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tasks.core.errors import DataError


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


class DuplicateKey(ValueError):
    """One JSON object names a key twice: which value was meant is unknowable, so the row is rejected."""


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return record


# Characters that draw nothing yet are not whitespace to str.strip(): Hangul fillers and the blank Braille cell.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode categories that never draw a glyph: format (zero-width space/joiners, BOM, bidi marks), control, spaces.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


def is_invisible(text: str) -> bool:
    """True when no character of ``text`` would show: it holds no text a model could read."""
    return all(ch.isspace() or ch in _BLANK_LETTERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES
               for ch in text)


def finite_json(value: object) -> tuple[object, int]:
    """``value`` with every NaN/Infinity replaced by null (strict JSON has neither), and how many were replaced."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, 1
    if isinstance(value, dict):
        pairs = [(k, finite_json(v)) for k, v in value.items()]
        return {k: v for k, (v, _) in pairs}, sum(n for _, (_, n) in pairs)
    if isinstance(value, list):
        items = [finite_json(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


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
        record = json.loads(text_line, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        return BadRow(line, f"not valid JSON: {exc.msg} (column {exc.colno})", text_line)
    except DuplicateKey as exc:
        return BadRow(line, f"duplicate key '{exc}' in one JSON object", text_line)
    if not isinstance(record, dict):
        return BadRow(line, f"expected a JSON object, got {type(record).__name__}", text_line)
    if text_field not in record:
        return BadRow(line, f"missing text field '{text_field}'", text_line)
    text = record[text_field]
    if not isinstance(text, str):
        return BadRow(line, f"text field '{text_field}' must be a string, got {type(text).__name__}", text_line)
    if not text.strip():
        return BadRow(line, f"text field '{text_field}' is empty", text_line)
    if is_invisible(text):
        return BadRow(line, f"text field '{text_field}' holds only invisible characters (zero-width, format or "
                            "control)", text_line)
    if label_field is None:
        return Row(line, text, None, record)
    if label_field not in record:
        return BadRow(line, f"missing label field '{label_field}'", text_line)
    if record[label_field] is None:
        return BadRow(line, f"label field '{label_field}' is null", text_line)
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
