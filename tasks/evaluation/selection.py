"""Dev-set model selection: the best dev score over every setting and epoch wins; only it goes on.

The winner's best-epoch snapshot becomes the run's model; temperature scaling is fitted on its dev
logits. ``sweep.json`` and the ``training-sweep`` table list every setting, the winner marked. Test is
not touched here: the flow evaluates the winner on test once.
"""

from __future__ import annotations

import shutil

from prefect import task
from prefect.artifacts import create_table_artifact

from tasks.core.config import TrainConfig
from tasks.core.device import pick_device, token_budget
from tasks.core.files import atomic_path, write_json
from tasks.core.logs import in_prefect_run, logger
from tasks.core.records import RunDir, SweepEntry, TokenizedSplit, TrainResult
from tasks.evaluation.calibration import fit_temperature, nll
from tasks.tokens.batching import load_tokenized
from tasks.training.evaluations import selected_name
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import load_classifier, set_temperature
from tasks.training.precision import dtype_of, inference_precision


def pick_winner(results: list[TrainResult]) -> int:
    """Index of the best dev score; on a tie the first setting listed wins (the order is the user's)."""
    return max(range(len(results)), key=lambda i: (results[i].best_dev_metric, -i))


def sweep_entries(results: list[TrainResult], winner: int) -> tuple[SweepEntry, ...]:
    return tuple(SweepEntry(setting=r.setting, best_epoch=r.best_epoch, best_step=r.best_step,
                            best_dev_metric=r.best_dev_metric, epochs_run=max((e.epoch for e in r.epochs), default=0),
                            stop_reason=r.stop_reason, seconds=r.seconds, winner=i == winner)
                 for i, r in enumerate(results))


def sweep_rows(entries: tuple[SweepEntry, ...]) -> list[dict]:
    return [{"learning rate": f"{e.setting.learning_rate:g}", "batch size": e.setting.batch_size,
             "best epoch": e.best_epoch, "best step": e.best_step, "dev metric": round(e.best_dev_metric, 4),
             "epochs run": e.epochs_run,
             "train seconds": round(e.seconds, 1), "early stop": e.stop_reason or "",
             "winner": "yes" if e.winner else ""}
            for e in entries]


@task(name="select model on dev")
def select_model(results: list[TrainResult], dev: TokenizedSplit, cfg: TrainConfig, run: RunDir) -> TrainResult:
    log = logger()
    winner = pick_winner(results)
    best, entries = results[winner], sweep_entries(results, winner)
    with atomic_path(run.model_dir) as tmp:
        shutil.copytree(best.model_dir, tmp)
    write_json(run.file("epochs.json"), [e.model_dump() for e in best.epochs])
    write_json(run.file("sweep.json"), [e.model_dump(mode="json") for e in entries])
    if in_prefect_run():
        create_table_artifact(key="training-sweep", table=sweep_rows(entries),
                              description=f"Every setting's best dev {cfg.selection_metric}; the winner goes to test")
    log.info("selected %s, %s, by dev %s = %.4f (%d setting(s))", best.setting.name,
             selected_name(best.epochs, best.best_epoch, best.best_step), cfg.selection_metric, best.best_dev_metric,
             len(results))
    temperature, dev_nll = calibrate(run, dev, cfg) if cfg.calibrate else (1.0, None)
    return best.model_copy(update={"model_dir": run.model_dir, "temperature": temperature, "dev_nll": dev_nll,
                                   "sweep": entries})


def calibrate(run: RunDir, dev: TokenizedSplit, cfg: TrainConfig) -> tuple[float, tuple[float, float]]:
    """Fit T on the selected model's dev logits and store it with the model; argmax (accuracy) is unchanged.

    The logits come in the precision scoring will use (tasks/training/precision.py), so T is fitted to them."""
    model, tokenizer, _ = load_classifier(run.model_dir)
    device = pick_device(cfg.device)
    dtype = dtype_of(inference_precision(run.model_dir, device, cfg.precision, cfg.output_dir))
    model.to(device)
    data = load_tokenized(dev.parquet)
    logits = predict_logits(model, data, cfg.eval_batch_size, tokenizer.pad_token_id, device, dtype,
                            token_budget(device, dtype))
    temperature = fit_temperature(logits, data.labels)
    set_temperature(run.model_dir, temperature)
    before, after = nll(softmax(logits), data.labels), nll(softmax(logits / temperature), data.labels)
    logger().info("temperature scaling: T = %.3f, dev NLL %.4f -> %.4f", temperature, before, after)
    return temperature, (before, after)
