"""The predictions JSONL again as Parquet, for any mix of fields and types a user's rows carry.

Arrow's JSON reader fixes its schema on the first block, so a field that first appears (or turns from int to
float) after a megabyte fails the whole copy. Here a first pass settles every column's type over the whole file
(ints and floats promote to float; a field that holds incompatible types, say numbers and strings, is stored as its
JSON text), and a second pass writes it. Both read in chunks, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.files import atomic_path

CHUNK_ROWS = 8192
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)


def _chunks(jsonl: Path, rows: int = CHUNK_ROWS) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    with open(jsonl, encoding="utf-8") as fh:
        for line in fh:
            chunk.append(json.loads(line))
            if len(chunk) == rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _merge(name: str, old: pa.DataType, new: pa.DataType) -> pa.DataType:
    both = [pa.schema([pa.field(name, t)]) for t in (old, new)]
    return pa.unify_schemas(both, promote_options="permissive").field(name).type


def parquet_can_hold(kind: pa.DataType) -> bool:
    """False for what Arrow can hold but Parquet cannot write: a struct without fields (``{}``), at any depth."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(parquet_can_hold(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return parquet_can_hold(kind.value_type)
    return True


def settle_schema(jsonl: Path, rows: int = CHUNK_ROWS) -> tuple[pa.Schema, frozenset[str]]:
    """One type per column over the whole file, and the columns kept as JSON text because their types clash."""
    types: dict[str, pa.DataType] = {}
    as_text: set[str] = set()
    for chunk in _chunks(jsonl, rows):
        for name in dict.fromkeys(key for row in chunk for key in row):
            if name in as_text:
                continue
            try:
                found = pa.array([row.get(name) for row in chunk]).type
                types[name] = _merge(name, types[name], found) if name in types else found
                if not parquet_can_hold(types[name]):
                    raise TypeError(name)
            except _ARROW_ERRORS:
                as_text.add(name)
                types[name] = pa.string()
    return pa.schema([pa.field(n, t) for n, t in types.items()]), frozenset(as_text)


def write_parquet_copy(jsonl: Path, target: Path, rows: int = CHUNK_ROWS) -> pa.Schema:
    """``jsonl`` as Parquet at ``target`` (atomically); the schema written."""
    with atomic_path(target) as tmp:
        return write_parquet_file(jsonl, tmp, rows)


def write_parquet_file(jsonl: Path, path: Path, rows: int = CHUNK_ROWS) -> pa.Schema:
    """``jsonl`` as Parquet at ``path``, written in place (the caller renames it); the schema written."""
    schema, as_text = settle_schema(jsonl, rows)
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in _chunks(jsonl, rows):
            for row in chunk:
                for name in as_text & row.keys():
                    if row[name] is not None:
                        row[name] = json.dumps(row[name], ensure_ascii=False)
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    return schema
