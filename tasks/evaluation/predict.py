"""The predict task: test-set predictions as JSONL, in input order, from the saved model alone.

Texts and labels come from the validated rows file (the JSONL is not parsed again); the same
predictions also go to a small Parquet of ids and probabilities that the report and the baseline
comparison read, instead of parsing the JSONL back.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.core.device import pick_device, token_budget
from tasks.core.errors import DataError
from tasks.core.files import atomic_path, write_jsonl
from tasks.core.logs import logger
from tasks.core.records import LabelSet, Predictions, SplitData, TokenizedSplit
from tasks.data.record_out import KEPT_PREFIX, with_outputs
from tasks.data.row_store import iter_batches, label_ids
from tasks.tokens.batching import load_tokenized, load_windows
from tasks.training.inference import mean_over_windows, predict_logits, softmax
from tasks.training.model import load_classifier, model_digest
from tasks.training.precision import dtype_of, inference_precision


def write_scores(target: Path, lines: np.ndarray, y_true: np.ndarray, probs: np.ndarray) -> Path:
    """Per row: source line, true and predicted class id, every class's probability."""
    table = pa.table({"line": pa.array(lines, pa.int32()), "label_id": pa.array(y_true, pa.int32()),
                      "pred_id": pa.array(probs.argmax(axis=1), pa.int32()),
                      "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel(), pa.float64()),
                                                                 probs.shape[1])})
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return target


def read_scores(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lines, true ids, predicted ids, probabilities) as written by ``write_scores``."""
    table = pq.read_table(path)
    probs = table.column("probs").combine_chunks()
    width = probs.type.list_size
    return (table.column("line").to_numpy(), table.column("label_id").to_numpy(), table.column("pred_id").to_numpy(),
            probs.flatten().to_numpy().reshape(-1, width).astype(np.float64))


@task(name="predict", task_run_name="predict {split.split}")
def predict_split(
    model_dir: Path, split: TokenizedSplit, rows: SplitData, text_field: str, label_field: str,
    data_labels: LabelSet, batch_size: int, device: str, precision: str, out_path: Path, cache_dir: Path,
) -> Predictions:
    """One output row per kept input row: text, label, the row's other fields, then ``line`` (in the test file),
    ``pred_label``, ``pred_prob``, ``probs``; a field of theirs with one of our names is kept as ``input.<name>``."""
    model, tokenizer, labels = load_classifier(model_dir)  # reload from disk: what the scoring flow will use
    if labels != data_labels:
        raise DataError(f"{model_dir} predicts labels {list(labels.names)} ({labels.kind}), but the training "
                        f"file has {list(data_labels.names)} ({data_labels.kind}): use a model trained on them")
    torch_device = pick_device(device)
    model.to(torch_device)
    data = load_tokenized(split.parquet)
    # The precision scoring will use for this model on this machine, so both flows label a text alike.
    resolved = inference_precision(model_dir, torch_device, precision, cache_dir)
    dtype = dtype_of(resolved)
    budget = token_budget(torch_device, dtype)
    probs = softmax(predict_logits(model, data, batch_size, tokenizer.pad_token_id, torch_device, dtype, budget))
    windowed = windows = 0
    if split.windows is not None:  # --long_texts window: a long text's probabilities are its windows' mean
        window_data, owners = load_windows(split.windows)
        if len(window_data):
            long = np.unique(owners)
            window_probs = softmax(predict_logits(model, window_data, batch_size, tokenizer.pad_token_id,
                                                  torch_device, dtype, budget))
            probs[long] = mean_over_windows(window_probs, owners, len(data))[long]
            windowed, windows = len(long), len(window_data)

    def records():
        done = 0
        for batch in iter_batches(rows.rows_file, ["line", "text", "label", "extra"], rows.excluded_lines):
            lines = batch.column("line").to_numpy()
            if not np.array_equal(lines, data.lines[done:done + len(lines)]):
                raise RuntimeError(f"{rows.rows_file} and {split.parquet} hold different rows near line {lines[0]}")
            for line, text, label_id, extra, p in zip(
                    lines.tolist(), batch.column("text").to_pylist(), label_ids(batch.column("label"), labels),
                    batch.column("extra").to_pylist(), probs[done:done + len(lines)], strict=True):
                record = {text_field: text, label_field: labels.value_of(int(label_id))} | json.loads(extra or "{}")
                out, clashing = with_outputs(record, {"line": line} | labels.prediction(p))
                renamed.update(clashing)
                yield out
            done += len(lines)

    renamed: Counter = Counter()

    written = write_jsonl(out_path, records())
    if renamed:
        logger().warning("%s: test fields named like the predictions' own were kept under another name: %s", out_path,
                         ", ".join(f"{name} -> {KEPT_PREFIX}{name} ({n} rows)" for name, n in renamed.items()))
    if written != len(data):
        raise RuntimeError(f"{rows.rows_file}: wrote {written} predictions for {len(data)} tokenized rows")
    scores = write_scores(out_path.with_suffix(".scores.parquet"), data.lines, data.labels, probs)
    logger().info("wrote %d predictions to %s (%s%s)", written, out_path, resolved,
                  f"; {windowed} long texts as {windows} windows" if split.windows is not None else "")
    return Predictions(path=out_path, scores=scores, rows=written, model_digest=model_digest(model_dir),
                       precision=resolved, long_texts="window" if split.windows is not None else "cut",
                       windowed_rows=windowed, windows=windows)
