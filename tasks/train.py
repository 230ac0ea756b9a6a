"""The fine-tune task: AdamW with linear warmup, dev evaluation every epoch, best epoch kept.

The best epoch's weights are written to disk the moment its dev score is seen. The seed instead
held ``model.state_dict()`` -- live references to tensors that later epochs keep changing -- and so
saved the last epoch under the best epoch's name.
"""

from __future__ import annotations

import random
import shutil
import time

import numpy as np
import torch
from prefect import task
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from tasks.batching import TokenizedData, collate, length_grouped_batches, load_tokenized
from tasks.calibration import fit_temperature, nll
from tasks.checkpoint import checkpoint_dir, load_state, save_state
from tasks.config import TrainConfig
from tasks.device import autocast, autocast_dtype, pick_device, token_budget
from tasks.files import atomic_path, write_json
from tasks.inference import predict_logits, softmax
from tasks.logs import logger
from tasks.metrics import classification_metrics
from tasks.model import (
    load_classifier,
    new_classifier,
    pretrained_encoder,
    save_classifier,
    scratch_encoder,
    set_temperature,
    weights_digest,
)
from tasks.records import (
    EpochRecord,
    LabelSet,
    ModelSource,
    RunDir,
    TokenizedSplit,
    TokenizerRecord,
    TrainResult,
)
from tasks.tokenizer import load_tokenizer
from tasks.ui_artifacts import epoch_progress


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No decay for biases and normalisation weights: every 0-d/1-d tensor, whatever the layer names."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train_epoch(model, data: TokenizedData, batches, optimizer, scheduler, cfg: TrainConfig, pad_id: int,
                device: torch.device, dtype, desc: str) -> float:
    model.train()
    labels = torch.from_numpy(data.labels)
    total, bar = 0.0, tqdm(batches, desc=desc, leave=False, mininterval=2.0, disable=None)
    for step, rows in enumerate(bar, start=1):
        batch = {k: v.to(device, non_blocking=True) for k, v in collate(data, rows, pad_id).items()}
        with autocast(device, dtype):
            logits = model(**batch)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        total += loss.item()
        bar.set_postfix(loss=f"{total / step:.4f}")
    return total / max(len(batches), 1)


def build_model(source: ModelSource, tok: TokenizerRecord, labels: LabelSet, cfg: TrainConfig):
    tokenizer = load_tokenizer(tok.path, source.local_files_only)
    if source.name_or_path is None:
        encoder = scratch_encoder(cfg.scratch, tokenizer, cfg.max_seq_length)
    else:
        encoder = pretrained_encoder(source.name_or_path, source.local_files_only)
    return new_classifier(encoder, labels), tokenizer


@task(name="fine-tune")
def fine_tune(
    train: TokenizedSplit, dev: TokenizedSplit, source: ModelSource, tok: TokenizerRecord, labels: LabelSet,
    cfg: TrainConfig, run: RunDir,
) -> TrainResult:
    log, device = logger(), pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    seed_everything(cfg.seed)
    model, tokenizer = build_model(source, tok, labels, cfg)
    model.to(device)
    train_data, dev_data = load_tokenized(train.parquet), load_tokenized(dev.parquet)
    steps_per_epoch = -(-len(train_data) // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.num_train_epochs
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.learning_rate,
        betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon,
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * cfg.warmup_proportion), total_steps)
    log.info("training %s parameters on %s (%s) for %d epochs x %d steps, batch %d, lr %g",
             f"{sum(p.numel() for p in model.parameters()):,}", device, dtype or "fp32",
             cfg.num_train_epochs, steps_per_epoch, cfg.batch_size, cfg.learning_rate)
    folder = checkpoint_dir(cfg, train, dev, tok, source, labels)
    resumed = load_state(folder, model, optimizer, scheduler) if cfg.resume else None
    epochs, best, best_epoch = (resumed.epochs, resumed.best, resumed.best_epoch) if resumed else ([], -1.0, 0)
    if resumed:
        log.info("resuming from %s after epoch %d of %d", folder, resumed.epoch, cfg.num_train_epochs)
    for epoch in range((resumed.epoch if resumed else 0) + 1, cfg.num_train_epochs + 1):
        started = time.perf_counter()
        batches = length_grouped_batches(train_data.lengths, cfg.batch_size, np.random.default_rng([cfg.seed, epoch]))
        desc = f"epoch {epoch}/{cfg.num_train_epochs}"
        loss = train_epoch(model, train_data, batches, optimizer, scheduler, cfg, tokenizer.pad_token_id,
                           device, dtype, desc)
        seconds = time.perf_counter() - started
        logits = predict_logits(model, dev_data, cfg.eval_batch_size, tokenizer.pad_token_id, device, dtype,
                                token_budget(device, dtype))
        dev_metrics = classification_metrics(dev_data.labels, logits.argmax(axis=1), labels.names)
        score = dev_metrics["accuracy"] if cfg.selection_metric == "accuracy" else dev_metrics["macro"]["f1"]
        record = EpochRecord(
            epoch=epoch, train_loss=loss, dev_accuracy=dev_metrics["accuracy"],
            dev_macro_f1=dev_metrics["macro"]["f1"], learning_rate=scheduler.get_last_lr()[0], seconds=seconds,
            texts_per_second=len(train_data) / seconds, weights_digest=weights_digest(model),
        )
        if score > best:  # strictly better: on a tie the earlier, less trained epoch stays
            best, best_epoch = score, epoch
            save_classifier(model, tokenizer, labels, folder / "best", source.seq_length(cfg.max_seq_length))
        epochs = [e.model_copy(update={"selected": e.epoch == best_epoch}) for e in [*epochs, record]]
        save_state(folder, model, optimizer, scheduler, epoch, best, best_epoch, epochs)  # after "best": see resume
        write_json(run.file("epochs.json"), [e.model_dump() for e in epochs])
        log.info("%s: loss %.4f, dev accuracy %.4f, dev macro-F1 %.4f, %.0f texts/s%s", desc, loss,
                 record.dev_accuracy, record.dev_macro_f1, record.texts_per_second,
                 " (best so far, saved)" if best_epoch == epoch else "")
        epoch_progress(record, cfg.num_train_epochs)  # the UI's progress bar
    with atomic_path(run.model_dir) as tmp:
        shutil.copytree(folder / "best", tmp)
    write_json(run.file("epochs.json"), [e.model_dump() for e in epochs])
    log.info("selected epoch %d of %d by dev %s = %.4f", best_epoch, cfg.num_train_epochs, cfg.selection_metric, best)
    temperature, dev_nll = calibrate(run.model_dir, dev_data, cfg, device, dtype) if cfg.calibrate else (1.0, None)
    return TrainResult(model_dir=run.model_dir, best_epoch=best_epoch, best_dev_metric=best,
                       selection_metric=cfg.selection_metric, epochs=tuple(epochs), temperature=temperature,
                       dev_nll=dev_nll)


def calibrate(model_dir, dev_data, cfg: TrainConfig, device, dtype) -> tuple[float, tuple[float, float]]:
    """Fit T on the selected model's dev logits and store it with the model; argmax (accuracy) is unchanged."""
    model, tokenizer, _ = load_classifier(model_dir)
    model.to(device)
    logits = predict_logits(model, dev_data, cfg.eval_batch_size, tokenizer.pad_token_id, device, dtype,
                            token_budget(device, dtype))
    temperature = fit_temperature(logits, dev_data.labels)
    set_temperature(model_dir, temperature)
    before, after = nll(softmax(logits), dev_data.labels), nll(softmax(logits / temperature), dev_data.labels)
    logger().info("temperature scaling: T = %.3f, dev NLL %.4f -> %.4f", temperature, before, after)
    return temperature, (before, after)
