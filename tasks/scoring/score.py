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
from pathlib import Path

import torch
from prefect import task
from prefect.runtime import task_run

from tasks.core.config import ScoreConfig
from tasks.core.device import pick_device, token_budget
from tasks.core.files import read_json, sha256_file
from tasks.core.logs import logger
from tasks.core.records import ScoredFile
from tasks.core.truncation import Truncation
from tasks.data.record_out import KEPT_PREFIX
from tasks.drift.report import file_drift
from tasks.drift.stats import empty_stats, merge_stats
from tasks.scoring.chunk import PreparedChunk, Scorer, finish_chunk, prepare_chunk
from tasks.scoring.files import Busy, OutputPaths, exclusive, remove_stale_temporaries
from tasks.scoring.ownership import NotOurs, check_ownership
from tasks.scoring.publish import Staged, publish, stage_outputs
from tasks.scoring.state import build_manifest, redo_reason, scoring_options, scoring_truncation
from tasks.tokens.cache import window_stride_for
from tasks.training.model import load_classifier, model_digest, saved_max_seq_length
from tasks.training.precision import dtype_of, inference_precision
from tasks.ui.artifacts import report_progress


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


def _stage(input_path: Path, paths: OutputPaths, scorer: Scorer, cfg: ScoreConfig) -> Staged:
    stats = [empty_stats(len(scorer.labels.names))]
    size = max(input_path.stat().st_size, 1)

    def score(prepared: PreparedChunk):
        lines, rejected, done = finish_chunk(scorer, prepared, cfg.batch_size)
        if done.get("stats"):
            stats[0] = merge_stats(stats[0], done["stats"])
        renamed.update(done.get("renamed", {}))
        return lines, rejected, done["counts"]

    def progress(staged: Staged) -> None:
        # Lines keep their line ends, so the bytes read reach the file size: 100 % at the last chunk.
        report_progress(staged.counts["bytes"] / size, f"Scoring {input_path.name}: "
                        f"{staged.counts['rows_in']} rows read, {staged.counts['scored']} scored")

    renamed: Counter = Counter()
    staged = stage_outputs(input_path, paths, cfg.chunk_rows, score, cfg.write_parquet, progress,
                           prepare=functools.partial(prepare_chunk, scorer, text_field=cfg.text_field),
                           # Parse and tokenize beside the forward pass only when the model is off the CPU: on a
                           # 2-core CPU, torch's and the tokenizer's threads fighting for the cores cost 15 %.
                           ahead=scorer.device.type != "cpu")
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
