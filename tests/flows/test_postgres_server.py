"""Production set-up, once for real: a Prefect server backed by PostgreSQL on loopback runs a deployment."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tests.builders import learnable_rows, write_jsonl
from tests.flows.test_score_flow import wait_for_deployment
from tests.pipeline import save_tiny_classifier
from tests.servers import free_port, stop, wait_healthy

REPO = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"))), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(PG_BIN is None, reason="Debian's postgresql is not installed")]


def as_postgres(*cmd: str) -> None:
    # PostgreSQL refuses to run as root; CI runs as root, a developer may not.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)


@pytest.fixture
def postgres():
    # Not under pytest's tmp_path: that is private to root, and the server runs as user postgres.
    data = Path(tempfile.mkdtemp(prefix="pg-test-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    as_postgres(f"{PG_BIN}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
    as_postgres(f"{PG_BIN}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
    try:
        as_postgres(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        as_postgres(f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_deployment_runs_on_a_postgresql_backed_server(postgres, tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = os.environ | {"PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres, "PREFECT_HOME": str(tmp_path / "ph"),
                        "PREFECT_API_URL": api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    served = None
    try:
        wait_healthy(api, server, 180)
        model = save_tiny_classifier(tmp_path / "model", LabelSet(names=("0", "1"), kind="int"), ["好", "差"])
        write_jsonl(tmp_path / "in/news.jsonl", learnable_rows([0, 1], 20, seed=4))
        served = subprocess.Popen([sys.executable, "flows/score_flow.py", "--serve", "--inputs", str(tmp_path / "in"),
                                   "--output_dir", str(tmp_path / "out"), "--model_dir", str(model)], cwd=REPO,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        with temporary_settings({PREFECT_API_URL: api}):
            import asyncio

            asyncio.run(wait_for_deployment("score-jsonl/batch-scoring-served", 120))
            run = run_deployment("score-jsonl/batch-scoring-served", timeout=240)
        assert run.state.is_completed(), run.state
        assert read_json(tmp_path / "out/news.manifest.json")["rows_scored"] == 20
        count = subprocess.run(["psql", postgres.replace("+asyncpg", ""), "-tAc",
                                "select count(*) from flow_run where state_type = 'COMPLETED'"],
                               capture_output=True, text=True, check=True, timeout=30)
        assert int(count.stdout) >= 1  # the run is recorded in PostgreSQL, not in SQLite
    finally:
        if served is not None:
            stop(served)
        stop(server)
