"""What "already scored" means: the same input bytes, model, and every option that shapes the output bytes.

A file is skipped only when its manifest records all three and the predictions on disk still match it; otherwise
it is scored again, and the log says which of them changed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tasks.core.config import ScoreConfig
from tasks.core.device import pick_device, token_budget
from tasks.core.files import read_json, sha256_file, sha256_text
from tasks.core.truncation import Truncation
from tasks.scoring.files import OutputPaths
from tasks.scoring.ownership import SCORER, is_our_manifest
from tasks.scoring.publish import Staged
from tasks.training.model import saved_max_seq_length, saved_truncation
from tasks.training.precision import dtype_of, inference_precision

# Bumped whenever the bytes written for the same input, model and options change (2: non-finite numbers as null;
# 3: a user's field named like one of ours is kept as input.<name>, and 1e400 is written as null too).
OUTPUT_FORMAT = 3
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def tokenizer_digest(model_dir: Path) -> str:
    """The tokenizer files saved with the model: the model digest covers weights only."""
    present = [model_dir / name for name in TOKENIZER_FILES if (model_dir / name).is_file()]
    return sha256_text(*(f"{p.name}:{sha256_file(p)}" for p in present))[:16]


def scoring_truncation(cfg: ScoreConfig, model_dir: Path) -> Truncation:
    """--truncation if given, else what the model was trained with: a model sees long texts as it learned them."""
    if cfg.truncation is None:
        return saved_truncation(model_dir)
    return Truncation(mode=cfg.truncation, head_tokens=cfg.head_tokens)


def scoring_options(cfg: ScoreConfig, model_dir: Path) -> dict:
    """Every setting the output bytes depend on, resolved for this machine ('auto' precision is not a value).

    Chunk and batch sizes are in because they decide which texts share a padded batch, and so the last bits
    of each probability.
    """
    device = pick_device(cfg.device)
    dtype = dtype_of(inference_precision(model_dir, device, cfg.precision, cfg.artifacts_dir))
    return {
        "output_format": OUTPUT_FORMAT, "text_field": cfg.text_field, "device": device.type,
        "dtype": str(dtype or "torch.float32").removeprefix("torch."),
        "max_seq_length": saved_max_seq_length(model_dir), "tokenizer": tokenizer_digest(model_dir),
        "chunk_rows": cfg.chunk_rows, "batch_size": cfg.batch_size,
        "max_batch_tokens": token_budget(device, dtype, cfg.max_batch_tokens),
        "truncation": scoring_truncation(cfg, model_dir).model_dump(), "long_texts": cfg.long_texts,
        "window_stride": cfg.window_stride,
    }


def _changed(before: dict, now: dict) -> str:
    return ", ".join(f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in now if before.get(k) != now.get(k))


def redo_reason(paths: OutputPaths, input_sha: str, digest: str, options: dict, parquet: bool) -> str | None:
    """Why the file must be scored (again), or None when its outputs are complete for exactly this request."""
    if not paths.manifest.is_file():
        return "not scored yet"
    try:
        manifest = read_json(paths.manifest)
    except ValueError:
        return "its manifest is unreadable"
    if not is_our_manifest(manifest):
        return "its manifest was not written by this scorer"
    if manifest.get("state", "complete") != "complete":
        return "a previous run stopped while publishing its outputs"
    if manifest.get("input_sha256") != input_sha:
        return "the input changed since it was scored"
    if manifest.get("model_digest") != digest:
        return f"scored with another model ({str(manifest.get('model_digest'))[:16]})"
    if "options" not in manifest:
        return "scored by an older version that did not record its options"
    if manifest["options"] != options:
        return f"scoring options changed: {_changed(manifest['options'], options)}"
    if not paths.predictions.is_file() or manifest.get("output_sha256") != sha256_file(paths.predictions):
        return "the predictions file is missing or differs from its manifest"
    if parquet and not paths.parquet.is_file():
        return "the Parquet copy is missing"
    return None


def build_manifest(input_path: Path, paths: OutputPaths, model_dir: Path, digest: str, options: dict,
                   staged: Staged, seconds: float) -> dict:
    """The record of one scored file; written last, it is what a later run and ``verify_scored`` trust."""
    counts, bad = staged.counts, staged.rejects
    outputs = staged.digests()
    return {
        "scorer": SCORER, "state": "complete",
        "input": str(input_path), "input_sha256": staged.input_sha, "rows_in": counts["rows_in"],
        "rows_scored": counts["scored"], "rows_rejected": counts["rejected"], "blank_lines": counts["blank"],
        "rejected_by_reason": bad.by_reason(), "rejected_first_lines": bad.reasons_with_lines() or None,
        "rows_truncated": counts["truncated"], "non_finite_values_as_null": counts["non_finite"],
        # --long_texts window: the rows over the limit scored as several windows, and how many windows they made.
        "rows_windowed": counts["windowed"], "windows": counts["windows"],
        # Rows per field of theirs kept as input.<name> because we write a field of that name (record_out.py).
        "input_fields_renamed": dict(staged.renamed),
        "warning": no_predictions_warning(counts, bad.reasons_with_lines()),
        "output": str(paths.predictions), "output_sha256": outputs[str(paths.predictions)],
        "rejects": str(paths.rejects) if counts["rejected"] else None, "outputs": outputs,
        "model_dir": str(model_dir), "model_digest": digest, "options": options, "seconds": round(seconds, 3),
        "texts_per_second": round(counts["scored"] / max(seconds, 1e-9), 1),
        "scored_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def no_predictions_warning(counts: Counter | dict, reasons: str = "") -> str | None:
    """Why a file gave no predictions, or None when it gave some: such a run must not look like a clean one."""
    if counts.get("scored"):
        return None
    if counts.get("rejected"):
        return f"every row was rejected ({counts['rejected']}): {reasons or 'see the rejects file'}"
    return "the file is empty" if not counts.get("rows_in") else "the file holds only blank lines"
