"""The tokenize task: each split tokenized once, cached as Parquet under a content key.

The key hashes the file's bytes, the tokenizer's fingerprint, ``max_seq_length``, what is kept of a long text
and how rows are read (fields, label map), so the cache survives across runs and any change re-tokenizes.
With windows asked for (``--long_texts window``, test split only), every window of each text over the limit is
written beside it, so test prediction reads them instead of tokenizing again.
"""

from __future__ import annotations

import functools
import itertools
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.core.files import atomic_path, sha256_text
from tasks.core.logs import logger
from tasks.core.overlap import one_ahead
from tasks.core.records import LabelSet, SplitData, TokenizedSplit, TokenizerRecord
from tasks.core.truncation import Truncation
from tasks.data.row_store import iter_batches, label_ids
from tasks.tokens.tokenizer import load_tokenizer
from tasks.tokens.truncation import content_limit, encode_truncated, long_text_windows

CACHE_FORMAT = "tokenized-v2"  # bump when the Parquet layout changes
CHUNK_ROWS = 2048  # texts per tokenizer call: large enough for Rust-side batching, small enough for memory


def cache_key(
    split: SplitData, tok: TokenizerRecord, max_seq_length: int, text_field: str, label_field: str, labels: LabelSet,
    truncation: Truncation = Truncation(), window_stride: int | None = None,  # noqa: B008 (frozen)
) -> str:
    return sha256_text(
        CACHE_FORMAT, split.sha256, tok.fingerprint, str(max_seq_length), text_field, label_field,
        labels.kind, *labels.names, repr(split.excluded_lines), truncation.model_dump_json(), repr(window_stride),
    )[:20]


def ids_column(ids: list[list[int]]) -> pa.ListArray:
    """Lists of ids as one Arrow column, built from flat arrays (a third of ``pa.array``'s time on lists)."""
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, ids), dtype=np.int32, count=len(ids)), out=offsets[1:])
    values = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def tokenize_rows(texts: list[str], tokenizer, max_seq_length: int,
                  truncation: Truncation = Truncation()) -> tuple[list[list[int]], list[bool]]:  # noqa: B008
    """``encode_truncated`` in chunks."""
    ids: list[list[int]] = []
    truncated: list[bool] = []
    for start in range(0, len(texts), CHUNK_ROWS):
        chunk_ids, chunk_cut = encode_truncated(texts[start : start + CHUNK_ROWS], tokenizer, max_seq_length,
                                                truncation)
        ids += chunk_ids
        truncated += chunk_cut
    return ids, truncated


TOKENIZED_SCHEMA = pa.schema([("row", pa.int32()), ("line", pa.int32()), ("input_ids", pa.list_(pa.int32())),
                              ("length", pa.int32()), ("label_id", pa.int32()), ("truncated", pa.bool_())])
WINDOWS_SCHEMA = pa.schema([("row", pa.int32()), ("input_ids", pa.list_(pa.int32()))])


def windows_path(target: Path) -> Path:
    return target.with_name(target.name.replace(".parquet", ".windows.parquet"))


def long_windows(texts: list[str], truncated: list[bool], tokenizer, max_seq_length: int,
                 stride: int) -> tuple[list[int], list[list[int]]]:
    """Every window of each text over the limit: (index of its text in ``texts``, ids) per window."""
    long = [i for i, cut in enumerate(truncated) if cut]
    windows = long_text_windows([texts[i] for i in long], tokenizer, max_seq_length, stride)
    owners = [i for i, text_windows in zip(long, windows, strict=True) for _ in text_windows]
    return owners, [window for text_windows in windows for window in text_windows]


def window_stride_for(tokenizer, max_seq_length: int, stride: int | None) -> int:
    """``--window_stride``, or half a window; refused when windows would leave tokens out."""
    width = content_limit(tokenizer, max_seq_length)
    if stride is not None and stride > width:
        raise ValueError(f"--window_stride {stride} is more than a window's {width} tokens: tokens between windows "
                         "would never be seen")
    return stride or max(1, width // 2)


@dataclass(frozen=True)
class TokenizedBatch:
    input_ids: list[list[int]]
    truncated: list[bool]
    window_owners: list[int]  # the window's text, as an index into the batch
    windows: list[list[int]]


def tokenize_batch(batch: pa.RecordBatch, tokenizer, max_seq_length: int, truncation: Truncation,
                   window_stride: int | None) -> TokenizedBatch:
    """Everything the tokenizer does for one batch, so that one thread alone uses it (its settings are shared)."""
    texts = batch.column("text").to_pylist()
    input_ids, truncated = tokenize_rows(texts, tokenizer, max_seq_length, truncation)
    owners, windows = ([], []) if window_stride is None else long_windows(texts, truncated, tokenizer,
                                                                          max_seq_length, window_stride)
    return TokenizedBatch(input_ids, truncated, owners, windows)


def write_tokenized(split: SplitData, tokenizer, labels: LabelSet, max_seq_length: int, target: Path,
                    truncation: Truncation = Truncation(),  # noqa: B008 (frozen)
                    window_stride: int | None = None) -> tuple[int, int, int]:
    """Stream the split's kept rows through the tokenizer into ``target``, a chunk at a time, and with a
    ``window_stride`` every window of a long text beside it: (rows, cut, windows)."""
    rows = cut = windows = 0
    with ExitStack() as stack:
        writer = stack.enter_context(pq.ParquetWriter(stack.enter_context(atomic_path(target)), TOKENIZED_SCHEMA))
        if window_stride is not None:  # published before the rows file, which is what a cache hit looks for first
            windows_writer = stack.enter_context(
                pq.ParquetWriter(stack.enter_context(atomic_path(windows_path(target))), WINDOWS_SCHEMA))
        batches = iter_batches(split.rows_file, ["line", "text", "label"], split.excluded_lines, CHUNK_ROWS)
        work = functools.partial(tokenize_batch, tokenizer=tokenizer, max_seq_length=max_seq_length,
                                 truncation=truncation, window_stride=window_stride)
        # The next chunk is tokenized (Rust, on every core) while this one is turned into Arrow and written: the
        # tokenizing thread does as little Python as it can, since on many cores that part is what limits.
        for batch, done in one_ahead(batches, work):
            input_ids, truncated = ids_column(done.input_ids), done.truncated
            if window_stride is not None:
                windows_writer.write_table(pa.table({
                    "row": pa.array([rows + i for i in done.window_owners], pa.int32()),
                    "input_ids": pa.array(done.windows, pa.list_(pa.int32()))}, schema=WINDOWS_SCHEMA))
                windows += len(done.windows)
            writer.write_table(pa.table({
                "row": pa.array(range(rows, rows + batch.num_rows), pa.int32()),
                "line": batch.column("line"),
                "input_ids": input_ids,
                "length": pa.compute.list_value_length(input_ids).cast(pa.int32()),
                "label_id": pa.array(label_ids(batch.column("label"), labels), pa.int32()),
                "truncated": pa.array(truncated, pa.bool_()),
            }, schema=TOKENIZED_SCHEMA))
            rows += batch.num_rows
            cut += sum(truncated)
    return rows, cut, windows


@task(name="tokenize", task_run_name="tokenize {split.split}")
def tokenize_split(
    split: SplitData, tok: TokenizerRecord, text_field: str, label_field: str, labels: LabelSet,
    max_seq_length: int, cache_dir: Path, truncation: Truncation = Truncation(),  # noqa: B008 (frozen)
    windows: bool = False, window_stride: int | None = None,
) -> TokenizedSplit:
    """Token ids of the split's kept rows; ``windows``: also every window of a long text (``window_stride``
    tokens apart, half a window unless given)."""
    key = cache_key(split, tok, max_seq_length, text_field, label_field, labels, truncation,
                    (window_stride or 0) if windows else None)
    target = cache_dir / key / f"{split.split}.parquet"
    found = windows_path(target) if windows else None
    if target.is_file() and (found is None or found.is_file()):
        truncated = pq.read_table(target, columns=["truncated"]).column("truncated")
        logger().info("tokenization cache hit for %s: %s (%d rows)", split.split, target, len(truncated))
        return TokenizedSplit(split=split.split, parquet=target, cache_key=key, cache_hit=True, rows=len(truncated),
                              truncated=pa.compute.sum(truncated).as_py() or 0, truncation=truncation,
                              windows=found, window_count=pq.read_metadata(found).num_rows if found else 0)
    tokenizer = load_tokenizer(tok.path)
    stride = window_stride_for(tokenizer, max_seq_length, window_stride) if windows else None
    rows, cut, count = write_tokenized(split, tokenizer, labels, max_seq_length, target, truncation, stride)
    logger().info("tokenized %s: %d rows, %d over %d tokens (%s%s) -> %s (cache miss, key %s)", split.split, rows,
                  cut, max_seq_length, truncation.words(), f"; {count} windows, stride {stride}" if windows else "",
                  target, key)
    return TokenizedSplit(split=split.split, parquet=target, cache_key=key, cache_hit=False, rows=rows, truncated=cut,
                          truncation=truncation, windows=found, window_count=count)
