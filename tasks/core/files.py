"""File helpers: atomic writes and digests, so a crash never leaves a half-written artifact."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_ID_LENGTH = 8


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")  # keeps ("ab", "c") and ("a", "bc") apart
    return digest.hexdigest()


def temporary_for(target: Path) -> Path:
    """A fresh temporary name beside ``target`` (``.<name>.<8 hex>.tmp``), the one ``temporaries_of`` finds."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:TEMP_ID_LENGTH]}.tmp")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; rename it into place only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_for(target)
    try:
        yield tmp
        if target.is_dir() and tmp.is_dir():
            # A directory cannot be renamed over a non-empty one: move the old one aside first.
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def temporaries_of(target: Path) -> list[Path]:
    """The temporaries ``atomic_path`` makes for ``target`` and a killed process may leave behind.

    Matched exactly (dot, name, 8 hex digits, ``.tmp``), so a user's ``.x.jsonl.backup.tmp`` is never taken for one.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{{TEMP_ID_LENGTH}}}\.tmp")
    return sorted(p for p in target.parent.glob(f".{glob.escape(target.name)}.*.tmp") if pattern.fullmatch(p.name))


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# Line breaks to str.splitlines (and so to many JSONL readers) that JSON leaves raw inside strings: NEL, LS, PS.
_RAW_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(value: Any, allow_nan: bool = True) -> str:
    """``value`` as one JSONL line (no newline), readable (not ASCII-escaped) yet one line to every reader."""
    line = json.dumps(value, ensure_ascii=False, allow_nan=allow_nan)
    for raw, escaped in _RAW_BREAKS.items():
        if raw in line:
            line = line.replace(raw, escaped)
    return line


def write_jsonl(path: Path, rows: Iterator[dict] | list[dict]) -> int:
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json_line(row) + "\n")
            count += 1
    return count
