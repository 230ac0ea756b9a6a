"""What the Prefect server recorded for one training run: its flow run, task runs and artifacts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import Artifact, FlowRun
from prefect.client.schemas.sorting import ArtifactSort


@dataclass
class RunView:
    flow_run: FlowRun
    task_runs: list[str]
    artifacts: list[Artifact]

    def keyed(self, key: str) -> Artifact:
        (artifact,) = [a for a in self.artifacts if a.key == key]
        return artifact


async def _view(run_dir_name: str) -> RunView:
    async with get_client() as client:
        # The run directory's name is in the model-and-predictions artifact: that finds the flow run.
        outputs = await client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["model-and-predictions"])))
        (flow_run_id,) = {a.flow_run_id for a in outputs if run_dir_name in str(a.data)}
        flow_run = await client.read_flow_run(flow_run_id)
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return RunView(flow_run, sorted(t.name for t in tasks), artifacts)


def run_view(run_dir_name: str) -> RunView:
    """Needs PREFECT_API_URL (or the test harness) pointing at the server the run reported to."""
    return asyncio.run(_view(run_dir_name))


async def _latest(key: str) -> Artifact:
    async with get_client() as client:
        (artifact,) = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                  sort=ArtifactSort.CREATED_DESC, limit=1)
    return artifact


def latest_artifact(key: str) -> Artifact:
    """The newest version of the artifact with that key (needs PREFECT_API_URL, as run_view)."""
    return asyncio.run(_latest(key))
