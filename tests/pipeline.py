"""Task-level helpers: validate one file, tokenize as the training flow wires it, save a tiny classifier."""

from __future__ import annotations

from pathlib import Path

import torch

from tasks.config import ScratchModel, TrainConfig
from tasks.model import new_classifier, save_classifier, scratch_encoder
from tasks.records import DataSummary, LabelSet, ModelSource, SplitData, TokenizedSplit, TokenizerRecord
from tasks.tokenize_cache import tokenize_split
from tasks.tokenizer import prepare_tokenizer, train_wordpiece
from tasks.validate import validate_file


def validated(path: Path, name: str = "train", labels: LabelSet | None = None) -> SplitData:
    """One file through validation (fields news/label): its record, with the rows file beside the file."""
    return validate_file(name, path, "news", "label", labels, path.with_name(f"{path.stem}.rows.parquet"),
                         path.with_name(f"{path.stem}.rejects.jsonl"), 1.0)[0]


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


def save_tiny_classifier(folder: Path, labels: LabelSet, texts: list[str], seed: int = 0) -> Path:
    """A randomly initialised one-layer classifier saved the way training saves its best epoch."""
    tokenizer = train_wordpiece(texts, vocab_size=120)
    torch.manual_seed(seed)
    shape = ScratchModel(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=120)
    model = new_classifier(scratch_encoder(shape, tokenizer, 64), labels).eval()
    return save_classifier(model, tokenizer, labels, folder, max_seq_length=64)
