"""The tokenize task: each split tokenized once, cached as Parquet under a content key.

The key hashes the file's bytes, the tokenizer's fingerprint, ``max_seq_length`` and how rows are
read (fields, label map), so the cache survives across runs and any change re-tokenizes.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.core.files import atomic_path, sha256_text
from tasks.core.logs import logger
from tasks.core.records import LabelSet, SplitData, TokenizedSplit, TokenizerRecord
from tasks.data.row_store import iter_batches, label_ids
from tasks.tokens.cut import encode_with_cuts
from tasks.tokens.tokenizer import load_tokenizer

CACHE_FORMAT = "tokenized-v2"  # bump when the Parquet layout changes
CHUNK_ROWS = 2048  # texts per tokenizer call: large enough for Rust-side batching, small enough for memory


def cache_key(
    split: SplitData, tok: TokenizerRecord, max_seq_length: int, text_field: str, label_field: str, labels: LabelSet
) -> str:
    return sha256_text(
        CACHE_FORMAT, split.sha256, tok.fingerprint, str(max_seq_length), text_field, label_field,
        labels.kind, *labels.names, repr(split.excluded_lines),
    )[:20]


def tokenize_rows(texts: list[str], tokenizer, max_seq_length: int) -> tuple[pa.ListArray, list[bool]]:
    """``encode_with_cuts`` in chunks, as one Arrow column."""
    ids: list[list[int]] = []
    truncated: list[bool] = []
    for start in range(0, len(texts), CHUNK_ROWS):
        chunk_ids, chunk_cut = encode_with_cuts(texts[start : start + CHUNK_ROWS], tokenizer, max_seq_length)
        ids += chunk_ids
        truncated += chunk_cut
    return pa.array(ids, type=pa.list_(pa.int32())), truncated


TOKENIZED_SCHEMA = pa.schema([("row", pa.int32()), ("line", pa.int32()), ("input_ids", pa.list_(pa.int32())),
                              ("length", pa.int32()), ("label_id", pa.int32()), ("truncated", pa.bool_())])


def write_tokenized(split: SplitData, tokenizer, labels: LabelSet, max_seq_length: int,
                    target: Path) -> tuple[int, int]:
    """Stream the split's kept rows through the tokenizer into ``target``, a chunk at a time: (rows, cut)."""
    rows = cut = 0
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, TOKENIZED_SCHEMA) as writer:
        for batch in iter_batches(split.rows_file, ["line", "text", "label"], split.excluded_lines, CHUNK_ROWS):
            input_ids, truncated = tokenize_rows(batch.column("text").to_pylist(), tokenizer, max_seq_length)
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
    return rows, cut


@task(name="tokenize", task_run_name="tokenize {split.split}")
def tokenize_split(
    split: SplitData, tok: TokenizerRecord, text_field: str, label_field: str, labels: LabelSet,
    max_seq_length: int, cache_dir: Path,
) -> TokenizedSplit:
    key = cache_key(split, tok, max_seq_length, text_field, label_field, labels)
    target = cache_dir / key / f"{split.split}.parquet"
    if target.is_file():
        truncated = pq.read_table(target, columns=["truncated"]).column("truncated")
        logger().info("tokenization cache hit for %s: %s (%d rows)", split.split, target, len(truncated))
        return TokenizedSplit(split=split.split, parquet=target, cache_key=key, cache_hit=True, rows=len(truncated),
                              truncated=pa.compute.sum(truncated).as_py() or 0)
    rows, cut = write_tokenized(split, load_tokenizer(tok.path), labels, max_seq_length, target)
    logger().info("tokenized %s: %d rows, %d cut at %d tokens -> %s (cache miss, key %s)", split.split, rows,
                  cut, max_seq_length, target, key)
    return TokenizedSplit(split=split.split, parquet=target, cache_key=key, cache_hit=False, rows=rows, truncated=cut)
