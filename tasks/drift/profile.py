"""The reference profile saved with a model: what its held-out inputs and outputs looked like.

``profile.json`` in the model directory (covered by ``model_digest``) holds the binned statistics of the dev rows
(tasks/drift/stats.py), computed exactly as scoring computes them for new rows (same tokenizer call, same forward
pass with the saved temperature), the training label counts, and the dev confusion counts ``[pred][true]`` for the
label-shift estimate. Scoring compares every file with it (tasks/drift/compare.py).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from prefect import task

from tasks.core.config import TrainConfig
from tasks.core.device import pick_device, token_budget
from tasks.core.files import read_json, write_json
from tasks.core.logs import logger
from tasks.core.records import LabelSet, SplitData
from tasks.data.row_store import label_ids, read_columns
from tasks.drift.stats import chunk_stats
from tasks.tokens.batching import from_token_lists
from tasks.tokens.cache import CHUNK_ROWS
from tasks.tokens.cut import encode_with_cuts
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import PROFILE_FILE, load_classifier, saved_max_seq_length
from tasks.training.precision import dtype_of, inference_precision

PROFILE_FORMAT = 1
DEFAULT_CACHE_DIR = TrainConfig.model_fields["output_dir"].default  # the artifacts root both flows share


def build_profile(model_dir: Path, texts: list[str], label_ids: list[int], train_label_counts: list[int],
                  batch_size: int = 64, device: str = "auto", precision: str = "auto",
                  cache_dir: Path = DEFAULT_CACHE_DIR) -> dict:
    """The profile of ``texts`` (held-out rows with known ``label_ids``) under the model saved in ``model_dir``.

    Its predictions use the precision scoring resolves for this model and machine (recorded under ``cache_dir``),
    so a file scored from the dev rows shows no drift that only the precision made."""
    model, tokenizer, labels = load_classifier(model_dir)
    torch_device = pick_device(device)
    dtype = dtype_of(inference_precision(model_dir, torch_device, precision, cache_dir))
    max_seq_length = saved_max_seq_length(model_dir)
    ids, cut = [], []
    for start in range(0, len(texts), CHUNK_ROWS):
        chunk_ids, chunk_cut = encode_with_cuts(texts[start:start + CHUNK_ROWS], tokenizer, max_seq_length)
        ids += chunk_ids
        cut += chunk_cut
    probs = softmax(predict_logits(model.to(torch_device), from_token_lists(ids), batch_size,
                                   tokenizer.pad_token_id, torch_device, dtype, token_budget(torch_device, dtype)))
    k = len(labels.names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (probs.argmax(axis=1), np.asarray(label_ids)), 1)
    return {"format": PROFILE_FORMAT, "labels": list(labels.names), "max_seq_length": max_seq_length,
            "stats": chunk_stats(texts, ids, cut, probs, tokenizer.unk_token_id),
            "train_label_counts": [int(c) for c in train_label_counts], "dev_confusion": confusion.tolist()}


def save_profile(model_dir: Path, profile: dict) -> Path:
    return write_json(model_dir / PROFILE_FILE, profile)


@task(name="profile model on dev")
def profile_model(model_dir: Path, dev: SplitData, train: SplitData, labels: LabelSet, cfg: TrainConfig) -> Path:
    """Write the selected model's reference profile; run after calibration, so it sees the final temperature."""
    rows = read_columns(dev.rows_file, ["text", "label"], dev.excluded_lines)
    counts = [train.label_counts.get(str(name), 0) for name in labels.names]
    ids = label_ids(rows.column("label"), labels).tolist()
    profile = build_profile(model_dir, rows.column("text").to_pylist(), ids, counts, cfg.eval_batch_size, cfg.device,
                            cfg.precision, cfg.output_dir)
    logger().info("reference profile of %d dev rows -> %s", rows.num_rows, model_dir / PROFILE_FILE)
    return save_profile(model_dir, profile)


@functools.lru_cache(maxsize=4)
def profile_for(model_dir: str, digest: str) -> dict | None:
    """The model's profile, read once per process and model version; a model without one is said once."""
    path = Path(model_dir) / PROFILE_FILE
    if not path.is_file():
        logger().warning("%s has no reference profile (%s; trained before drift reports existed): scoring goes "
                         "on without drift statistics. Retrain to get them.", model_dir, PROFILE_FILE)
        return None
    return read_json(path)
