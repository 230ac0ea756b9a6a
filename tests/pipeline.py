"""Runs the tokenizer and tokenize tasks the way the training flow wires them, for task-level tests."""

from __future__ import annotations

from tasks.config import TrainConfig
from tasks.records import DataSummary, ModelSource, TokenizedSplit, TokenizerRecord
from tasks.tokenize_cache import tokenize_split
from tasks.tokenizer import prepare_tokenizer


def tokenize_all(
    data: DataSummary, cfg: TrainConfig, source: ModelSource
) -> tuple[TokenizerRecord, dict[str, TokenizedSplit]]:
    cache = cfg.data_dir / "cache"
    tok = prepare_tokenizer.fn(source.name_or_path, source.local_files_only, data.splits["train"], cfg.text_field,
                               cfg.label_field, cfg.scratch.vocab_size, cache)
    return tok, {
        name: tokenize_split.fn(split, tok, cfg.text_field, cfg.label_field, data.labels, cfg.max_seq_length, cache)
        for name, split in data.splits.items()
    }
