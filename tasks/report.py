"""The report tasks: test metrics from the written predictions, and a readable ``report.md``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from prefect import task

from tasks.bootstrap import Interval, metric_intervals
from tasks.calibration import ECE_BINS, expected_calibration_error, nll, rescale
from tasks.comparison import comparison_section
from tasks.config import TrainConfig
from tasks.evaluations import by_step, selected_name
from tasks.files import read_json, write_json, write_text
from tasks.logs import logger
from tasks.markdown import markdown_table
from tasks.metrics import classification_metrics
from tasks.mlm_records import PretrainResult
from tasks.model import saved_temperature
from tasks.plots import PLOTS, confusion_matrix, reliability, training_curves
from tasks.pretrain_report import pretrained_model_note, pretraining_section
from tasks.records import DataSummary, Predictions, Promotion, RunDir, TokenizedSplit, TrainResult
from tasks.selection import sweep_rows
from tasks.ui_artifacts import epoch_rows, publish_run
from tasks.validation_report import validation_section


@task(name="test report")
def report_test(predictions: Predictions, test: TokenizedSplit, label_field: str, data: DataSummary,
                run: RunDir, model_dir: Path) -> dict:
    """Metrics computed from the predictions file itself, so the report and the file cannot disagree.

    When test texts also occur in train, the metrics are given again on the rows that do not: the
    score a user can expect on new text.
    """
    labels = data.labels
    y_true, y_pred, probs = [], [], []
    with open(predictions.path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            y_true.append(labels.id_of(row[label_field]))
            y_pred.append(labels.id_of(row["pred_label"]))
            probs.append([row["probs"][name] for name in labels.names])
    y_true, y_pred, probs = np.array(y_true), np.array(y_pred), np.array(probs)
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
        lines = pq.read_table(test.parquet, columns=["line"]).column("line").to_numpy()
        fresh = ~np.isin(lines, np.array(quality.leaked_lines))
        metrics["leakage_free"] = classification_metrics(y_true[fresh], y_pred[fresh], labels.names)
        if fresh.any():
            metrics["leakage_free"]["intervals"] = metric_intervals(y_true[fresh], y_pred[fresh], len(labels.names))
    metrics["model_digest"] = predictions.model_digest
    write_json(run.file("metrics.json"), metrics)
    confusion_matrix(labels.names, metrics["confusion_matrix"]["matrix"], run.file("plots/confusion_matrix.png"))
    reliability(raw, probs, y_true, run.file("plots/reliability.png"))
    fresh = metrics.get("leakage_free")
    extra = f"; {fresh['accuracy']:.4f} on the {fresh['rows']} rows not in train" if fresh else ""
    logger().info("test accuracy %.4f, macro-F1 %.4f on %d rows%s", metrics["accuracy"], metrics["macro"]["f1"],
                  metrics["rows"], extra)
    return metrics


def training_section(train: TrainResult) -> str:
    # The same cells as the training-epochs artifact, so the UI and report.md show the same numbers.
    cells = epoch_rows(train.epochs)
    short = {"dev accuracy": "dev acc", "learning rate": "lr", "selected": ""}  # the columns' names, shorter
    names = list(cells[0]) if cells else ["epoch", "train loss", "dev accuracy", "dev macro-F1", "learning rate",
                                          "seconds", "texts/s", "selected"]
    header = [short.get(name, name) for name in names]
    rows = [[*list(row.values())[:-1], "**selected**" if row["selected"] else ""] for row in cells]
    table = markdown_table(header, rows)
    calibrated = (f" Temperature scaling on dev: T = {train.temperature:.3f}, dev NLL {train.dev_nll[0]:.4f} -> "
                  f"{train.dev_nll[1]:.4f}." if train.dev_nll else "")
    setting = f" with {train.setting.name}" if train.setting else ""
    stopped = f" Early stopping {train.stop_reason}." if train.stop_reason else ""
    sweep = ""
    if len(train.sweep) > 1:
        rows = sweep_rows(train.sweep)
        sweep = (f"\n\nSweep: {len(rows)} settings, each its own fine-tune run; the best dev score over every "
                 f"setting and evaluation wins, and only the winner is evaluated on test.\n\n"
                 + markdown_table(list(rows[0]), [list(r.values()) for r in rows]))
    steps = by_step(train.epochs)
    listed = "Evaluations (every `--eval_steps` steps and the last)" if steps else "Epochs"
    return (f"## Training\n\nSelected {selected_name(train.epochs, train.best_epoch, train.best_step)}{setting} by "
            f"dev {train.selection_metric} ({train.best_dev_metric:.4f}); its weights are the saved model.{stopped}"
            f"{calibrated}{sweep}\n\n{listed} of the selected setting:\n\n{table}\n")


def ci(metrics: dict, name: str) -> str:
    """`` [low, high]`` to follow a metric: how far the choice of test rows alone could move it."""
    if "intervals" not in metrics:
        return ""
    interval = Interval(**metrics["intervals"][name])
    return f" [{interval.low:.4f}, {interval.high:.4f}]"


def ci_note(metrics: dict) -> str:
    if "intervals" not in metrics:
        return ""
    interval = Interval(**metrics["intervals"]["accuracy"])
    return (f" In brackets: {100 * interval.level:.0f} % bootstrap intervals ({interval.resamples} resamples of the "
            f"test rows, seed {interval.seed}).")


def test_section(metrics: dict) -> str:
    summary = markdown_table(["metric", "precision", "recall", "F1"], [
        [avg, f"{metrics[avg]['precision']:.4f}", f"{metrics[avg]['recall']:.4f}", f"{metrics[avg]['f1']:.4f}"]
        for avg in ("macro", "weighted")])
    per_class = markdown_table(["class", "precision", "recall", "F1", "support"], [
        [name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", m["support"]]
        for name, m in metrics["per_class"].items()])
    names = metrics["confusion_matrix"]["labels"]
    confusion = markdown_table(["true \\ predicted", *names],
                       [[name, *row] for name, row in zip(names, metrics["confusion_matrix"]["matrix"], strict=True)])
    fresh = metrics.get("leakage_free")
    leak = (f" On the {fresh['rows']} test rows whose text does not occur in train: accuracy "
            f"**{fresh['accuracy']:.4f}**{ci(fresh, 'accuracy')}, macro-F1 {fresh['macro']['f1']:.4f}"
            f"{ci(fresh, 'macro_f1')}." if fresh else "")
    cal = metrics["calibration"]
    calibration = (f"Calibration (temperature scaling fitted on dev, T = {cal['temperature']:.3f}; labels unchanged): "
                   f"test ECE ({cal['ece_bins']} bins) {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}, "
                   f"NLL {cal['nll_before']:.4f} -> {cal['nll_after']:.4f}.")
    return (f"## Test\n\n**Accuracy {metrics['accuracy']:.4f}**{ci(metrics, 'accuracy')} on {metrics['rows']} rows, "
            f"macro-F1 {metrics['macro']['f1']:.4f}{ci(metrics, 'macro_f1')}.{leak}{ci_note(metrics)}\n\n{summary}\n\n"
            f"{calibration}\n\n"
            f"{per_class}\n\nConfusion matrix (rows: true label):\n\n{confusion}\n")


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


@task(name="write report")
def write_report(
    run: RunDir, cfg: TrainConfig, data: DataSummary, tokenized: dict[str, TokenizedSplit],
    train: TrainResult | None, metrics: dict | None, predictions: Predictions | None, promotion: Promotion | None,
    baseline: dict | None = None, pretrained: PretrainResult | None = None,
) -> str:
    if train is not None:
        training_curves(train.epochs, run.file("plots/training_curves.png"))
    plots = [path for path in (run.file(f"plots/{name}") for name in PLOTS) if path.is_file()]
    model = pretrained_model_note(pretrained) if pretrained else model_note(cfg, train)
    parts = [f"# Training run `{run.path.name}`\n", f"Model: {model}\n", validation_section(data, tokenized)]
    if pretrained is not None:
        parts.append(pretraining_section(pretrained))
    if train is not None:
        parts.append(training_section(train))
    test_markdown = test_section(metrics) if metrics is not None else None
    if test_markdown is not None:
        parts.append(test_markdown)
    if plots:
        images = "\n\n".join(f"![{p.stem.replace('_', ' ')}](plots/{p.name})" for p in plots)
        parts.append(f"## Plots\n\n{images}\n")
    if metrics is not None and baseline is not None:
        parts.append(comparison_section(baseline))
    if predictions is not None:
        parts.append(f"## Predictions\n\n{predictions.rows} rows in `{predictions.path}` "
                     f"(model digest `{predictions.model_digest[:16]}`).\n")
    if promotion is not None:
        verdict = "**Promoted**" if promotion.promoted else "**Not promoted**"
        parts.append(f"## Promotion\n\n{verdict}: {promotion.reason}. Pointer: `{promotion.pointer.resolve()}`.\n")
    path = write_text(run.file("report.md"), "\n".join(parts))
    publish_run(run, train, test_markdown, predictions, promotion, plots)
    return str(path)
