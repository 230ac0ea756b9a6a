"""The report tasks: test metrics from the written predictions, and a readable ``report.md``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task
from pydantic import ConfigDict

from tasks.core.config import TrainConfig
from tasks.core.errors import DataError
from tasks.core.files import read_json, write_json, write_text
from tasks.core.logs import logger
from tasks.core.records import DataSummary, Predictions, Promotion, Record, RunDir, TokenizedSplit, TrainResult
from tasks.data.validation_report import validation_section
from tasks.evaluation.artifacts import publish_run
from tasks.evaluation.bootstrap import metric_intervals
from tasks.evaluation.calibration import ECE_BINS, expected_calibration_error, nll, rescale
from tasks.evaluation.metric_records import NO_FRESH_ROWS, BaselineResult, TestMetrics
from tasks.evaluation.plots import PLOTS, confusion_matrix, reliability, training_curves
from tasks.evaluation.predict import read_scores
from tasks.evaluation.report_markdown import comparison_section, promotion_section, test_section, training_section
from tasks.evaluation.slices import length_slices, read_truncated
from tasks.pretraining.records import PretrainResult
from tasks.pretraining.report import pretrained_model_note, pretraining_section
from tasks.training.metrics import classification_metrics
from tasks.training.model import saved_temperature


@task(name="test report")
def report_test(predictions: Predictions, data: DataSummary, run: RunDir, model_dir: Path,
                test_tokens: TokenizedSplit | None = None) -> TestMetrics:
    """Metrics from the ids and probabilities written beside the predictions JSONL, from the same arrays.

    With ``test_tokens`` (the tokenized test split, rows in the same order) accuracy and macro-F1 are given
    again on the texts that fit ``max_seq_length`` tokens and on those over it: ``length_slices``.

    When test texts also occur in train, the metrics are given again on the rows that do not: the
    score a user can expect on new text. When every test text occurs in train there is no such row, and
    those metrics are not available: ``leakage_free`` is null in ``metrics.json`` and "n/a" in the report.
    """
    labels = data.labels
    lines, y_true, y_pred, probs = read_scores(predictions.scores)
    if not len(y_true):  # validation should have stopped this run; say why rather than fail inside scikit-learn
        test = data.splits["test"]
        raise DataError(f"{test.path}: no test row left to report on ({test.valid_rows} valid, "
                        f"{len(test.excluded_lines)} left out by --leakage {data.leakage_policy})")
    metrics = classification_metrics(y_true, y_pred, labels.names)
    metrics["intervals"] = metric_intervals(y_true, y_pred, len(labels.names))
    temperature = saved_temperature(model_dir)
    raw = rescale(probs, temperature)  # what the probabilities were before temperature scaling
    metrics["calibration"] = {
        "temperature": temperature, "ece_bins": ECE_BINS,
        "ece_before": expected_calibration_error(raw, y_true), "ece_after": expected_calibration_error(probs, y_true),
        "nll_before": nll(raw, y_true), "nll_after": nll(probs, y_true),
    }
    quality = data.quality.get("test")
    if quality and quality.leaked_lines and not data.splits["test"].excluded_lines:
        leaked = np.isin(lines, np.array(quality.leaked_lines))
        metrics["leaked_rows"] = int(leaked.sum())
        if not leaked.all():  # every row leaked: no row to measure new text on, the metrics are n/a
            metrics["leakage_free"] = classification_metrics(y_true[~leaked], y_pred[~leaked], labels.names)
            metrics["leakage_free"]["intervals"] = metric_intervals(y_true[~leaked], y_pred[~leaked],
                                                                    len(labels.names))
    if test_tokens is not None:
        truncated = read_truncated(test_tokens, lines, predictions.scores)
        metrics["length_slices"] = length_slices(y_true, y_pred, truncated, predictions.long_texts)
    metrics["model_digest"] = predictions.model_digest
    result = TestMetrics.model_validate(metrics)
    write_json(run.file("metrics.json"), result.saved())
    confusion_matrix(labels.names, result.confusion_matrix.matrix, run.file("plots/confusion_matrix.png"))
    reliability(raw, probs, y_true, run.file("plots/reliability.png"))
    logger().info("test accuracy %.4f, macro-F1 %.4f on %d rows%s", result.accuracy, result.macro.f1, result.rows,
                  leakage_note(result))
    return result


def leakage_note(result: TestMetrics) -> str:
    """The log's word on rows not in train: their accuracy, n/a when every test text is in train, or nothing."""
    if result.every_row_leaked:
        return f"; leakage-free metrics {NO_FRESH_ROWS}"
    fresh = result.leakage_free
    return f"; {fresh.accuracy:.4f} on the {fresh.rows} rows not in train" if fresh else ""


def model_note(cfg: TrainConfig, train: TrainResult | None) -> str:
    if train is None:
        return f"`{cfg.model_checkpoint or 'the promoted model'}` (no training in this run)"
    if cfg.from_scratch:
        s = cfg.scratch
        # The vocabulary trained is what the texts hold, up to --scratch_vocab_size: report the one the model has.
        vocab = read_json(train.model_dir / "config.json")["vocab_size"]
        return (f"**a small BERT trained from scratch here, with no pretrained weights** ({s.num_hidden_layers} "
                f"layers, width {s.hidden_size}, WordPiece vocabulary of {vocab:,} tokens trained on the training "
                f"texts, at most {s.vocab_size:,} asked). Pass `--model_checkpoint` to fine-tune a pretrained "
                "encoder instead.")
    return f"`{cfg.model_checkpoint}`, fine-tuned"


class RunOutcome(Record):
    """Everything a training run produced that its report shows; steps a run skipped are None."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    run: RunDir
    cfg: TrainConfig
    data: DataSummary
    tokenized: dict[str, TokenizedSplit]
    train: TrainResult | None = None
    metrics: TestMetrics | None = None
    predictions: Predictions | None = None
    promotion: Promotion | None = None
    baseline: BaselineResult | None = None
    pretrained: PretrainResult | None = None


@task(name="write report")
def write_report(outcome: RunOutcome) -> str:
    o, run = outcome, outcome.run
    if o.train is not None:
        training_curves(o.train.epochs, run.file("plots/training_curves.png"))
    plots = [path for path in (run.file(f"plots/{name}") for name in PLOTS) if path.is_file()]
    model = pretrained_model_note(o.pretrained) if o.pretrained else model_note(o.cfg, o.train)
    parts = [f"# Training run `{run.path.name}`\n", f"Model: {model}\n", validation_section(o.data, o.tokenized)]
    if o.pretrained is not None:
        parts.append(pretraining_section(o.pretrained))
    if o.train is not None:
        parts.append(training_section(o.train))
    test_markdown = test_section(o.metrics) if o.metrics is not None else None
    if test_markdown is not None:
        parts.append(test_markdown)
    if plots:
        images = "\n\n".join(f"![{p.stem.replace('_', ' ')}](plots/{p.name})" for p in plots)
        parts.append(f"## Plots\n\n{images}\n")
    if o.metrics is not None and o.baseline is not None and o.baseline.comparison is not None:
        parts.append(comparison_section(o.baseline, o.metrics))
    if o.predictions is not None:
        parts.append(f"## Predictions\n\n{o.predictions.rows} rows in `{o.predictions.path}` "
                     f"(model digest `{o.predictions.model_digest[:16]}`).\n")
    if o.promotion is not None:
        parts.append(promotion_section(o.promotion))
    path = write_text(run.file("report.md"), "\n".join(parts))
    publish_run(run, o.train, test_markdown, o.predictions, o.promotion, plots)
    return str(path)
