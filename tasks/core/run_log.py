"""A plain text log file of one flow run: what the terminal showed, kept beside what the run wrote.

Why: the terminal scrolls away and the server's Logs tab needs the server (a temporary one is gone with its
process). A training run's ``artifacts/runs/<name>/run.log`` and a scoring run's ``<output_dir>/logs/score-...log``
let a run be understood from its folder alone, and a killed run keeps every line up to the kill: the file
handler flushes after each record (``logging.StreamHandler.emit``).

Which loggers: the ones whose lines Prefect's console handler shows for a run (``prefect/logging/logging.yml``:
the console handler sits on the root logger, and these propagate to it):

- ``prefect.flow_runs`` and ``prefect.task_runs``: the run loggers of ``get_run_logger()``, that is the engine's
  own lines, ``tasks.core.logs.logger()`` inside a run, and ``print`` under ``log_prints=True`` (Prefect's
  ``print_as_log`` logs the text as INFO through the run logger);
- ``pipeline``: ``tasks.core.logs.logger()`` where no run context is (a plain thread a task started).

Levels are left as they are, so the file holds what the terminal held (``PREFECT_LOGGING_LEVEL``; the
``pipeline`` logger passes WARNING and up, like the root logger). Lines of torchrun children and Dask worker
processes are in the file when this process logs them again (the fine-tune task does); lines other libraries send
to the root logger are not. Each line is Prefect's console line without colours, with the date added: a log file
outlives the day its run began.

Whose records: one process can run several flow runs at once (flows in threads, a served deployment), and
these loggers are process-wide. The run loggers put ``flow_run_id`` on every record, a task run's records too
(its task run's ``flow_run_id``), so the file takes the records of the flow run that entered ``run_log`` and of
its task runs. A subflow is a run of its own and is left out (``sweep-on-dask``: its fine-tune tasks log on the
Dask workers anyway). A record without the attribute is placed by the run context of the thread that emits it;
one emitted outside any run belongs to no other run and is kept.

The file is never one the pipeline did not write: ``run.log`` lies in a run directory made new for each run
(``tasks/core/rundir.py``) and is appended to; a scoring run's file has a name of its own (the time and the flow
run id, like ``drift/drift-<time>-<id>.png``) and is opened with ``exclusive=True``, which fails rather than
touch a file that is already there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.formatters import PrefectFormatter
from prefect.runtime import flow_run

from tasks.core.errors import DataError

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "pipeline")
# logging.yml's "standard" formatter, the one the console handler uses, with the date in front of the time.
_DATE = "%Y-%m-%d %H:%M:%S"
_FORMATS = {
    "format": "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s",
    "flow_run_fmt": "%(asctime)s.%(msecs)03d | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s",
    "task_run_fmt": "%(asctime)s.%(msecs)03d | %(levelname)-7s | Task run %(task_run_name)r - %(message)s",
}


def score_log_file(output_dir: Path) -> Path:
    """``<output_dir>/logs/score-<UTC time>-<flow run id>.log``: a new name for every scoring run."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(output_dir).expanduser() / "logs" / f"score-{stamp}-{flow_run.get_id() or 'local'}.log"


def _current_flow_run_id() -> str | None:
    """The flow run of this thread's context; a task run's own flow run when only its context is set."""
    task = TaskRunContext.get()
    if task is not None:
        return str(task.task_run.flow_run_id) if task.task_run.flow_run_id else None
    flow = FlowRunContext.get()
    return str(flow.flow_run.id) if flow is not None and flow.flow_run is not None else None


class _OneFlowRun(logging.Filter):
    def __init__(self, flow_run_id: str | None):
        super().__init__()
        self.flow_run_id = flow_run_id

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "flow_run_id"):  # set by Prefect's run loggers (PrefectLogAdapter's extra)
            owner = record.flow_run_id
            return (None if owner is None else str(owner)) == self.flow_run_id
        # Filters run in the emitting thread, so its context says whose record this is.
        owner = _current_flow_run_id()
        return owner is None or owner == self.flow_run_id


@contextmanager
def run_log(path: Path, *, exclusive: bool = False) -> Iterator[Path]:
    """Copy this flow run's log lines (and its task runs') into ``path`` until the block ends.

    ``exclusive``: create the file or fail (``FileExistsError``) instead of appending to one already there.
    A block that ends by an exception writes it as its last line: the engine logs a flow's own failure only
    after the flow's body, so after this block, and the file would otherwise not say how the run ended."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="x" if exclusive else "a", encoding="utf-8")
    handler.setFormatter(PrefectFormatter(datefmt=_DATE, **_FORMATS))
    flow_run_id = _current_flow_run_id()
    handler.addFilter(_OneFlowRun(flow_run_id))
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for target in loggers:
        target.addHandler(handler)
    try:
        yield path
    except BaseException as exc:
        handler.handle(_failure_record(exc, flow_run_id))
        raise
    finally:
        for target in loggers:
            target.removeHandler(handler)
        handler.close()


def _failure_record(exc: BaseException, flow_run_id: str | None) -> logging.LogRecord:
    """To this file only: the terminal gets the engine's own line for it."""
    context = FlowRunContext.get()
    name = context.flow_run.name if context is not None and context.flow_run is not None else "<unknown>"
    quiet = isinstance(exc, DataError)  # bad data: the message is the answer, as in tasks/core/logs.py
    return logging.makeLogRecord({
        "name": "prefect.flow_runs", "levelno": logging.ERROR, "levelname": "ERROR",
        "msg": "Ended with %s: %s", "args": (type(exc).__name__, exc), "flow_run_id": flow_run_id,
        "flow_run_name": name, "exc_info": None if quiet else (type(exc), exc, exc.__traceback__),
    })

