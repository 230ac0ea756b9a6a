"""The run directory: one per training run under ``artifacts/runs``, holding everything it made."""

from __future__ import annotations

import platform
import secrets
from datetime import UTC, datetime
from pathlib import Path

import torch
import transformers
from prefect import task

from tasks.core.config import TrainConfig
from tasks.core.errors import DataError
from tasks.core.files import write_json
from tasks.core.records import RunDir


@task(name="create run directory")
def create_run_dir(cfg: TrainConfig) -> RunDir:
    name = cfg.run_name or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    if name in {".", ".."} or Path(name).name != name:  # "../x" or "a/b" would put the run outside runs/
        raise DataError(f"--run_name {name!r}: give a plain name, without '/' or '..'")
    path = (cfg.output_dir / "runs" / name).resolve()
    path.mkdir(parents=True, exist_ok=False)  # never reuse (or clean) another run's directory
    write_json(path / "config.json", {
        "config": cfg.model_dump(mode="json"),
        "environment": {
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "machine": platform.machine(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
    })
    return RunDir(path=path)


@task(name="record cache keys")
def record_cache_keys(run: RunDir, tokenizer_fingerprint: str, keys: dict[str, dict]) -> None:
    write_json(run.file("cache_keys.json"), {"tokenizer_fingerprint": tokenizer_fingerprint, "splits": keys})
