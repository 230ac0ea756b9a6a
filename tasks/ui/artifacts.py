"""Progress bars in the Prefect UI: one per task or flow run, created on the first call, then moved on.

Every stage reports its progress through ``report_progress``; the artifacts that show a stage's results live
with the stage (``tasks/training/artifacts.py``, ``tasks/evaluation/artifacts.py``, ``tasks/drift/report.py``,
...). Outside a Prefect run (plain calls in tests and benchmarks) nothing is created.
"""

from __future__ import annotations

import threading
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext, TaskRunContext

from tasks.core.logs import in_prefect_run

_bars: dict[UUID, UUID] = {}  # run id -> its progress artifact, so each run has one bar, not one per call
_bars_lock = threading.Lock()  # task runs share this process's threads


def _current_run_id() -> UUID | None:
    if (task_run := TaskRunContext.get()) is not None:
        return task_run.task_run.id
    flow_run = FlowRunContext.get()
    return flow_run.flow_run.id if flow_run is not None and flow_run.flow_run else None


def report_progress(fraction: float, description: str, key: str | None = None) -> None:
    """One progress bar per run (task or flow): created on the first call, then moved on."""
    run_id = _current_run_id() if in_prefect_run() else None
    if run_id is None:
        return
    percent = round(100 * min(max(fraction, 0.0), 1.0), 1)
    with _bars_lock:
        bar = _bars.get(run_id)
        if bar is None:
            _bars[run_id] = create_progress_artifact(percent, key=key, description=description)
            return
    update_progress_artifact(bar, percent, description=description)
