"""The predict task: test-set predictions as JSONL, in input order, from the saved model alone."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from tasks.batching import load_tokenized
from tasks.device import autocast_dtype, pick_device, token_budget
from tasks.files import write_jsonl
from tasks.inference import predict_logits, softmax
from tasks.jsonl import DataError, Row, read_lines
from tasks.logs import logger
from tasks.model import load_classifier, model_digest
from tasks.records import LabelSet, Predictions, TokenizedSplit


@task(name="predict", task_run_name="predict {split.split}")
def predict_split(
    model_dir: Path, split: TokenizedSplit, source_file: Path, text_field: str, label_field: str,
    data_labels: LabelSet, batch_size: int, device: str, precision: str, out_path: Path,
) -> Predictions:
    """One output row per validated input row: text, label, ``pred_label``, ``pred_prob``, ``probs``."""
    model, tokenizer, labels = load_classifier(model_dir)  # reload from disk: what the scoring flow will use
    if labels != data_labels:
        raise DataError(f"{model_dir} predicts labels {list(labels.names)} ({labels.kind}), but the training "
                        f"file has {list(data_labels.names)} ({data_labels.kind}): use a model trained on them")
    torch_device = pick_device(device)
    model.to(torch_device)
    data = load_tokenized(split.parquet)
    dtype = autocast_dtype(torch_device, precision)
    probs = softmax(predict_logits(model, data, batch_size, tokenizer.pad_token_id, torch_device, dtype,
                                   token_budget(torch_device, dtype)))
    wanted = {int(line): i for i, line in enumerate(data.lines)}
    rows = (item for item in read_lines(source_file, text_field, label_field)
            if isinstance(item, Row) and item.line in wanted)

    def records():
        for row in rows:
            yield {text_field: row.text, label_field: row.label} | labels.prediction(probs[wanted[row.line]])

    written = write_jsonl(out_path, records())
    if written != len(data):
        raise RuntimeError(f"{source_file}: wrote {written} predictions for {len(data)} tokenized rows")
    logger().info("wrote %d predictions to %s", written, out_path)
    return Predictions(path=out_path, rows=written, model_digest=model_digest(model_dir))
