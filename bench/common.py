"""Shared set-up of the benchmarks: the seed's code (imported from ../shared at run time), data, CPU facts."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from tasks.core.device import cpu_has_bf16

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_CODE = SHARED / "seed" / "code"
CHNSENTICORP = SHARED / "data" / "chnsenticorp"
BERT_SHAPE = SHARED / "models" / "bert-base-chinese-shape"


def seed_module(name: str):
    """The seed article's own module (run, model, ...), never copied into the project: the baseline."""
    if not SEED_CODE.is_dir():
        sys.exit(f"{SEED_CODE} is missing: the benchmarks compare against the seed's code in ../shared")
    if str(SEED_CODE) not in sys.path:
        sys.path.insert(0, str(SEED_CODE))
    return __import__(name)


def seed_args(**kw) -> SimpleNamespace:
    return SimpleNamespace(**({"max_seq_length": 512, "device": "cpu", "num_labels": 2} | kw))


def read_texts(split: str, limit: int | None = None) -> list[dict]:
    with open(CHNSENTICORP / f"{split}.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:limit] if limit else rows


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return (f"CPU {cpu} ({torch.get_num_threads()} torch threads, native bf16: {cpu_has_bf16()}); GPU: {gpu}; "
            f"torch {torch.__version__}")
