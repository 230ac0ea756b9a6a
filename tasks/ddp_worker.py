"""One torchrun rank: join the process group, run the shared training loop, report a failure to the task.

Launched by ``tasks/launch.py`` as ``python -m torch.distributed.run ... -m tasks.ddp_worker job.json``.
NCCL on CUDA (one GPU per local rank), gloo on CPU. Process-group creation and every collective time out
after ``--dist_timeout_seconds``, so a lost peer fails the run instead of hanging it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from tasks.device import pick_device
from tasks.files import write_json
from tasks.jsonl import DataError
from tasks.memory import DeviceOutOfMemory
from tasks.train_loop import Ranks, TrainJob, run_training
from tasks.train_progress import PROGRESS_MARKER, TrainProgress


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
    """Rank 0's in-epoch progress as one line the launcher turns back into the record (tasks/launch.py)."""
    print(PROGRESS_MARKER + progress.model_dump_json(), flush=True)


def main(job_file: str) -> None:
    rank, world, local_rank = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    try:
        text = Path(job_file).read_text(encoding="utf-8")
        job_type, run, extra = TrainJob, run_training, {"on_progress": print_progress}
        if json.loads(text).get("kind") == "mlm":  # pre-training (tasks/mlm_loop.py) on the same launcher
            from tasks.mlm_loop import MlmJob, run_pretraining
            job_type, run, extra = MlmJob, run_pretraining, {}
        job = job_type.model_validate_json(text)
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
    main(sys.argv[1])
