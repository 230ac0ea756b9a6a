"""One torchrun rank: join the process group, run the shared training loop, report a failure to the task.

Launched by ``tasks/training/launch.py`` as ``python -m torch.distributed.run ... -m tasks.training.worker
job.json`` for fine-tuning; pre-training starts its own entry point (``tasks/pretraining/worker.py``) on the same
``run_worker``. NCCL on CUDA (one GPU per local rank), gloo on CPU. Process-group creation and every collective
time out after ``--dist_timeout_seconds``, so a lost peer fails the run instead of hanging it.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from tasks.core.device import pick_device
from tasks.core.errors import DataError, DeviceOutOfMemory
from tasks.core.files import write_json
from tasks.core.records import Record
from tasks.training.loop import Ranks, TrainJob, run_training
from tasks.training.progress import PROGRESS_MARKER, TrainProgress


def worker_device(cfg_device: str, local_rank: int) -> torch.device:
    device = pick_device(cfg_device)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def report(rank: int, exc: BaseException) -> None:
    kind = "data" if isinstance(exc, DataError) else "oom" if isinstance(exc, DeviceOutOfMemory) else "other"
    folder = Path(os.environ.get("DDP_ERROR_DIR", "."))
    write_json(folder / f"rank{rank}.json", {"rank": rank, "time": time.time(), "kind": kind,
                                             "type": type(exc).__name__, "message": str(exc),
                                             "traceback": traceback.format_exc()})


def print_progress(progress: TrainProgress) -> None:
    """Rank 0's in-epoch progress as one line the launcher turns back into the record (tasks/training/launch.py)."""
    print(PROGRESS_MARKER + progress.model_dump_json(), flush=True)


def run_worker(job_file: str, job_type: type[Record], run: Callable[..., None], **extra) -> None:
    """Read the job, join the process group, ``run(job, ranks, device, log, **extra)``; a failure is written for
    the launcher (``report``) and ends this rank at once."""
    rank, world, local_rank = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    try:
        job = job_type.model_validate_json(Path(job_file).read_text(encoding="utf-8"))
        device = worker_device(job.cfg.device, local_rank)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=timedelta(seconds=job.cfg.dist_timeout_seconds),
                                device_id=device if device.type == "cuda" else None)
        run(job, Ranks(rank=rank, world=world), device, log=lambda m: print(f"[rank {rank}] {m}", flush=True),
            **extra)
    except BaseException as exc:
        report(rank, exc)
        traceback.print_exc()
        sys.stderr.flush()
        # Exit at once: the traceback keeps the DDP model alive, and tearing DDP and gloo down in that
        # order can hang. torchrun sees the exit code and stops the other ranks.
        os._exit(1)
    dist.destroy_process_group()


if __name__ == "__main__":
    run_worker(sys.argv[1], TrainJob, run_training, on_progress=print_progress)
