"""Reading labelled JSONL line by line, turning every bad line into a reason instead of a crash."""

from __future__ import annotations

import json
import re
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


def shown(name: str) -> str:
    """A user's field name as it can be printed and written: a lone surrogate becomes its ``\\udXXX`` escape."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(shown(next(k for k, _ in pairs if k in seen or seen.add(k))))
    return record


# Characters that draw nothing yet are not whitespace to str.strip(): Hangul fillers and the blank Braille cell.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode categories that never draw a glyph: format (zero-width space/joiners, BOM, bidi marks), control, spaces.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


def is_invisible(text: str) -> bool:
    """True when no character of ``text`` would show: it holds no text a model could read."""
    return all(ch.isspace() or ch in _BLANK_LETTERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES
               for ch in text)


# Deeper JSON than this is no record a user meant; Python's own encoder and decoder give up near 1,000 levels.
MAX_DEPTH = 100
# JSON's \\uD800-\\uDFFF escapes: a pair of them is one character, a lone one is no character at all.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _lone_surrogate(record: dict) -> str | None:
    """The field (``a.b``) holding a string or key with a lone surrogate, which UTF-8 cannot encode."""
    stack: list[tuple[str, object]] = [("", record)]
    while stack:
        where, item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, value in pairs:
            path = f"{where}.{key}" if where else str(key)
            if (isinstance(key, str) and not _encodable(key)) or (isinstance(value, str) and not _encodable(value)):
                return shown(path)
            stack.append((path, value))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _structure_problem(raw: bytes, record: object) -> str | None:
    """What makes a parsed line unusable although ``json`` read it: depth, or a lone surrogate escape."""
    if raw.count(b"[") + raw.count(b"{") >= MAX_DEPTH and _depth(record) > MAX_DEPTH:
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    if isinstance(record, dict) and _SURROGATE_ESCAPE.search(raw) and (field := _lone_surrogate(record)):
        return (f"field '{field}' holds a lone surrogate escape (\\ud800-\\udfff without its pair): no Unicode "
                "character, so it cannot be tokenized or written as UTF-8")
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
        record = json.loads(text_line, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        return BadRow(line, f"not valid JSON: {exc.msg} (column {exc.colno})", text_line)
    except DuplicateKey as exc:
        return BadRow(line, f"duplicate key '{exc}' in one JSON object", text_line)
    except RecursionError:
        return BadRow(line, f"JSON nested deeper than {MAX_DEPTH} levels", text_line)
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits (int_max_str_digits)
        return BadRow(line, f"not valid JSON here: {str(exc).split(';')[0]}", text_line)
    if problem := _structure_problem(raw, record):
        return BadRow(line, problem, text_line)
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
