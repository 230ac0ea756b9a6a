"""Training state saved at every evaluation and mid-epoch, so a killed or retried fine-tune resumes, not restarts.

``checkpoints/<key>/last`` holds the latest saved step: weights (safetensors), optimizer and scheduler
state (plain tensors and numbers, read back with ``weights_only=True``), the evaluation records and, for
fine-tuning, the ``Position``: the optimizer steps taken and what the unfinished evaluation interval has
summed so far, so a resumed run goes on at the next batch of the same epoch.
``checkpoints/<key>/best`` is the best dev evaluation as a saved classifier. Both are replaced atomically, so a
half-written checkpoint is never picked up. The key hashes everything that shapes training, so only the
same training, run again, resumes.
"""

from __future__ import annotations

import json
import pickle  # only for its exception type: nothing here unpickles with it
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from tasks.core.config import Setting, TrainConfig
from tasks.core.errors import DataError
from tasks.core.files import atomic_path, read_json, sha256_text, write_json
from tasks.core.records import EpochRecord, LabelSet, ModelSource, Record, TokenizedSplit, TokenizerRecord

STATE_FORMAT = "train-state-v3"  # v3: mid-epoch position, dropout seeded per step
# Options that change where things go or what happens after training, not the training itself.
NOT_TRAINING = {"run_name", "do_train", "do_test", "do_predict", "output_dir", "data_dir", "device", "resume",
                "promote_min_accuracy", "promote_if_better", "promote_require_baseline", "eval_batch_size",
                "calibrate", "no_baseline", "baseline_max_rows", "nnodes", "node_rank", "rdzv_endpoint",
                "dist_timeout_seconds", "torchrun", "dask_address", "save_steps", "save_minutes"}
# Keyed instead by the setting and the global batch, so 2 ranks x 4 resume what 1 x 4 x 2 accumulation began.
PER_SETTING = {"learning_rate", "batch_size", "gradient_accumulation_steps", "nproc_per_node"}


class CheckpointError(DataError):
    """A checkpoint that must not be loaded: retrying cannot make it safe."""


class Position(Record):
    """Where a fine-tune stands, beyond weights and optimizer: enough to go on at the exact next batch."""

    step: int = 0  # optimizer steps taken, over all epochs
    best_step: int = 0  # the step of the best evaluation so far (0: none yet)
    loss: float = 0.0  # summed train loss of every rank since the last evaluation
    rows: int = 0  # training rows since the last evaluation
    seconds: float = 0.0  # training seconds since the last evaluation


@dataclass(frozen=True)
class Resumed:
    epoch: int
    best: float
    best_epoch: int
    epochs: list[Record]
    position: Position | None = None  # None: pre-training, which checkpoints at epoch ends only


def checkpoint_dir(cfg: TrainConfig, setting: Setting, train: TokenizedSplit, dev: TokenizedSplit,
                   tok: TokenizerRecord, source: ModelSource, labels: LabelSet) -> Path:
    options = json.dumps(cfg.model_dump(mode="json", exclude=NOT_TRAINING | PER_SETTING), sort_keys=True)
    key = sha256_text(STATE_FORMAT, options, f"lr={setting.learning_rate!r} global_batch={cfg.global_batch(setting)}",
                      train.cache_key, dev.cache_key, tok.fingerprint, source.name_or_path or "scratch",
                      *labels.names)[:20]
    return cfg.output_dir / "checkpoints" / key


def save_state(folder: Path, model, optimizer, scheduler, epoch: int, best: float, best_epoch: int,
               epochs: list[Record], position: Position | None = None) -> None:
    """``epoch``: epochs completed; ``position`` (fine-tuning) places a save inside an epoch."""
    with atomic_path(folder / "last") as tmp:
        tmp.mkdir()
        save_model(model, str(tmp / "model.safetensors"))
        torch.save({
            # No RNG state: dropout is seeded per (seed, epoch, batch, rank), so a resumed run draws alike.
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        }, tmp / "state.pt")
        write_json(tmp / "meta.json", {"format": STATE_FORMAT, "epoch": epoch, "best": best, "best_epoch": best_epoch,
                                       "epochs": [e.model_dump() for e in epochs],
                                       "position": position.model_dump() if position else None})


def read_progress(folder: Path, record: type[Record] = EpochRecord) -> Resumed | None:
    """The epochs completed so far (no weights loaded): what a finished or interrupted training reached.

    ``record`` is the type of the epoch records: fine-tuning's by default, pre-training's for an MLM run."""
    meta_path = folder / "last" / "meta.json"
    if not meta_path.is_file():
        return None
    meta = read_json(meta_path)
    position = meta.get("position")
    return Resumed(epoch=meta["epoch"], best=meta["best"], best_epoch=meta["best_epoch"],
                   epochs=[record(**e) for e in meta["epochs"]], position=Position(**position) if position else None)


def load_state(folder: Path, model, optimizer, scheduler, record: type[Record] = EpochRecord) -> Resumed | None:
    last = folder / "last"
    progress = read_progress(folder, record)
    if progress is None:
        return None
    try:
        # weights_only: tensors, numbers and containers only; a pickled object (code) is refused unrun.
        state = torch.load(last / "state.pt", map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as exc:
        raise CheckpointError(f"{last / 'state.pt'}: refusing to load a checkpoint that holds more than tensors "
                              f"and numbers; delete {folder} to train from the start. ({exc})") from exc
    load_model(model, str(last / "model.safetensors"))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return progress
