"""Validated rows in columnar form: each input file is parsed once, and every later step reads this.

Validation writes one Parquet file per split (``<run>/rows/<split>.parquet``) in row groups of
``GROUP_ROWS``: the source line, the text, the label as written (``str`` of the JSON value: train's
label set is only known once train has been read to its end), a 64-bit key of the normalised text, its
length, and the row's other fields as one strict-JSON object (null when it has none), so the test
predictions can carry them without parsing the file again. Tokenizer training, tokenization, the
baseline, prediction and the drift profile stream it in batches, so memory stays flat however long the
file is.

Text keys: NFKC-normalised, trimmed text (tasks/data/quality.py ``normalize``) hashed to 64 bits
(pandas' SipHash of the UTF-8 bytes). Two different texts share a key with probability 2^-64 per pair:
among 10 million distinct texts the chance that any pair collides is n^2 / 2^65, about 3 in a million,
and a collision could only merge two texts in the duplicate and leakage counts, never change a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.core.records import LabelSet
from tasks.data.jsonl import Row
from tasks.data.nfkc import normalize_all
from tasks.data.record_out import strict_json

GROUP_ROWS = 65_536  # rows buffered before a row group is written: ~10 MB of review text
READ_ROWS = 8_192  # rows per batch when a later step streams the file
SCHEMA = pa.schema([("line", pa.int32()), ("text", pa.string()), ("label", pa.string()), ("key", pa.uint64()),
                    ("chars", pa.int32()), ("extra", pa.string())])


def text_keys(texts: list[str]) -> np.ndarray:
    """64-bit keys of the normalised texts: equal keys mean the same text up to width forms and outer spaces."""
    if not texts:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(np.array(normalize_all(texts), dtype=object), categorize=False)


def row_batch(lines: list[int], texts: list[str], labels: list, records: list[dict],
              fields: tuple[str, str | None]) -> pa.RecordBatch:
    """The stored columns of these rows (``fields``: the text and label field, the rest goes to ``extra``)."""
    return pa.record_batch([
        pa.array(lines, pa.int32()), pa.array(texts, pa.string()), pa.array(list(map(str, labels)), pa.string()),
        pa.array(text_keys(texts), pa.uint64()), pa.array(list(map(len, texts)), pa.int32()),
        pa.array([None if len(r) <= len(fields) else _extra(r, fields) for r in records], pa.string()),
    ], schema=SCHEMA)


def _extra(record: dict, fields: tuple[str, str | None]) -> str | None:
    rest = {k: v for k, v in record.items() if k not in fields}
    return strict_json(rest)[0] if rest else None


class RowWriter:
    """Appends valid rows to a Parquet file in row groups of exactly ``GROUP_ROWS``, however the rows arrive
    (one by one, or as batches from ``row_batch``), so the file is the same; ``close`` returns the rows written."""

    def __init__(self, target: Path, text_field: str, label_field: str | None):
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target, self.fields = target, (text_field, label_field)
        self._writer = pq.ParquetWriter(target, SCHEMA)
        self._pending: list[pa.RecordBatch] = []
        self._buffered = 0
        self.written = 0

    def add(self, row: Row) -> None:
        self.add_batch(row_batch([row.line], [row.text], [row.label], [row.record], self.fields))

    def add_batch(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._buffered += batch.num_rows
        while self._buffered >= GROUP_ROWS:
            self._flush(GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        if not rows:
            return
        # One chunk per column, as a table built from whole lists: how the bytes of a row group come out.
        table = pa.Table.from_batches(self._pending, SCHEMA).combine_chunks()
        self._writer.write_table(table.slice(0, rows))
        rest = table.slice(rows)
        self._pending, self._buffered = rest.to_batches(), rest.num_rows
        self.written += rows

    def close(self) -> int:
        self._flush(self._buffered)
        self._writer.close()
        return self.written


def _without(batch: pa.RecordBatch, excluded: pa.Array | None) -> pa.RecordBatch:
    if excluded is None:
        return batch
    return batch.filter(pc.invert(pc.is_in(batch.column("line"), value_set=excluded)))


def excluded_set(lines: Iterable[int]) -> pa.Array | None:
    lines = list(lines)
    return pa.array(lines, pa.int32()) if lines else None


def iter_batches(path: Path, columns: list[str], excluded: Iterable[int] = (),
                 batch_rows: int = READ_ROWS) -> Iterator[pa.RecordBatch]:
    """The kept rows of ``path`` in file order, ``batch_rows`` at a time, less the lines in ``excluded``."""
    drop = excluded_set(excluded)
    wanted = columns if drop is None or "line" in columns else [*columns, "line"]
    # A row group at a time, by hand: ParquetFile.iter_batches held on to what it had read (1.3 GB for the
    # text column of 10M rows), reading row groups one by one stays at one group (~0.2 GB all told).
    source = pq.ParquetFile(path, pre_buffer=False)
    for group in range(source.num_row_groups):
        for batch in source.read_row_group(group, columns=wanted).to_batches(max_chunksize=batch_rows):
            kept = _without(batch, drop)
            if kept.num_rows:
                yield kept.select(columns)


def read_columns(path: Path, columns: list[str], excluded: Iterable[int] = ()) -> pa.Table:
    """Whole columns of the kept rows (for the small columns: line, key, label, chars)."""
    table = pq.read_table(path, columns=list(dict.fromkeys([*columns, "line"])))
    drop = excluded_set(excluded)
    if drop is not None:
        table = table.filter(pc.invert(pc.is_in(table.column("line"), value_set=drop)))
    return table.select(columns)


def label_ids(labels: pa.Array | pa.ChunkedArray, label_set: LabelSet) -> np.ndarray:
    """Class ids of stored labels; every stored label is one of the set (validation rejected the others)."""
    ids = pc.index_in(labels, value_set=pa.array(label_set.names, pa.string()))
    if ids.null_count:
        raise ValueError(f"stored labels outside {list(label_set.names)}: the rows file does not match its labels")
    return ids.to_numpy(zero_copy_only=False).astype(np.int64)


def texts_of(path: Path, excluded: Iterable[int] = (), batch_rows: int = READ_ROWS) -> Iterator[list[str]]:
    """The texts in batches: what tokenizer training and tokenization consume."""
    for batch in iter_batches(path, ["text"], excluded, batch_rows):
        yield batch.column("text").to_pylist()
