"""The score task: one JSONL file in, predictions out, streamed in chunks, written exactly once.

Outputs are staged under temporary names and published together (tasks/scoring/publish.py), only over files
this scorer can prove it wrote (tasks/scoring/ownership.py). A file whose manifest matches its input, model and
options is skipped (tasks/scoring/state.py), so a run killed at any point and started again yields exactly the
bytes of an uninterrupted run. Every row ends as a scored line or a rejected one with its line and reason.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from prefect import task
from prefect.runtime import task_run

from tasks.core.config import ScoreConfig
from tasks.core.device import pick_device, token_budget
from tasks.core.files import read_json, sha256_file
from tasks.core.logs import logger
from tasks.core.records import LabelSet, ScoredFile
from tasks.core.truncation import Truncation
from tasks.data.jsonl import BadRow, BlankLine, Row, parse_line
from tasks.data.record_out import KEPT_PREFIX, strict_json, with_outputs
from tasks.drift.report import file_drift
from tasks.drift.stats import chunk_stats, empty_stats, merge_stats
from tasks.scoring.files import Busy, OutputPaths, exclusive, remove_stale_temporaries
from tasks.scoring.ownership import NotOurs, check_ownership
from tasks.scoring.publish import Staged, publish, stage_outputs
from tasks.scoring.state import build_manifest, redo_reason, scoring_options, scoring_truncation
from tasks.tokens.batching import from_token_lists
from tasks.tokens.cache import window_stride_for
from tasks.tokens.truncation import encode_truncated, long_text_windows
from tasks.training.inference import mean_over_windows, predict_logits, softmax
from tasks.training.model import load_classifier, model_digest, saved_max_seq_length
from tasks.training.precision import dtype_of, inference_precision
from tasks.ui.artifacts import report_progress


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
    truncation: Truncation
    window_stride: int | None  # None: long texts are cut as ``truncation`` says, not scored as windows


@functools.lru_cache(maxsize=2)
def scorer_for(model_dir: str, digest: str, device: str, precision: str, max_tokens: int | None,
               cache_dir: str, truncation: Truncation, window_stride: int | None) -> Scorer:
    """Loaded once per process and model version (``digest`` is part of the key), not once per file."""
    _share_cores_with_dask_worker()
    model, tokenizer, labels = load_classifier(Path(model_dir))
    torch_device = pick_device(device)
    dtype = dtype_of(inference_precision(Path(model_dir), torch_device, precision, Path(cache_dir)))
    max_seq_length = saved_max_seq_length(Path(model_dir))
    stride = None if window_stride is None else window_stride_for(tokenizer, max_seq_length, window_stride or None)
    return Scorer(model.to(torch_device), tokenizer, labels, digest, max_seq_length, torch_device, dtype,
                  token_budget(torch_device, dtype, max_tokens), truncation, stride)


def _share_cores_with_dask_worker() -> None:
    # N worker processes each running torch with every core's threads would oversubscribe the machine.
    try:
        from distributed import get_worker

        torch.set_num_threads(get_worker().state.nthreads)
    except (ImportError, ValueError):  # not inside a Dask worker
        pass


OUR_FIELDS = ("pred_label", "pred_prob", "probs", "model_digest")  # what score_chunk adds to each row


def score_chunk(scorer: Scorer, chunk: list[tuple[int, bytes]], text_field: str,
                batch_size: int) -> tuple[list[str], list[BadRow], dict]:
    """Output lines in input order, rejected rows, and the counts of one chunk (``stats``: drift statistics)."""
    parsed = [parse_line(raw, line, text_field, None) for line, raw in chunk]
    rows = [p for p in parsed if isinstance(p, Row)]
    rejects = [p for p in parsed if isinstance(p, BadRow)]
    counts = Counter(rows_in=len(chunk), scored=len(rows), rejected=len(rejects),
                     blank=sum(isinstance(p, BlankLine) for p in parsed), bytes=sum(len(raw) for _, raw in chunk))
    if not rows:
        return [], rejects, {"counts": counts}
    ids, cut = encode_truncated([r.text for r in rows], scorer.tokenizer, scorer.max_seq_length, scorer.truncation)
    counts["truncated"] = sum(cut)
    probs = _probabilities(scorer, ids, cut, [r.text for r in rows], batch_size, counts)
    lines, renamed = [], Counter()
    for row, p in zip(rows, probs, strict=True):
        record, clashing = with_outputs(row.record, scorer.labels.prediction(p) | {"model_digest": scorer.digest[:16]})
        line, replaced = strict_json(record)
        counts["non_finite"] += replaced
        renamed.update(clashing)
        lines.append(line + "\n")
    stats = chunk_stats([r.text for r in rows], ids, cut, probs, scorer.tokenizer.unk_token_id)
    return lines, rejects, {"counts": counts, "renamed": renamed, "stats": stats}


def _probabilities(scorer: Scorer, ids: list[list[int]], cut: list[bool], texts: list[str], batch_size: int,
                   counts: Counter) -> np.ndarray:
    """One row of probabilities per text; with windows, a long text's is the mean of its windows'."""
    sequences, owners = ids, None
    if scorer.window_stride is not None and any(cut):
        long = [i for i, over in enumerate(cut) if over]
        windows = long_text_windows([texts[i] for i in long], scorer.tokenizer, scorer.max_seq_length,
                                    scorer.window_stride)
        sequences = [row for i, row in enumerate(ids) if not cut[i]] + [w for text in windows for w in text]
        owners = np.array([i for i in range(len(ids)) if not cut[i]]
                          + [i for i, text in zip(long, windows, strict=True) for _ in text])
        counts["windowed"], counts["windows"] = len(long), sum(map(len, windows))
    probs = softmax(predict_logits(scorer.model, from_token_lists(sequences), batch_size,
                                   scorer.tokenizer.pad_token_id, scorer.device, scorer.dtype, scorer.max_tokens))
    return probs if owners is None else mean_over_windows(probs, owners, len(ids))


def _stage(input_path: Path, paths: OutputPaths, scorer: Scorer, cfg: ScoreConfig) -> Staged:
    stats = [empty_stats(len(scorer.labels.names))]
    size = max(input_path.stat().st_size, 1)

    def score(chunk):
        lines, rejected, done = score_chunk(scorer, chunk, cfg.text_field, cfg.batch_size)
        if done.get("stats"):
            stats[0] = merge_stats(stats[0], done["stats"])
        renamed.update(done.get("renamed", {}))
        return lines, rejected, done["counts"]

    def progress(staged: Staged) -> None:
        # Lines keep their line ends, so the bytes read reach the file size: 100 % at the last chunk.
        report_progress(staged.counts["bytes"] / size, f"Scoring {input_path.name}: "
                        f"{staged.counts['rows_in']} rows read, {staged.counts['scored']} scored")

    renamed: Counter = Counter()
    staged = stage_outputs(input_path, paths, cfg.chunk_rows, score, cfg.write_parquet, progress)
    staged.renamed, staged.stats = renamed, stats[0]
    return staged


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
            owned = check_ownership(paths, input_path)  # before anything is written: refuse, touching nothing
            logger().info("%s: scoring, %s", input_path, reason)
            for target in (paths.predictions, paths.rejects, paths.manifest, paths.parquet):
                remove_stale_temporaries(target)
            started = time.perf_counter()
            scorer = scorer_for(str(model_dir), digest, cfg.device, cfg.precision, cfg.max_batch_tokens,
                                str(cfg.artifacts_dir), scoring_truncation(cfg, model_dir),
                                (cfg.window_stride or 0) if cfg.long_texts == "window" else None)
            staged = _stage(input_path, paths, scorer, cfg)
            try:
                seconds, counts = time.perf_counter() - started, staged.counts
                assert counts["rows_in"] == counts["scored"] + counts["rejected"] + counts["blank"]
                manifest = build_manifest(input_path, paths, model_dir, digest, options, staged, seconds)
                manifest["drift"] = file_drift(input_path, model_dir, digest, staged.stats, cfg)
                publish(paths, staged, owned, manifest)
            finally:
                staged.discard()  # what was not renamed into place (nothing, unless publishing failed)
    except Busy as exc:
        logger().warning("%s", exc)
        return ScoredFile(status="busy", **result)
    except NotOurs as exc:
        logger().error("%s", exc)
        return ScoredFile(status="refused", warning=str(exc), **result)
    if staged.renamed:
        logger().warning("%s: input fields named like the scorer's own were kept under another name: %s", input_path,
                         ", ".join(f"{name} -> {KEPT_PREFIX}{name} ({n} rows)" for name, n in staged.renamed.items()))
    log = logger().warning if manifest["warning"] else logger().info
    log("%s: %d rows in, %d scored, %d rejected, %d cut at %d tokens, %.0f texts/s -> %s%s", input_path,
        counts["rows_in"], counts["scored"], counts["rejected"], counts["truncated"], options["max_seq_length"],
        counts["scored"] / max(seconds, 1e-9), paths.predictions,
        f"; NO PREDICTIONS: {manifest['warning']}" if manifest["warning"] else "")
    return ScoredFile(status="scored", rows_in=counts["rows_in"], rows_scored=counts["scored"],
                      rows_rejected=counts["rejected"], seconds=seconds, warning=manifest["warning"], **result)
