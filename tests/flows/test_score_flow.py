"""The scoring flow against a real Prefect server: once in-process, and served as a deployment."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
)
from prefect.deployments import run_deployment

from flows.score_flow import SERVED_DEPLOYMENT, score_flow
from tasks.core.config import ScoreConfig
from tasks.core.errors import DataError
from tasks.core.files import read_json, write_json
from tasks.core.records import LabelSet
from tasks.scoring.verify import verify_scored
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("m") / "model", LabelSet(names=("0", "1"), kind="int"), texts)


def incoming(folder: Path) -> Path:
    for i in range(2):
        write_jsonl(folder / f"part-{i}.jsonl", learnable_rows([0, 1], 30, seed=i))
    return folder


def test_scores_with_the_promoted_model_then_skips_what_is_done(prefect_server, model_dir, tmp_path):
    write_json(tmp_path / "artifacts/latest_model.json", {"model_dir": str(model_dir)})
    config = ScoreConfig(inputs=str(incoming(tmp_path / "incoming-once")), output_dir=tmp_path / "out",
                         artifacts_dir=tmp_path / "artifacts")
    first = score_flow(config)
    assert [(r.input.name, r.status, r.rows_scored) for r in first] == [
        ("part-0.jsonl", "scored", 30), ("part-1.jsonl", "scored", 30)]
    run, progress = asyncio.run(flow_run_and_progress("score incoming-once"))
    assert f"model:{model_dir.parent.name}" in run.tags  # the run directory holding the model
    assert sorted((a.description, float(a.data)) for a in progress) == [
        (f"Scoring part-{i}.jsonl: 30 rows read, 30 scored", 100.0) for i in range(2)]
    assert read_json(tmp_path / "out/part-1.manifest.json")["model_dir"] == str(model_dir)
    (log,) = (tmp_path / "out/logs").glob(f"score-*-{run.id}.log")  # one new log file per run, named for it
    text = log.read_text(encoding="utf-8")
    # conftest quiets Prefect to WARNING, and the file holds what the terminal shows: the per-file warning.
    assert "| WARNING | Task run 'score part-0.jsonl' - " in text and "has no reference profile" in text
    assert [r.status for r in score_flow(config)] == ["skipped", "skipped"]
    # One new file beside the two done: the summary counts and times only the new one, and lists the others.
    write_jsonl(tmp_path / "incoming-once/part-2.jsonl", learnable_rows([0, 1], 7, seed=5))
    assert [r.status for r in score_flow(config)] == ["skipped", "skipped", "scored"]
    (summary,) = asyncio.run(latest_artifact("scoring-summary"))
    assert summary.description.startswith("Scored 1 file in this run: 7 rows scored and 0 rejected of 7, in "), \
        summary.description
    assert "Not scored: 2 files already scored with this model and these options." in summary.description
    assert [row["status"] for row in json.loads(summary.data)][:2] == [
        "skipped: already scored with this model and these options"] * 2


def test_no_promoted_model_is_a_clear_error(prefect_server, tmp_path):
    with pytest.raises(DataError, match="no promoted model"):
        score_flow(ScoreConfig(inputs=str(incoming(tmp_path / "in")), artifacts_dir=tmp_path / "none"))


async def flow_run_and_progress(name: str):
    """The one flow run of that name, and the progress bars of its task runs (the Prefect UI shows both)."""
    async with get_client() as client:
        (run,) = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        # The per-file task runs belong to the scoring run itself, with no subflow between (its Logs tab has them).
        subflows = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])))
        assert subflows == []
        artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]), type=ArtifactFilterType(any_=["progress"])))
    return run, artifacts


async def wait_for_deployment(name: str, timeout: float):
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            try:
                return await client.read_deployment_by_name(name)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)


def test_served_deployment_runs_when_triggered_through_the_api(prefect_server, model_dir, tmp_path):
    inputs = incoming(tmp_path / "in")
    env = os.environ | {"PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    argv = ["flows/score_flow.py", "--serve", "--inputs", str(inputs), "--output_dir", str(tmp_path / "out"),
            "--model_dir", str(model_dir)]
    server = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deployment = asyncio.run(wait_for_deployment("score-jsonl/batch-scoring-served", 120))
        assert deployment.schedules and deployment.schedules[0].schedule.cron == "*/10 * * * *"
        run = run_deployment("score-jsonl/batch-scoring-served", timeout=240)
        assert run.state.is_completed(), run.state
        for i in range(2):
            manifest = read_json(tmp_path / f"out/part-{i}.manifest.json")
            assert manifest["rows_scored"] == 30 and manifest["rows_rejected"] == 0
            lines = (tmp_path / f"out/part-{i}.pred.jsonl").read_text(encoding="utf-8").splitlines()
            assert [json.loads(x)["news"] for x in lines] == [r["news"] for r in learnable_rows([0, 1], 30, seed=i)]
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_a_local_dask_cluster_of_two_processes_writes_the_same_bytes(prefect_server, model_dir, tmp_path):
    inputs = incoming(tmp_path / "in")
    write_jsonl(inputs / "part-2.jsonl", learnable_rows([0, 1], 50, seed=7))
    local = score_flow(ScoreConfig(inputs=str(inputs), output_dir=tmp_path / "local", model_dir=model_dir))
    dask = score_flow(ScoreConfig(inputs=str(inputs), output_dir=tmp_path / "dask", model_dir=model_dir,
                                  dask_workers=2))
    assert [r.status for r in dask] == ["scored"] * 3
    for result in local:
        name = result.predictions.name
        assert (tmp_path / "dask" / name).read_bytes() == result.predictions.read_bytes(), name


def test_prefect_yaml_deploys_the_scheduled_deployment_to_a_process_pool(prefect_server, tmp_path):
    env = os.environ | {"PREFECT_API_URL": prefect_server}

    def prefect(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        return out.stdout

    prefect("work-pool", "create", "scoring", "--type", "process", "--overwrite")
    prefect("deploy", "--all")

    async def read():
        async with get_client() as client:
            # Not the name --serve registers (score_flow.SERVED_DEPLOYMENT): neither replaces the other.
            return await client.read_deployment_by_name("score-jsonl/batch-scoring-pool")

    deployment = asyncio.run(read())
    assert deployment.work_pool_name == "scoring" and deployment.name != SERVED_DEPLOYMENT
    assert deployment.schedules[0].schedule.cron == "*/10 * * * *"
    assert deployment.entrypoint == "flows/score_flow.py:score_flow"


async def latest_artifact(key: str):
    async with get_client() as client:
        return await client.read_latest_artifacts(artifact_filter=ArtifactCollectionFilter(
            key=ArtifactCollectionFilterKey(any_=[key])))


def test_a_real_folder_tree_loses_no_row_and_a_file_with_no_predictions_fails_the_run(prefect_server, model_dir,
                                                                                      tmp_path):
    root = tmp_path / "tree"
    write_jsonl(root / "a.jsonl", learnable_rows([0, 1], 10, seed=1))
    write_jsonl(root / "sub/a.jsonl", learnable_rows([0, 1], 12, seed=2))  # the same name one folder down
    (root / "sub/empty.jsonl").write_text("", encoding="utf-8")
    write_jsonl(root / "sub/wrong-field.jsonl", [{"text": "好"}] * 3)
    (root / "link.jsonl").symlink_to(root / "sub/a.jsonl")
    (root / "dangling.jsonl").symlink_to(root / "nowhere.jsonl")
    # The outputs go into the input tree itself, so the second run meets them among its inputs.
    config = ScoreConfig(inputs=str(root / "**/*.jsonl"), output_dir=root, model_dir=model_dir)
    with pytest.raises(DataError, match=r"1 file\(s\) gave no predictions.*wrong-field\.jsonl: every row was "
                                        r"rejected \(3\): lines 1, 2, 3: missing text field .news."):
        score_flow(config)
    expected = {"a": (10, 0, None), "sub/a": (12, 0, None), "link": (12, 0, None),
                "sub/empty": (0, 0, "the file is empty"), "sub/wrong-field": (0, 3, "every row was rejected (3)")}
    for stem, (scored, rejected, warning) in expected.items():
        manifest = read_json(root / f"{stem}.manifest.json")
        assert (manifest["rows_scored"], manifest["rows_rejected"]) == (scored, rejected), stem
        assert (manifest["warning"] or "").startswith(warning or ""), stem
        assert verify_scored(root / f"{stem}.manifest.json") == [], stem
    summary = asyncio.run(latest_artifact("scoring-summary"))[0]
    assert "**no predictions** from" in summary.description and "wrong-field.jsonl" in summary.description
    assert "not scored: a dangling symlink" in json.dumps(summary.data)
    again = score_flow(config)  # its own outputs are no inputs; nothing was scored now, so nothing fails now
    assert sorted((str(r.input.relative_to(root)), r.status) for r in again) == sorted(
        (f"{stem}.jsonl", "skipped") for stem in expected)
    assert {r.input.name: r.warning for r in again}["wrong-field.jsonl"].startswith("every row was rejected")


def test_the_command_line_ends_a_run_with_no_predictions_with_one_message_and_exit_code_2(prefect_server, model_dir,
                                                                                           tmp_path):
    write_jsonl(tmp_path / "in/wrong-field.jsonl", [{"text": "好"}] * 2)
    env = os.environ | {"PREFECT_API_URL": prefect_server}
    done = subprocess.run([sys.executable, "flows/score_flow.py", "--inputs", str(tmp_path / "in"), "--output_dir",
                           str(tmp_path / "out"), "--model_dir", str(model_dir)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr, (done.stdout + done.stderr)[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("error: 1 file(s) gave no predictions")
    assert read_json(tmp_path / "out/wrong-field.manifest.json")["rows_rejected"] == 2
