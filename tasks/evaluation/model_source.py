"""Where a pretrained checkpoint comes from: a local directory, the local hub cache, or the hub.

Without network access ``from_pretrained`` on a hub id can retry for minutes before it fails;
we probe the hub endpoint first and fail within seconds with a message that says what to pass.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from prefect import task
from transformers import AutoConfig

from tasks.core.errors import DataError
from tasks.core.logs import logger
from tasks.core.records import ModelSource
from tasks.evaluation.promote import current_pointer
from tasks.training.model import HEAD_FILE, is_saved_classifier, saved_max_seq_length, saved_truncation

PROBE_SECONDS = 3.0


class ModelSourceError(DataError):
    """The checkpoint cannot be found or reached; retrying will not change that."""


def _hub_reachable(endpoint: str) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=PROBE_SECONDS):
            return True
    except OSError:
        return False


def resolve_checkpoint(checkpoint: str) -> tuple[str, bool]:
    """Return ``(name_or_path, local_files_only)`` for ``from_pretrained``, or raise at once."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelSourceError(f"{path} is a directory without config.json: not a saved model")
        return str(path.resolve()), True
    if checkpoint.startswith((".", "/", "~")) or path.suffix:
        raise ModelSourceError(f"--model_checkpoint {checkpoint}: no such directory")
    try:  # downloaded before: the hub cache answers without any network
        AutoConfig.from_pretrained(checkpoint, local_files_only=True)
        return checkpoint, True
    except OSError:
        pass
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or not _hub_reachable(endpoint):
        raise ModelSourceError(
            f"--model_checkpoint {checkpoint}: not in the local cache and the model hub ({endpoint}) cannot be "
            "reached. Pass a local directory with config.json, weights and tokenizer files (for example one "
            "written by save_pretrained), or leave --model_checkpoint out to train a small BERT from scratch."
        )
    return checkpoint, False


@task(name="locate checkpoint")
def locate_checkpoint(checkpoint: str | None) -> ModelSource:
    if checkpoint is None:
        logger().info("no --model_checkpoint given: training a small BERT from scratch (no pretrained weights)")
        return ModelSource(name_or_path=None)
    name, local_only = resolve_checkpoint(checkpoint)
    logger().info("fine-tuning pretrained checkpoint %s", name)
    config = AutoConfig.from_pretrained(name, local_files_only=local_only)
    return ModelSource(name_or_path=name, local_files_only=local_only,
                       max_positions=getattr(config, "max_position_embeddings", None))


@task(name="locate trained model")
def locate_trained_model(checkpoint: str | None, output_dir: Path) -> ModelSource:
    """Without --do_train: a saved classifier given as --model_checkpoint, else the promoted model."""
    if checkpoint is not None:
        if not is_saved_classifier(Path(checkpoint)):
            raise ModelSourceError(f"{checkpoint}: not a saved classifier (needs config.json and {HEAD_FILE})")
        path = Path(checkpoint).resolve()
        return ModelSource(name_or_path=str(path), max_positions=saved_max_seq_length(path),
                           truncation=saved_truncation(path))
    pointer = current_pointer(output_dir)
    if pointer is None:
        raise ModelSourceError(f"no promoted model under {output_dir}: pass --do_train, or --model_checkpoint DIR")
    model_dir = Path(pointer["model_dir"])
    logger().info("using the promoted model %s", model_dir)
    return ModelSource(name_or_path=str(model_dir), max_positions=saved_max_seq_length(model_dir),
                       truncation=saved_truncation(model_dir))
