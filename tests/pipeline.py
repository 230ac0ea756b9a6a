"""Task-level helpers: validate a file, tokenize as the flow does, a tiny training job, a tiny classifier."""

from __future__ import annotations

from pathlib import Path

import torch

from tasks.core.config import ScratchModel, TrainConfig
from tasks.core.records import DataSummary, LabelSet, ModelSource, RunDir, SplitData, TokenizedSplit, TokenizerRecord
from tasks.core.truncation import Truncation
from tasks.data.validate import validate_file, validate_splits
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import prepare_tokenizer, train_wordpiece
from tasks.training.checkpoint import checkpoint_dir
from tasks.training.loop import TrainJob
from tasks.training.model import new_classifier, save_classifier, scratch_encoder

TINY = ScratchModel(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=120)


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


def save_tiny_classifier(folder: Path, labels: LabelSet, texts: list[str], seed: int = 0,
                         truncation: Truncation | None = None) -> Path:
    """A randomly initialised one-layer classifier saved the way training saves its best epoch (64 tokens)."""
    tokenizer = train_wordpiece(texts, vocab_size=120)
    torch.manual_seed(seed)
    shape = ScratchModel(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=120)
    model = new_classifier(scratch_encoder(shape, tokenizer, 64), labels).eval()
    return save_classifier(model, tokenizer, labels, folder, max_seq_length=64, truncation=truncation)


def tiny_train_job(work: Path, paths: dict[str, Path], progress_seconds: float = 0.0, **overrides) -> TrainJob:
    """A fine-tune job as the fine-tune task builds it: tiny scratch model, data validated and tokenized under
    ``work/data``, checkpoints under ``work/<output_dir>`` (default ``artifacts``)."""
    settings = {"train_file": paths["train"], "dev_file": paths["dev"], "test_file": paths["test"], "scratch": TINY,
                "num_train_epochs": 2, "batch_size": 16, "learning_rate": 3e-3, "max_seq_length": 32,
                "data_dir": work / "data", "output_dir": work / "artifacts"}
    cfg = TrainConfig(**(settings | overrides)).resolved()
    return job_for(cfg, paths, cfg.output_dir / "run", progress_seconds=progress_seconds)


def job_for(cfg: TrainConfig, paths: dict[str, Path], run_path: Path, **job) -> TrainJob:
    """The first setting of ``cfg`` as the fine-tune task builds its job: data validated into ``run_path``,
    tokenized, from scratch; ``job`` sets further TrainJob fields."""
    run = RunDir(path=run_path)
    run.path.mkdir(parents=True, exist_ok=True)
    data = validate_splits.fn(paths, "news", "label", 0.0, run)
    source = ModelSource(name_or_path=None)
    tok, tokenized = tokenize_all(data, cfg, source)
    setting = cfg.settings()[0]
    folder = checkpoint_dir(cfg, setting, tokenized["train"], tokenized["dev"], tok, source, data.labels)
    return TrainJob(train=tokenized["train"].parquet, dev=tokenized["dev"].parquet, source=source, tok=tok,
                    labels=data.labels, cfg=cfg, setting=setting, folder=folder, **job)
