"""The flows' command lines: which group of ``--help`` each option is in, and parsing before the heavy imports.

Each flow file calls its ``parse_*_args`` at the top, under ``if __name__ == "__main__":``, before it imports
Prefect, torch, transformers and the tasks (about 20 s on 2 cores): this module imports argparse, pydantic and
the config modules only, so ``--help`` and a bad option answer in well under a second.
"""

from __future__ import annotations

import argparse

from flows.cli import Group, Layout, config_from, config_parser, parse_config
from tasks.core.config import DEFAULT_SCORING_CRON, PretrainConfig, ScoreConfig, TrainConfig

_DISTRIBUTED = ("nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "torchrun", "dist_timeout_seconds")
_OPTIMIZER = ("warmup_proportion", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
              "gradient_accumulation_steps")

TRAIN_LAYOUT = Layout(
    groups=(
        Group("data", "The labelled JSONL files, their fields, and what happens to bad or leaked rows.",
              ("train_file", "dev_file", "test_file", "text_field", "label_field", "max_bad_row_fraction",
               "on_bad_rows", "leakage", "data_dir")),
        Group("model", "The encoder to fine-tune; without --model_checkpoint, a small BERT trained from scratch.",
              ("model_checkpoint", "scratch.*", "max_seq_length")),
        Group("long texts", "What the model sees of a text over --max_seq_length, in training, testing and scoring.",
              ("truncation", "head_tokens", "long_texts", "window_stride")),
        Group("training", "Fine-tuning: optimizer, epochs, the seed, and checkpoints to resume from.",
              ("batch_size", "eval_batch_size", "learning_rate", "num_train_epochs", *_OPTIMIZER, "seed",
               "save_steps", "save_minutes", "resume")),
        Group("selection", "Which dev-set evaluation is kept, when training stops early, and calibration.",
              ("selection_metric", "eval_steps", "early_stopping_patience", "early_stopping_threshold",
               "calibrate")),
        Group("pre-training", "Masked-language-model pre-training chained before fine-tuning (--pretrain_corpus).",
              ("pretrain.*",)),
        Group("distributed", "DDP training under torchrun on one or more machines, or a sweep on a Dask cluster.",
              (*_DISTRIBUTED, "dask_address")),
        Group("promotion", "The gate a tested model must pass to become the one scoring uses, and the TF-IDF "
              "baseline it is compared with.",
              ("promote_min_accuracy", "promote_if_better", "promote_require_baseline", "no_baseline",
               "baseline_max_rows")),
        Group("output and run", "What to run, where its files go, and on which device and precision.",
              ("do_train", "do_test", "do_predict", "output_dir", "run_name", "device", "precision")),
    ),
    metavars={"model_checkpoint": "DIR_OR_HUB_ID", "text_field": "FIELD", "label_field": "FIELD",
              "pretrain.text_field": "FIELD", "pretrain.corpus": "PATH", "device": "DEVICE", "run_name": "NAME",
              "rdzv_endpoint": "HOST:PORT", "dask_address": "ADDRESS"},
)

PRETRAIN_LAYOUT = Layout(
    groups=(
        Group("corpus", "The unlabelled texts to pre-train on, and the share held out for perplexity.",
              ("corpus", "text_field", "heldout_fraction", "data_dir")),
        Group("model", "The encoder to pre-train; without --model_checkpoint, a small BERT from scratch.",
              ("model_checkpoint", "scratch.*", "max_seq_length")),
        Group("pre-training", "Masking, optimizer, epochs, the seed, and resuming.",
              ("mask_probability", "whole_word_masking", "epochs", "learning_rate", "batch_size", *_OPTIMIZER,
               "seed", "resume")),
        Group("distributed", "DDP pre-training under torchrun on one or more machines.", _DISTRIBUTED),
        Group("output and run", "Where the encoder goes, and on which device and precision.",
              ("output_dir", "device", "precision")),
    ),
    metavars={"model_checkpoint": "DIR_OR_HUB_ID", "corpus": "PATH", "text_field": "FIELD", "device": "DEVICE",
              "rdzv_endpoint": "HOST:PORT"},
)

SCORE_LAYOUT = Layout(
    groups=(
        Group("input and output", "The files to score, the field to read, and what is written.",
              ("inputs", "text_field", "output_dir", "write_parquet")),
        Group("model", "The classifier that scores.", ("model_dir", "artifacts_dir")),
        Group("long texts", "What the model sees of a text over its limit.",
              ("truncation", "head_tokens", "long_texts", "window_stride")),
        Group("throughput", "Batching, device and precision.",
              ("chunk_rows", "batch_size", "max_batch_tokens", "device", "precision")),
        Group("distributed", "Scoring the files on a Dask cluster, or on local worker processes.",
              ("dask_address", "dask_workers")),
        Group("drift", "The drift report against the model's reference profile; it never changes predictions.",
              ("drift_*",)),
    ),
    metavars={"inputs": "PATH", "text_field": "FIELD", "device": "DEVICE", "dask_address": "ADDRESS"},
)


def train_parser(description: str = "") -> argparse.ArgumentParser:
    return config_parser(TrainConfig, description, TRAIN_LAYOUT)


def pretrain_parser(description: str = "") -> argparse.ArgumentParser:
    return config_parser(PretrainConfig, description, PRETRAIN_LAYOUT)


def score_parser(description: str = "") -> argparse.ArgumentParser:
    parser = config_parser(ScoreConfig, description, SCORE_LAYOUT)
    serving = parser.add_argument_group("serving", "A scheduled deployment on the Prefect server named by "
                                        "PREFECT_API_URL, instead of one run now.")
    serving.add_argument("--serve", action="store_true", help="Serve as a scheduled deployment instead of once.")
    serving.add_argument("--cron", default=DEFAULT_SCORING_CRON, metavar="CRON",
                         help=f"Schedule of the served deployment (default: {DEFAULT_SCORING_CRON}).")
    return parser


def parse_train_args(argv: list[str] | None, description: str = "") -> TrainConfig:
    """The train flow's config; a bad option exits 2 with usage and one ``error:`` line."""
    return parse_config(TrainConfig, argv, description, TRAIN_LAYOUT)


def parse_pretrain_args(argv: list[str] | None, description: str = "") -> PretrainConfig:
    return parse_config(PretrainConfig, argv, description, PRETRAIN_LAYOUT)


def parse_score_args(argv: list[str] | None, description: str = "") -> tuple[ScoreConfig, bool, str]:
    """(config, --serve, --cron) of the score flow."""
    parser = score_parser(description)
    given = vars(parser.parse_args(argv))
    serve, cron = given.pop("serve", False), given.pop("cron")
    return config_from(ScoreConfig, given, parser), serve, cron  # a bad option: usage and one error line, exit 2
