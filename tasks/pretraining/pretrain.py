"""The pre-train task: masked-language-model training, cached by content like the token cache.

The key hashes the tokenized corpus, the tokenizer, where training starts (scratch shape, or the
checkpoint's name and weights) and every setting that shapes training. The same key reuses the encoder
trained before, and says so; a run killed midway resumes from its last complete epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import task

from tasks.core.config import PretrainConfig
from tasks.core.device import pick_device
from tasks.core.files import read_json, sha256_file, sha256_text, write_json
from tasks.core.logs import logger
from tasks.core.records import TokenizerRecord
from tasks.pretraining.loop import MlmJob, heldout_split, run_pretraining
from tasks.pretraining.records import MlmCorpus, MlmEpochRecord, PretrainResult
from tasks.pretraining.report import epoch_progress, publish_pretraining
from tasks.training.checkpoint import read_progress
from tasks.training.launch import launch_torchrun
from tasks.training.loop import Ranks

PRETRAIN_FORMAT = "mlm-pretrain-v1"
# Where things go and how many processes share the work: not what is learnt (the global batch is).
NOT_TRAINING = {"corpus", "text_field", "data_dir", "output_dir", "device", "resume", "nproc_per_node", "nnodes",
                "node_rank", "rdzv_endpoint", "torchrun", "dist_timeout_seconds", "gradient_accumulation_steps",
                "model_checkpoint"}


def start_identity(cfg: PretrainConfig, checkpoint: str | None) -> str:
    """What training starts from: the scratch shape, or the checkpoint's name and the digest of its files."""
    if checkpoint is None:
        return "scratch " + cfg.scratch.model_dump_json()
    folder = Path(checkpoint)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + [folder / "config.json"]
    return sha256_text(checkpoint, *(sha256_file(f) for f in files if f.is_file()))


def pretrain_dir(cfg: PretrainConfig, corpus: MlmCorpus, tok: TokenizerRecord, checkpoint: str | None) -> Path:
    settings = json.dumps(cfg.model_dump(mode="json", exclude=NOT_TRAINING), sort_keys=True)
    key = sha256_text(PRETRAIN_FORMAT, settings, f"global_batch={cfg.global_batch}", corpus.cache_key,
                      tok.fingerprint, start_identity(cfg, checkpoint))[:20]
    return cfg.output_dir / "pretrained" / key


def start_note(cfg: PretrainConfig, checkpoint: str | None) -> str:
    s = cfg.scratch
    return (f"from scratch ({s.num_hidden_layers} layers, width {s.hidden_size}, WordPiece vocabulary of up to "
            f"{s.vocab_size} tokens trained on the corpus)" if checkpoint is None else f"continued from `{checkpoint}`")


@task(name="pre-train", task_run_name="pre-train (masked LM, {cfg.epochs} epochs)")
def pretrain_encoder(cfg: PretrainConfig, corpus: MlmCorpus, tok: TokenizerRecord, checkpoint: str | None = None,
                     local_files_only: bool = True) -> PretrainResult:
    """Train (or reuse) the encoder; returns where it is, ready for ``--model_checkpoint``."""
    log = logger()
    folder = pretrain_dir(cfg, corpus, tok, checkpoint)
    if (folder / "result.json").is_file() and (folder / "model" / "config.json").is_file():
        result = PretrainResult(**read_json(folder / "result.json")).model_copy(update={"cache_hit": True})
        log.info("pre-training cache hit: reusing the encoder pre-trained before on the same corpus, start and "
                 "settings (%d epochs, %.0f s then): %s; not training again", len(result.epochs), result.seconds,
                 result.model_dir)
        publish_pretraining(result, folder)
        return result
    job = MlmJob(corpus=corpus.parquet, tok=tok, cfg=cfg, checkpoint=checkpoint, local_files_only=local_files_only,
                 folder=folder)
    log.info("pre-training %s on %s; key %s", start_note(cfg, checkpoint), corpus.description, folder.name)

    def progress(record: MlmEpochRecord) -> None:
        epoch_progress(record, cfg.epochs)

    if cfg.distributed:
        launch_torchrun(job, folder / "torchrun", log.info, on_epoch=progress, marker="held-out loss",
                        record_type=MlmEpochRecord, worker="tasks.pretraining.worker")
    else:
        run_pretraining(job, Ranks(), pick_device(cfg.device), log.info, on_epoch=progress)
    epochs = tuple(read_progress(folder, MlmEpochRecord).epochs)
    result = PretrainResult(
        model_dir=(folder / "model").resolve(), cache_key=folder.name, cache_hit=False, corpus=corpus.description,
        texts=corpus.texts, sequences=corpus.sequences, tokens=corpus.tokens,
        heldout_sequences=len(heldout_split(corpus.sequences, cfg.heldout_fraction, cfg.seed)[1]), epochs=epochs,
        seconds=sum(e.seconds for e in epochs), start=start_note(cfg, checkpoint),
        mask_probability=cfg.mask_probability)
    write_json(folder / "result.json", result.model_dump(mode="json"))  # last: its presence means complete
    publish_pretraining(result, folder)
    return result
