"""Writing a user's record back out: strict JSON, and our fields beside theirs without losing any of theirs."""

from __future__ import annotations

import math

from tasks.core.files import json_line


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


def strict_json(value: object) -> tuple[str, int]:
    """``value`` as one line of strict JSON, and how many NaN/Infinity values (``1e400`` too) became null."""
    try:
        return json_line(value, allow_nan=False), 0
    except ValueError:  # only non-finite floats: parse_line already refused what else json.dumps could not write
        clean, replaced = finite_json(value)
        return json_line(clean, allow_nan=False), replaced


KEPT_PREFIX = "input."  # a user's field named like one of ours is kept under this prefix (repeated while taken)


def with_outputs(record: dict, ours: dict) -> tuple[dict, tuple[str, ...]]:
    """``record`` followed by ``ours``; a user's field with one of our names is kept as ``input.<name>``, never
    overwritten, and its name is returned so the caller can count and report it."""
    clashing = tuple(name for name in ours if name in record)
    if not clashing:
        return record | ours, ()
    taken = set(record) | set(ours)
    renamed = {}
    for name in clashing:
        kept = KEPT_PREFIX + name
        while kept in taken:
            kept = KEPT_PREFIX + kept
        taken.add(kept)
        renamed[name] = kept
    return {renamed.get(k, k): v for k, v in record.items()} | ours, clashing
