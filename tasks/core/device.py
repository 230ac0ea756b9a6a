"""Device and precision choices, decided once at run time from what the hardware really has."""

from __future__ import annotations

import contextlib

import torch


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


def cpu_has_bf16() -> bool:
    # Without native bf16 instructions, CPU autocast emulates bf16 and runs ~20x slower than fp32.
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            return any("avx512_bf16" in line or "amx_bf16" in line for line in fh if line.startswith("flags"))
    except OSError:
        return False


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The training precision: bf16 where it is fast and safe; ``None`` means plain fp32. 'auto' trains in bf16
    only on CUDA.

    Inference resolves its precision with ``tasks.training.precision.inference_precision`` instead: a CPU flag does
    not predict bf16 speed, so 'auto' there is measured once per model and machine and shared by both flows.
    """
    if precision == "fp32":
        return None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and cpu_has_bf16() and precision == "bf16":
        return torch.bfloat16
    if precision == "bf16":
        raise ValueError(f"--precision bf16: {device} has no fast bf16 support; use --precision fp32")
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def token_budget(device: torch.device, dtype: torch.dtype | None, override: int | None = None) -> int:
    """Padded tokens per inference batch. Measured on a 2-core CPU with a 4-layer BERT: fp32 peaks near
    2,048 tokens (bigger batches spill out of the caches), bf16 keeps gaining up to 4,096 and beyond."""
    if override:
        return override
    if device.type == "cuda":
        return 65536
    return 8192 if dtype is not None else 2048


def pad_multiple(device: torch.device) -> int:
    """Padded widths on CUDA are multiples of 8: tensor cores want aligned shapes, and dynamic padding would
    otherwise give each batch a new sequence length, so every step pays for kernel selection anew."""
    return 8 if device.type == "cuda" else 1
