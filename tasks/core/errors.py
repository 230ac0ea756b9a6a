"""The two kinds of failure every stage raises and the retry policy tells apart (tasks/core/retry.py)."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data or configuration: retrying cannot help, the user must fix something."""


class DeviceOutOfMemory(RuntimeError):
    """The device ran out of memory; a retry with smaller micro-batches can pass (tasks/training/memory.py)."""
