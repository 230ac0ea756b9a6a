"""Retry policy: retry what can pass on a second try (I/O, lost connections), never bad data."""

from __future__ import annotations

from prefect.states import State

from tasks.core.errors import DataError, DeviceOutOfMemory

TRANSIENT = (OSError, ConnectionError, TimeoutError, DeviceOutOfMemory)


def failure_of(state: State) -> BaseException | None:
    data = state.data
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # a result that cannot be read is itself the failure
        return exc
    return result if isinstance(result, BaseException) else None


def transient_only(task, task_run, state: State) -> bool:
    """Prefect ``retry_condition_fn``: True only for errors a retry can fix."""
    exc = failure_of(state)
    return isinstance(exc, TRANSIENT) and not isinstance(exc, DataError)
