"""One logger call that works inside a Prefect run (logs go to the UI) and outside (plain logging)."""

from __future__ import annotations

import logging

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from tasks.core.errors import DataError


def logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("pipeline")


def in_prefect_run() -> bool:
    """Artifacts need a run to attach to; plain calls of a task's function (tests, benchmarks) have none."""
    try:
        get_run_logger()
        return True
    except MissingContextError:
        return False


class _NoTracebackForDataErrors(logging.Filter):
    """Prefect logs a failed run's exception with its traceback; for bad data the message alone is the answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DataError):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_data_error_tracebacks() -> None:
    """Strip tracebacks of DataError from Prefect's flow- and task-run logs (the terminal and the UI alike)."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _NoTracebackForDataErrors) for f in target.filters):
            target.addFilter(_NoTracebackForDataErrors())
