"""Test-wide isolation: a private PREFECT_HOME, no telemetry, no hub; and small learnable data sets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.builders import write_learnable

# Before Prefect is imported anywhere: never touch the developer's Prefect profile or a real server.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

@pytest.fixture(scope="session")
def binary_data(tmp_path_factory) -> dict[str, Path]:
    return write_learnable(tmp_path_factory.mktemp("binary"), [0, 1])


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API server (SQLite, 127.0.0.1, free port) for the whole session."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()
