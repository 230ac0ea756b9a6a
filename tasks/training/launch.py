"""Run the training loop under torchrun (PyTorch's DDP launcher) and bring its outcome back to the task.

The fine-tune task writes the job as JSON, starts ``python -m torch.distributed.run ... -m
tasks.training.worker job.json``, streams every line the ranks print into the Prefect run log, and waits.
Rank 0's in-epoch progress arrives as ``PROGRESS_MARKER`` lines: they move the UI's bar instead.
When a rank fails, torchrun stops the others; the task then raises that rank's own error, read from
the file the rank wrote, with its type kept: bad data is not retried, out-of-memory is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tasks.core.errors import DataError, DeviceOutOfMemory
from tasks.core.files import read_json, write_text
from tasks.core.records import EpochRecord, Record
from tasks.training.checkpoint import read_progress
from tasks.training.loop import TrainJob
from tasks.training.progress import PROGRESS_MARKER, TrainProgress

REPO = Path(__file__).resolve().parents[2]
ERRORS = {"data": DataError, "oom": DeviceOutOfMemory}
FINE_TUNE_WORKER = "tasks.training.worker"  # the module torchrun runs on each rank; pre-training passes its own


def torchrun_command(job: TrainJob, job_file: Path, worker: str = FINE_TUNE_WORKER) -> list[str]:
    cfg = job.cfg
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={cfg.nproc_per_node}",
               f"--nnodes={cfg.nnodes}", "--max_restarts=0"]
    if cfg.nnodes == 1:
        command.append("--standalone")  # a free local port; nothing to meet
    else:
        command += [f"--node_rank={cfg.node_rank}", "--rdzv_backend=c10d", f"--rdzv_endpoint={cfg.rdzv_endpoint}",
                    f"--rdzv_id={job.folder.name}"]
    return [*command, "-m", worker, str(job_file)]


def launch_torchrun(job: TrainJob, work: Path, log: Callable[[str], None],
                    on_epoch: Callable[[EpochRecord], None] | None = None, marker: str = "dev accuracy",
                    record_type: type[Record] = EpochRecord,
                    on_progress: Callable[[TrainProgress], None] | None = None,
                    worker: str = FINE_TUNE_WORKER) -> None:
    """Run ``job`` under torchrun; ``on_epoch`` sees each evaluation record as rank 0 checkpoints it, and
    ``on_progress`` each in-epoch progress record rank 0 prints.

    ``marker`` is in the line rank 0 logs after an epoch's checkpoint, ``record_type`` the type of its epoch
    records, ``worker`` the module each rank runs: fine-tuning's by default; pre-training
    (``tasks/pretraining/loop.py``) passes its own."""
    errors = work / "errors"
    errors.mkdir(parents=True, exist_ok=True)
    for stale in errors.glob("rank*.json"):  # a previous try's errors, written by our own workers
        stale.unlink()
    job_file = write_text(work / "job.json", job.model_dump_json(indent=1))
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                        "PYTHONUNBUFFERED": "1", "DDP_ERROR_DIR": str(errors)}
    command = torchrun_command(job, job_file, worker)
    log(" ".join(command))
    seen = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          cwd=REPO, bufsize=1) as proc:
        for line in proc.stdout:
            if line.startswith(PROGRESS_MARKER):  # rank 0 also logs the same progress as a line of its own
                progress = progress_record(line)
                if progress is not None and on_progress is not None:
                    on_progress(progress)
                continue
            if line.strip():
                log(line.rstrip())
            progress = read_progress(job.folder, record_type) if on_epoch and marker in line else None
            for record in progress.epochs[seen:] if progress else []:
                on_epoch(record)
            seen = len(progress.epochs) if progress else seen
        code = proc.wait()
    if code != 0:
        raise rank_failure(errors, code)


def progress_record(line: str) -> TrainProgress | None:
    try:
        return TrainProgress.model_validate_json(line.removeprefix(PROGRESS_MARKER))
    except ValueError:  # cut by another process's output: a progress report is never worth failing training
        return None


def rank_failure(errors: Path, code: int) -> Exception:
    reports = sorted((read_json(f) for f in errors.glob("rank*.json")), key=lambda r: (r["time"], r["rank"]))
    if not reports:
        return RuntimeError(f"torchrun exited with code {code} and no rank reported an error; see the log above")
    first = reports[0]  # the first to fail is the cause; the others were stopped because of it
    return ERRORS.get(first["kind"], RuntimeError)(f"rank {first['rank']} failed: {first['type']}: {first['message']}")
