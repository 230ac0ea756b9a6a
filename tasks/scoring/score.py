"""The score task: one JSONL file in, predictions out, streamed in chunks, written exactly once.

Predictions go to a temporary file beside the target and are renamed into place only when complete;
the manifest is written last. A file whose manifest matches its input, model and options is skipped
(tasks/scoring/state.py), so a run killed at any point and started again yields exactly the bytes of an
uninterrupted run.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from prefect import task
from prefect.runtime import task_run

from tasks.core.config import ScoreConfig
from tasks.core.device import autocast_dtype, pick_device, token_budget
from tasks.core.files import atomic_path, read_json, sha256_file, write_json
from tasks.core.logs import logger
from tasks.core.records import LabelSet, ScoredFile
from tasks.data.jsonl import BadRow, BlankLine, Row, finite_json, parse_line
from tasks.data.quality import count_by_reason
from tasks.drift.report import file_drift
from tasks.drift.stats import chunk_stats, empty_stats, merge_stats
from tasks.scoring.files import Busy, OutputPaths, exclusive, read_chunks, remove_stale_temporaries
from tasks.scoring.parquet_copy import write_parquet_copy
from tasks.scoring.state import build_manifest, redo_reason, scoring_options
from tasks.tokens.batching import from_token_lists
from tasks.tokens.cache import encode_with_cuts
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import load_classifier, model_digest, saved_max_seq_length
from tasks.ui.artifacts import report_progress


@dataclass
class ChunkResult:
    lines: list[str] = field(default_factory=list)
    rejects: list[BadRow] = field(default_factory=list)
    blank: int = 0
    truncated: int = 0  # texts longer than the model's length limit, cut to it
    non_finite: int = 0  # NaN/Infinity values in other fields, written as null
    stats: dict | None = None  # binned drift statistics of the scored rows (tasks/drift/stats.py)


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


def score_chunk(scorer: Scorer, chunk: list[tuple[int, bytes]], text_field: str, batch_size: int) -> ChunkResult:
    """Output lines in input order, rejected rows, and the counts of one chunk."""
    parsed = [parse_line(raw, line, text_field, None) for line, raw in chunk]
    rows = [p for p in parsed if isinstance(p, Row)]
    result = ChunkResult(rejects=[p for p in parsed if isinstance(p, BadRow)],
                         blank=sum(isinstance(p, BlankLine) for p in parsed))
    if not rows:
        return result
    ids, cut = encode_with_cuts([r.text for r in rows], scorer.tokenizer, scorer.max_seq_length)
    result.truncated = sum(cut)
    probs = softmax(predict_logits(scorer.model, from_token_lists(ids), batch_size, scorer.tokenizer.pad_token_id,
                                   scorer.device, scorer.dtype, scorer.max_tokens))
    result.stats = chunk_stats([r.text for r in rows], ids, cut, probs, scorer.tokenizer.unk_token_id)
    raw_of = dict(chunk)
    for row, p in zip(rows, probs, strict=True):
        record = row.record
        if b"NaN" in raw_of[row.line] or b"Infinity" in raw_of[row.line]:  # cheap test before the walk
            record, replaced = finite_json(record)
            result.non_finite += replaced
        out = record | scorer.labels.prediction(p) | {"model_digest": scorer.digest[:16]}
        result.lines.append(json.dumps(out, ensure_ascii=False, allow_nan=False) + "\n")
    return result


def _write_outputs(input_path: Path, paths: OutputPaths, scorer: Scorer, cfg: ScoreConfig) -> dict:
    counts, reasons, stats = Counter(), Counter(), empty_stats(len(scorer.labels.names))
    with atomic_path(paths.predictions) as tmp, open(tmp, "w", encoding="utf-8") as out, \
            atomic_path(paths.rejects) as tmp_rejects, open(tmp_rejects, "w", encoding="utf-8") as rej:
        for chunk in read_chunks(input_path, cfg.chunk_rows):
            done = score_chunk(scorer, chunk, cfg.text_field, cfg.batch_size)
            out.writelines(done.lines)
            stats = merge_stats(stats, done.stats) if done.stats else stats
            reasons.update(count_by_reason([bad.reason for bad in done.rejects]))
            rej.writelines(json.dumps(bad.record(input_path), ensure_ascii=False) + "\n" for bad in done.rejects)
            counts.update(rows_in=len(chunk), scored=len(done.lines), rejected=len(done.rejects), blank=done.blank,
                          truncated=done.truncated, non_finite=done.non_finite,
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
    return {"counts": counts, "reasons": reasons, "stats": stats}


def _skipped(result: dict, paths: OutputPaths) -> ScoredFile:
    """A file already done: its counts and warning as its manifest recorded them."""
    m = read_json(paths.manifest)
    return ScoredFile(status="skipped", rows_in=m["rows_in"], rows_scored=m["rows_scored"],
                      rows_rejected=m["rows_rejected"], warning=m.get("warning"), **result)


def _task_run_name() -> str:
    parameters = task_run.parameters
    return f"score {parameters.get('relative') or parameters['input_path'].name}"


@task(name="score file", task_run_name=_task_run_name)
def score_file(input_path: Path, model_dir: Path, cfg: ScoreConfig, relative: Path | None = None) -> ScoredFile:
    """Score ``input_path`` into ``--output_dir``/``relative`` (default: its name), unless done already."""
    paths = OutputPaths.of(input_path, cfg.output_dir.resolve(), relative)
    digest, input_sha, options = model_digest(model_dir), sha256_file(input_path), scoring_options(cfg, model_dir)
    result = {"input": input_path, "predictions": paths.predictions, "manifest": paths.manifest}
    if (reason := redo_reason(paths, input_sha, digest, options, cfg.write_parquet)) is None:
        logger().info("%s: skipped, already scored with model %s and the same options", input_path, digest[:16])
        return _skipped(result, paths)
    try:
        with exclusive(paths.lock):
            reason = redo_reason(paths, input_sha, digest, options, cfg.write_parquet)
            if reason is None:  # finished by another run while we waited
                return _skipped(result, paths)
            logger().info("%s: scoring, %s", input_path, reason)
            for target in (paths.predictions, paths.rejects, paths.manifest, paths.parquet):
                remove_stale_temporaries(target)
            started = time.perf_counter()
            written = _write_outputs(input_path, paths, scorer_for(str(model_dir), digest, cfg.device,
                                                                   cfg.precision, cfg.max_batch_tokens), cfg)
            seconds, counts = time.perf_counter() - started, written["counts"]
            assert counts["rows_in"] == counts["scored"] + counts["rejected"] + counts["blank"]
            manifest = build_manifest(input_path, input_sha, paths, model_dir, digest, options, written, seconds)
            manifest["drift"] = file_drift(input_path, model_dir, digest, written["stats"], cfg)
            write_json(paths.manifest, manifest)
    except Busy as exc:
        logger().warning("%s", exc)
        return ScoredFile(status="busy", **result)
    log = logger().warning if manifest["warning"] else logger().info
    log("%s: %d rows in, %d scored, %d rejected, %d cut at %d tokens, %.0f texts/s -> %s%s", input_path,
        counts["rows_in"], counts["scored"], counts["rejected"], counts["truncated"], options["max_seq_length"],
        counts["scored"] / max(seconds, 1e-9), paths.predictions,
        f"; NO PREDICTIONS: {manifest['warning']}" if manifest["warning"] else "")
    return ScoredFile(status="scored", rows_in=counts["rows_in"], rows_scored=counts["scored"],
                      rows_rejected=counts["rejected"], seconds=seconds, warning=manifest["warning"], **result)
