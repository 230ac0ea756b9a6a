"""What crash detection did on a real server: its events, read back through the REST API (tests/flows/test_soak.py).

The misfires it must never make: acting on a run that completed, however short or long, started by hand or by a
deployment's schedule, with any heartbeat period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.core.crash_detection import automation_name, heartbeat_event

# The events the checks read; the rest of a soak's tens of thousands (task runs, logs) are left on the server.
SLOW_HEARTBEAT = 90
# Seconds asleep and heartbeat period (None: the caller's) of the runs beside the soak's: one longer than its
# window, one that ends at once, one quiet for longer than a 30-s window with 90-s heartbeats.
SLEEPERS = {"long": (65, None), "quick": (0, None), "slow": (70, SLOW_HEARTBEAT)}
WATCHED = ["prefect.automation.", "bert-batch-pipeline.flow-run.", "prefect.flow-run.Pending"]


def events_since(client: SyncPrefectClient, since: datetime) -> list[dict]:
    response = client.request("POST", "/events/filter", json={
        "filter": {"occurred": {"since": since.isoformat()}, "event": {"prefix": WATCHED}, "order": "ASC"},
        "limit": 50}).json()  # the most the API gives a page
    events = response["events"]
    while response.get("next_page"):
        response = client._client.get(response["next_page"]).json()
        events += response["events"]
    return events


def run_named(client: SyncPrefectClient, name: str) -> FlowRun | None:
    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0] if runs else None


def wait_for(check: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)
    return found


def about(event: dict, run_id: str) -> bool:
    return run_id in json.dumps(event)


def heartbeats_of(events: list[dict], name: str, run_id: str) -> list[dict]:
    return [e for e in events if e["event"] == name and e["resource"]["prefect.resource.id"].endswith(run_id)]


def acted_on(events: list[dict], run_ids: set[str]) -> list[tuple]:
    """Every automation event about these runs: for runs that completed, each one is a misfire."""
    return [(e["event"], e["resource"], e["related"]) for e in events if e["event"].startswith("prefect.automation")
            and any(about(e, run_id) for run_id in run_ids)]


def crashed_by_automation(events: list[dict], run_id: str) -> bool:
    return any(e["event"] == "prefect.automation.action.executed" and run_id in json.dumps(e["related"])
               for e in events)


def start_sleepers(start: Callable[..., subprocess.Popen]) -> dict[str, subprocess.Popen]:
    """The served deployment and one run per entry of SLEEPERS, each its own process (tests/flows/crash_sleeper.py)."""
    procs = {"served": start("-m", "tests.flows.crash_sleeper", "serve")}
    for name, (seconds, heartbeat) in SLEEPERS.items():
        extra = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat)} if heartbeat else None
        procs[name] = start("-m", "tests.flows.crash_sleeper", str(seconds), name, extra=extra)
    return procs


def schedule_now(client, deployment_id) -> None:
    """A run due now, inserted as the scheduler does it (without an event for its Scheduled state)."""
    now = datetime.now(UTC)
    client.request("POST", f"/deployments/{deployment_id}/schedule", json={
        "start_time": (now - timedelta(seconds=61)).isoformat(), "end_time": now.isoformat(),
        "min_runs": 1, "max_runs": 1})


def stop_serving(client, served: subprocess.Popen, deployment_id) -> list:
    """Pause the deployment, let its last run end, Ctrl-C the runner; the deployment's runs that ended."""
    runs = lambda: [r for r in client.read_flow_runs() if r.deployment_id == deployment_id]  # noqa: E731
    wait_for(lambda: any(r.state and r.state.is_final() for r in runs()), 120, "a run of the served deployment")
    client.pause_deployment(deployment_id)
    wait_for(lambda: not any(r.state_type.value in ("RUNNING", "PENDING") for r in runs()), 60, "the served run")
    os.killpg(served.pid, signal.SIGINT)
    served.wait(timeout=60)
    return [r for r in runs() if r.state and r.state.is_final()]


def quiet_after(run: FlowRun, events: list[dict], periods: dict[str, int]) -> datetime:
    """When no window of this run's heartbeats can be open any more: two periods after its last heartbeat (or its
    end, for a run too short to send one), and the server's 5-s evaluation of proactive triggers with slack."""
    ends = [datetime.fromisoformat(e["occurred"]) + timedelta(seconds=2 * periods[e["event"]]) for e in events
            if e["event"] in periods and about_run(e, run)]
    return max([*ends, run.end_time]) + timedelta(seconds=10)


def check_crash_detection(api: str, since: datetime, normal: dict, heartbeat: int) -> str:
    """No automation acted on a completed run whose windows have closed, the runs in ``normal`` among them (waits
    for theirs); each killed run was CRASHED by ours."""
    periods = {heartbeat_event(p): p for p in (heartbeat, SLOW_HEARTBEAT)}
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        last = max(quiet_after(run, events_since(client, since), periods) for run in normal.values())
        time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()))
        events = events_since(client, since)
        runs = client.read_flow_runs(limit=200)
        slow_automation = client.read_automations_by_name(automation_name(SLOW_HEARTBEAT))
    now = datetime.now(UTC)
    due = {str(r.id) for r in runs if r.state_type.value == "COMPLETED" and quiet_after(r, events, periods) < now}
    killed = [r for r in runs if r.state_type.value == "CRASHED"]
    assert {str(r.id) for r in normal.values()} <= due, "every path that misfired once is checked"
    assert acted_on(events, due) == []
    assert all(crashed_by_automation(events, str(r.id)) for r in killed), "each killed run CRASHED by ours"
    assert len(heartbeats_of(events, heartbeat_event(heartbeat), str(normal["long"].id))) >= 3, "outlived its window"
    # Each served run took the path that misfired: its Pending event follows a Scheduled state without an event.
    ids = {e["id"] for e in events}
    for run in normal.values():
        if run.deployment_id:
            pending = next(e for e in events if e["event"] == "prefect.flow-run.Pending" and about_run(e, run))
            assert pending["follows"] and pending["follows"] not in ids
    assert slow_automation, "the 90-s run made its own automation"
    return f"crash detection: {len(due)} completed runs past their windows, none acted on; {len(killed)} CRASHED"


def about_run(event: dict, run) -> bool:
    return event["resource"]["prefect.resource.id"].endswith(str(run.id))
