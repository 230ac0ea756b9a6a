"""One chunk of a scored file: parsed and tokenized (``prepare_chunk``), then scored and written as lines.

The two halves run in different threads (``tasks/core/overlap.py``): while the model scores one chunk, the next
is parsed (orjson) and tokenized (the Rust tokenizer, GIL released). Everything that uses the tokenizer is in
the first half, so one thread alone uses it; the model only in the second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from tasks.core.records import LabelSet
from tasks.core.truncation import Truncation
from tasks.data.fast_jsonl import parse_lines
from tasks.data.jsonl import BadRow, BlankLine, Row
from tasks.data.record_out import strict_json, with_outputs
from tasks.drift.stats import chunk_stats
from tasks.tokens.batching import TokenizedData, from_token_lists
from tasks.tokens.truncation import encode_truncated, long_text_windows
from tasks.training.inference import mean_over_windows, predict_logits, softmax

OUR_FIELDS = ("pred_label", "pred_prob", "probs", "model_digest")  # what finish_chunk adds to each row


@dataclass(frozen=True)
class Scorer:
    model: object
    tokenizer: object
    labels: LabelSet
    digest: str
    max_seq_length: int
    device: object
    dtype: object
    max_tokens: int
    truncation: Truncation
    window_stride: int | None  # None: long texts are cut as ``truncation`` says, not scored as windows


@dataclass
class PreparedChunk:
    rows: list[Row]
    rejects: list[BadRow]
    counts: Counter
    ids: list[list[int]]  # one row of ids per text, cut as ``truncation`` says
    cut: list[bool]
    sequences: TokenizedData  # what the model reads: ``ids``, or with windows each long text's windows
    owners: np.ndarray | None  # with windows: the text each sequence belongs to


def prepare_chunk(scorer: Scorer, chunk: list[tuple[int, bytes]], text_field: str) -> PreparedChunk:
    """Parse and tokenize consecutive lines ``(line number, raw bytes)``."""
    parsed = parse_lines([raw for _, raw in chunk], chunk[0][0], text_field, None) if chunk else []
    rows = [p for p in parsed if isinstance(p, Row)]
    rejects = [p for p in parsed if isinstance(p, BadRow)]
    counts = Counter(rows_in=len(chunk), scored=len(rows), rejected=len(rejects),
                     blank=sum(isinstance(p, BlankLine) for p in parsed), bytes=sum(len(raw) for _, raw in chunk))
    texts = [r.text for r in rows]
    ids, cut = encode_truncated(texts, scorer.tokenizer, scorer.max_seq_length, scorer.truncation) if rows \
        else ([], [])
    counts["truncated"] = sum(cut)
    sequences, owners = ids, None
    if scorer.window_stride is not None and any(cut):
        long = [i for i, over in enumerate(cut) if over]
        windows = long_text_windows([texts[i] for i in long], scorer.tokenizer, scorer.max_seq_length,
                                    scorer.window_stride)
        sequences = [row for i, row in enumerate(ids) if not cut[i]] + [w for text in windows for w in text]
        owners = np.array([i for i in range(len(ids)) if not cut[i]]
                          + [i for i, text in zip(long, windows, strict=True) for _ in text])
        counts["windowed"], counts["windows"] = len(long), sum(map(len, windows))
    return PreparedChunk(rows, rejects, counts, ids, cut, from_token_lists(sequences), owners)


def finish_chunk(scorer: Scorer, chunk: PreparedChunk, batch_size: int) -> tuple[list[str], list[BadRow], dict]:
    """Output lines in input order, rejected rows, and the counts of one chunk (``stats``: drift statistics)."""
    if not chunk.rows:
        return [], chunk.rejects, {"counts": chunk.counts}
    probs = softmax(predict_logits(scorer.model, chunk.sequences, batch_size,
                                   scorer.tokenizer.pad_token_id, scorer.device, scorer.dtype, scorer.max_tokens))
    if chunk.owners is not None:  # with windows, a long text's probabilities are the mean of its windows'
        probs = mean_over_windows(probs, chunk.owners, len(chunk.ids))
    counts, lines, renamed = chunk.counts, [], Counter()
    for row, p in zip(chunk.rows, probs, strict=True):
        record, clashing = with_outputs(row.record, scorer.labels.prediction(p) | {"model_digest": scorer.digest[:16]})
        line, replaced = strict_json(record)
        counts["non_finite"] += replaced
        renamed.update(clashing)
        lines.append(line + "\n")
    stats = chunk_stats([r.text for r in chunk.rows], chunk.ids, chunk.cut, probs, scorer.tokenizer.unk_token_id)
    return lines, chunk.rejects, {"counts": counts, "renamed": renamed, "stats": stats}


def score_chunk(scorer: Scorer, chunk: list[tuple[int, bytes]], text_field: str,
                batch_size: int) -> tuple[list[str], list[BadRow], dict]:
    """Both halves in one go."""
    return finish_chunk(scorer, prepare_chunk(scorer, chunk, text_field), batch_size)
