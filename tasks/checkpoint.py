"""Training state saved at the end of every epoch, so a killed or retried fine-tune resumes, not restarts.

``checkpoints/<key>/last`` holds the latest complete epoch: weights (safetensors), optimizer, scheduler and
RNG states (plain tensors and numbers, read back with ``weights_only=True``) and the epoch records.
``checkpoints/<key>/best`` is the best dev epoch as a saved classifier. Both are replaced atomically, so a
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

from tasks.config import TrainConfig
from tasks.files import atomic_path, read_json, sha256_text, write_json
from tasks.jsonl import DataError
from tasks.records import EpochRecord, LabelSet, ModelSource, TokenizedSplit, TokenizerRecord

STATE_FORMAT = "train-state-v1"
# Options that change where things go or what happens after training, not the training itself.
NOT_TRAINING = {"run_name", "do_train", "do_test", "do_predict", "output_dir", "data_dir", "device", "resume",
                "promote_min_accuracy", "promote_if_better", "eval_batch_size", "calibrate", "no_baseline"}


class CheckpointError(DataError):
    """A checkpoint that must not be loaded: retrying cannot make it safe."""


@dataclass(frozen=True)
class Resumed:
    epoch: int
    best: float
    best_epoch: int
    epochs: list[EpochRecord]


def checkpoint_dir(cfg: TrainConfig, train: TokenizedSplit, dev: TokenizedSplit, tok: TokenizerRecord,
                   source: ModelSource, labels: LabelSet) -> Path:
    options = json.dumps(cfg.model_dump(mode="json", exclude=NOT_TRAINING), sort_keys=True)
    key = sha256_text(STATE_FORMAT, options, train.cache_key, dev.cache_key, tok.fingerprint,
                      source.name_or_path or "scratch", *labels.names)[:20]
    return cfg.output_dir / "checkpoints" / key


def save_state(folder: Path, model, optimizer, scheduler, epoch: int, best: float, best_epoch: int,
               epochs: list[EpochRecord]) -> None:
    with atomic_path(folder / "last") as tmp:
        tmp.mkdir()
        save_model(model, str(tmp / "model.safetensors"))
        torch.save({
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }, tmp / "state.pt")
        write_json(tmp / "meta.json", {"format": STATE_FORMAT, "epoch": epoch, "best": best, "best_epoch": best_epoch,
                                       "epochs": [e.model_dump() for e in epochs]})


def load_state(folder: Path, model, optimizer, scheduler) -> Resumed | None:
    last = folder / "last"
    if not (last / "meta.json").is_file():
        return None
    meta = read_json(last / "meta.json")
    try:
        # weights_only: tensors, numbers and containers only; a pickled object (code) is refused unrun.
        state = torch.load(last / "state.pt", map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as exc:
        raise CheckpointError(f"{last / 'state.pt'}: refusing to load a checkpoint that holds more than tensors "
                              f"and numbers; delete {folder} to train from the start. ({exc})") from exc
    load_model(model, str(last / "model.safetensors"))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return Resumed(epoch=meta["epoch"], best=meta["best"], best_epoch=meta["best_epoch"],
                   epochs=[EpochRecord(**e) for e in meta["epochs"]])
