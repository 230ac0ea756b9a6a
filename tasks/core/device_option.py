"""The ``--device`` option checked when a config is built: a known name, and a device this machine has.

Imports nothing heavy: torch is imported only to check a CUDA or MPS device, never for 'auto' or 'cpu', so
building a config (the UI, ``--help``) stays fast. A run on a Dask cluster (``--dask_address``) uses the
workers' devices, not this machine's, so there only the name is checked.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_HELP = "'auto' (cuda when present), 'cpu', 'cuda', 'cuda:N' or 'mps'."


def device_name(value: str) -> str:
    """The name itself, or a ValueError naming the accepted ones (the field validator of every ``device``)."""
    name = value.strip().lower()
    if not DEVICE_NAME.fullmatch(name):
        raise ValueError(f"unknown device {value!r}: give {DEVICE_HELP}")
    return name


DeviceName = Annotated[str, AfterValidator(device_name)]  # the type of every config's ``device``


def device_usable(name: str, precision: str) -> None:
    """A ValueError when this machine lacks the device, or the device lacks ``--precision``: each config checks
    both once its fields are read (unless the work runs on a cluster's workers)."""
    device_present(name)
    precision_present(name, precision)


def device_present(name: str) -> None:
    """A ValueError when ``name`` asks for a CUDA or MPS device this machine does not have."""
    if name in ("auto", "cpu"):
        return
    import torch  # only here: a config of 'auto' or 'cpu' never loads torch

    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("--device mps: MPS is not available on this machine; use --device cpu or auto")
        return
    if not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    index, count = int(name.partition(":")[2] or 0), torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"--device {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")


def precision_present(name: str, precision: str) -> None:
    """A ValueError when ``--precision bf16`` asks for bf16 where the device has no native support for it (a CPU
    without avx512_bf16/AMX would emulate it ~20x slower); checked with the device, before any run starts."""
    if precision != "bf16" or name == "mps":
        return
    import torch

    from tasks.core.device import cpu_has_bf16

    on_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if on_cuda and not torch.cuda.is_bf16_supported():
        raise ValueError("--precision bf16: this GPU has no bf16 support; use --precision fp32 or auto")
    if not on_cuda and not cpu_has_bf16():
        raise ValueError("--precision bf16: this CPU has no native bf16 (avx512_bf16 or AMX); use --precision fp32 "
                         "or auto")
