"""One logger call that works inside a Prefect run (logs go to the UI) and outside (plain logging)."""

from __future__ import annotations

import logging

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger


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
