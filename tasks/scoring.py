"""The score task: one JSONL file in, predictions out, streamed in chunks, written exactly once.

Predictions go to a temporary file beside the target and are renamed into place only when complete;
the manifest is written last. A file whose manifest matches its input and model is skipped, so a run
killed at any point and started again yields exactly the bytes of an uninterrupted run.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.json
import pyarrow.parquet as pq
import torch
from prefect import task

from tasks.batching import from_token_lists
from tasks.config import ScoreConfig
from tasks.data_quality import count_by_reason
from tasks.device import autocast_dtype, pick_device, token_budget
from tasks.files import atomic_path, read_json, sha256_file, write_json
from tasks.inference import predict_logits, softmax
from tasks.jsonl import BadRow, BlankLine, Row, parse_line
from tasks.logs import logger
from tasks.model import load_classifier, model_digest, saved_max_seq_length
from tasks.records import LabelSet, ScoredFile
from tasks.score_io import Busy, OutputPaths, exclusive, read_chunks, remove_stale_temporaries
from tasks.ui_artifacts import report_progress


@dataclass(frozen=True)
class Scorer:
    model: object
    tokenizer: object
    labels: LabelSet
    digest: str
    max_seq_length: int
    device: object
    dtype: object
    max_tokens: int


@functools.lru_cache(maxsize=2)
def scorer_for(model_dir: str, digest: str, device: str, precision: str, max_tokens: int | None) -> Scorer:
    """Loaded once per process and model version (``digest`` is part of the key), not once per file."""
    _share_cores_with_dask_worker()
    model, tokenizer, labels = load_classifier(Path(model_dir))
    torch_device = pick_device(device)
    dtype = autocast_dtype(torch_device, precision, inference=True)
    return Scorer(model.to(torch_device), tokenizer, labels, digest, saved_max_seq_length(Path(model_dir)),
                  torch_device, dtype, token_budget(torch_device, dtype, max_tokens))


def _share_cores_with_dask_worker() -> None:
    # N worker processes each running torch with every core's threads would oversubscribe the machine.
    try:
        from distributed import get_worker

        torch.set_num_threads(get_worker().state.nthreads)
    except (ImportError, ValueError):  # not inside a Dask worker
        pass


def score_chunk(scorer: Scorer, chunk: list[tuple[int, bytes]], text_field: str, batch_size: int):
    """Output lines in input order, rejected rows, and the number of blank lines of one chunk."""
    parsed = [parse_line(raw, line, text_field, None) for line, raw in chunk]
    rows = [p for p in parsed if isinstance(p, Row)]
    rejects = [p for p in parsed if isinstance(p, BadRow)]
    lines: list[str] = []
    if rows:
        ids = scorer.tokenizer([r.text for r in rows], truncation=True, max_length=scorer.max_seq_length,
                               return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        probs = softmax(predict_logits(scorer.model, from_token_lists(ids), batch_size,
                                       scorer.tokenizer.pad_token_id, scorer.device, scorer.dtype, scorer.max_tokens))
        for row, p in zip(rows, probs, strict=True):
            out = row.record | scorer.labels.prediction(p) | {"model_digest": scorer.digest[:16]}
            lines.append(json.dumps(out, ensure_ascii=False) + "\n")
    return lines, rejects, sum(isinstance(p, BlankLine) for p in parsed)


def already_done(paths: OutputPaths, input_sha: str, digest: str, parquet: bool) -> bool:
    if not (paths.manifest.is_file() and paths.predictions.is_file()) or (parquet and not paths.parquet.is_file()):
        return False
    manifest = read_json(paths.manifest)
    return (manifest.get("input_sha256"), manifest.get("model_digest")) == (input_sha, digest) and (
        manifest.get("output_sha256") == sha256_file(paths.predictions))


def _write_outputs(input_path: Path, paths: OutputPaths, scorer: Scorer, cfg: ScoreConfig) -> dict:
    counts, reasons = Counter(), Counter()
    with atomic_path(paths.predictions) as tmp, open(tmp, "w", encoding="utf-8") as out, \
            atomic_path(paths.rejects) as tmp_rejects, open(tmp_rejects, "w", encoding="utf-8") as rej:
        for chunk in read_chunks(input_path, cfg.chunk_rows):
            lines, rejects, blank = score_chunk(scorer, chunk, cfg.text_field, cfg.batch_size)
            out.writelines(lines)
            reasons.update(count_by_reason([bad.reason for bad in rejects]))
            rej.writelines(json.dumps(bad.record(input_path), ensure_ascii=False) + "\n" for bad in rejects)
            counts.update(rows_in=len(chunk), scored=len(lines), rejected=len(rejects), blank=blank,
                          bytes=sum(len(raw) for _, raw in chunk))
            # Lines keep their line ends, so the bytes read reach the file size: 100 % at the last chunk.
            report_progress(counts["bytes"] / max(input_path.stat().st_size, 1),
                            f"Scoring {input_path.name}: {counts['rows_in']} rows read, {counts['scored']} scored")
        for fh in (out, rej):
            fh.flush()
            os.fsync(fh.fileno())  # the rename must never publish bytes still in the page cache
    if not counts["rejected"]:
        paths.rejects.unlink()
    if cfg.write_parquet:
        write_parquet_copy(paths.predictions, paths.parquet)
    return {"counts": counts, "reasons": reasons}


def write_parquet_copy(jsonl: Path, target: Path) -> None:
    """The predictions again as Parquet, converted block by block so memory stays flat."""
    reader = pyarrow.json.open_json(jsonl)
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


@task(name="score file", task_run_name="score {input_path.name}")
def score_file(input_path: Path, model_dir: Path, cfg: ScoreConfig) -> ScoredFile:
    paths = OutputPaths.of(input_path, cfg.output_dir.resolve())
    digest, input_sha = model_digest(model_dir), sha256_file(input_path)
    result = {"input": input_path, "predictions": paths.predictions, "manifest": paths.manifest}
    if already_done(paths, input_sha, digest, cfg.write_parquet):
        logger().info("%s: already scored with model %s, skipped", input_path, digest[:16])
        return ScoredFile(status="skipped", **result)
    try:
        with exclusive(paths.lock):
            if already_done(paths, input_sha, digest, cfg.write_parquet):  # finished by another run while we waited
                return ScoredFile(status="skipped", **result)
            for target in (paths.predictions, paths.rejects, paths.manifest, paths.parquet):
                remove_stale_temporaries(target)
            started = time.perf_counter()
            written = _write_outputs(input_path, paths, scorer_for(str(model_dir), digest, cfg.device,
                                                                   cfg.precision, cfg.max_batch_tokens), cfg)
            seconds, counts = time.perf_counter() - started, written["counts"]
            assert counts["rows_in"] == counts["scored"] + counts["rejected"] + counts["blank"]
            write_json(paths.manifest, {
                "input": str(input_path), "input_sha256": input_sha, "rows_in": counts["rows_in"],
                "rows_scored": counts["scored"], "rows_rejected": counts["rejected"],
                "blank_lines": counts["blank"], "rejected_by_reason": dict(written["reasons"]),
                "output": str(paths.predictions), "output_sha256": sha256_file(paths.predictions),
                "rejects": str(paths.rejects) if counts["rejected"] else None,
                "model_dir": str(model_dir), "model_digest": digest, "seconds": round(seconds, 3),
                "texts_per_second": round(counts["scored"] / max(seconds, 1e-9), 1),
                "scored_at": datetime.now(UTC).isoformat(timespec="seconds"),
            })
    except Busy as exc:
        logger().warning("%s", exc)
        return ScoredFile(status="busy", **result)
    logger().info("%s: %d rows in, %d scored, %d rejected, %.0f texts/s -> %s", input_path, counts["rows_in"],
                  counts["scored"], counts["rejected"], counts["scored"] / max(seconds, 1e-9), paths.predictions)
    return ScoredFile(status="scored", rows_in=counts["rows_in"], rows_scored=counts["scored"],
                      rows_rejected=counts["rejected"], seconds=seconds, **result)
