"""One inference precision per model and machine, shared by every inference step of both flows.

A CPU flag does not predict bf16 speed (AMX: 1.7x faster than fp32; avx512_bf16 without AMX: 1.8x slower), and
bf16 can flip a label fp32 gives, so 'auto' on a CPU is decided by timing the model once and recording the answer
under ``<cache_dir>/precision``: dev calibration, the reference profile, test predictions and scoring then all read
the same choice instead of each deciding for itself.
"""

from __future__ import annotations

import fcntl
import functools
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import torch

from tasks.core.device import cpu_has_bf16
from tasks.core.files import read_json, sha256_file, sha256_text, write_json
from tasks.core.logs import logger
from tasks.training.model import load_classifier, saved_max_seq_length

PROBE_ROWS, PROBE_TOKENS = 16, 128  # 2,048 padded tokens: the CPU fp32 batch budget (device.token_budget)
MIN_SPEEDUP = 1.2  # below this, timing noise could decide, and fp32 is the exact reference
SLOW_PASS_SECONDS = 0.5  # a pass this long is measured well enough once; keeps a big model's probe short


def dtype_of(name: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision; ``None`` is plain fp32, as ``device.autocast`` expects."""
    return {"bf16": torch.bfloat16, "fp32": None}[name]


def inference_precision(model_dir: Path, device: torch.device, precision: str, cache_dir: Path) -> str:
    """"bf16" or "fp32" for inference with the model in ``model_dir`` on ``device``; 'auto' on a CPU is measured."""
    if precision == "fp32":
        return "fp32"
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    cpu_bf16 = device.type == "cpu" and cpu_has_bf16()
    if precision == "bf16":
        if cuda_bf16 or cpu_bf16:
            return "bf16"
        raise ValueError(f"--precision bf16: {device} has no fast bf16 support; use --precision fp32")
    if precision != "auto":
        raise ValueError(f"--precision {precision}: use auto, fp32 or bf16")
    if device.type == "cuda":
        return "bf16" if cuda_bf16 else "fp32"
    if not cpu_bf16:
        return "fp32"  # emulated bf16 runs ~20x slower: nothing to measure
    return _measured_choice(model_dir, cache_dir)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def weights_digest(model_dir: Path) -> str:
    """The saved weights alone. Not ``model_digest``: that also covers the temperature and the reference profile,
    which change between calibration, profiling and scoring of the same weights and would split one choice in three."""
    files = sorted(model_dir.glob("*.safetensors"))
    return _digest_of(tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@functools.lru_cache(maxsize=8)
def _digest_of(files: tuple[tuple[str, int, int], ...]) -> str:
    # Keyed by name, size and mtime: scoring asks once per file, and hashing a large model each time would show.
    return sha256_text(*(f"{Path(name).name}:{sha256_file(Path(name))}" for name, _, _ in files))


def key_parts(model_dir: Path) -> dict:
    """What the measurement depends on: the CPU, the kernels (torch version) and the model. Not the thread count:
    a Dask worker scores with fewer threads than the train flow predicts with, and one model on one machine must
    label a text the same way in both (the probe runs with whatever threads its first caller has)."""
    return {"cpu": cpu_name(), "torch": torch.__version__, "weights": weights_digest(model_dir)}


def choose(times: dict[str, float]) -> str:
    return "bf16" if times["fp32"] >= MIN_SPEEDUP * times["bf16"] else "fp32"


def _measured_choice(model_dir: Path, cache_dir: Path) -> str:
    parts = key_parts(model_dir)
    key = sha256_text(*(f"{k}={v}" for k, v in sorted(parts.items())))[:16]
    path = cache_dir / "precision" / f"{key}.json"
    # Dask workers on one machine start together: the lock makes them share one probe and so one answer.
    with _locked(path.with_name(f".{key}.lock")):
        if path.is_file():
            try:
                return read_json(path)["choice"]
            except (ValueError, KeyError):
                pass  # unreadable record (an older format): measure again and replace it
        times = probe(model_dir)
        choice = choose(times)
        write_json(path, {"key": parts, "seconds": times, "speedup": round(times["fp32"] / times["bf16"], 3),
                          "choice": choice, "measured": datetime.now(UTC).isoformat(timespec="seconds")})
    logger().info("precision auto on %s (%d threads): fp32 %.1f ms, bf16 %.1f ms per %dx%d batch -> %s (recorded "
                  "in %s)", parts["cpu"], torch.get_num_threads(), 1000 * times["fp32"], 1000 * times["bf16"],
                  PROBE_ROWS, PROBE_TOKENS, choice, path)
    return choice


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    # flock is released by the kernel when its holder dies: a killed probe never leaves a stale lock.
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def probe(model_dir: Path) -> dict[str, float]:
    """Best seconds per forward pass of a fixed synthetic batch, in fp32 and under bf16 autocast, on the CPU."""
    model, _, _ = load_classifier(model_dir)
    width = min(PROBE_TOKENS, saved_max_seq_length(model_dir))
    vocab = model.encoder.config.vocab_size
    ids = torch.randint(0, vocab, (PROBE_ROWS, width), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return {"fp32": _best_pass(model, batch, None), "bf16": _best_pass(model, batch, torch.bfloat16)}


@torch.inference_mode()
def _best_pass(model: torch.nn.Module, batch: dict[str, torch.Tensor], dtype: torch.dtype | None) -> float:
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        model(**batch)  # warm-up: first-call allocation and kernel selection are not the steady state
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            model(**batch)
            best = min(best, time.perf_counter() - started)
            if best > SLOW_PASS_SECONDS:
                break
    return best
