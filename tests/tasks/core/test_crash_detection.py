"""Crash detection against a real Prefect server: one automation per heartbeat period, created once; runs that end
normally are never acted on, however short they are or however they were started; a SIGKILLed run is CRASHED.

``python -m tests.tasks.core.test_crash_detection SECONDS NAME`` is one run of a flow named like the scoring flow
and wired like it (ensure_crash_detection() first in its body) that sleeps SECONDS; ``... serve`` serves it as a
deployment, as ``flows/score_flow.py --serve`` does (without loading torch twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from tasks.core.crash_detection import (
    FLOW_NAMES,
    LEGACY_AUTOMATION_NAME,
    automation_name,
    crash_detection_automation,
    ensure_crash_detection,
    heartbeat_event,
)
from tests.kill import kill_tree

REPO = Path(__file__).resolve().parents[3]
PERIOD = 30  # Prefect's shortest heartbeat: the automation waits two periods, 60 s
SERVED = "crash-detection-served"


@flow(name="score-jsonl")
def sleeper(seconds: float) -> None:
    ensure_crash_detection()
    time.sleep(seconds)


def ours(heartbeat: int) -> list:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(automation_name(heartbeat))


def remove_ours() -> None:
    with get_client(sync_client=True) as client:  # flow tests earlier in the session made some already
        for automation in client.read_automations():
            if automation.name.startswith(LEGACY_AUTOMATION_NAME):
                client.delete_automation(automation.id)


def test_one_automation_per_period_created_once_and_deduplicated_to_the_oldest(prefect_server):
    remove_ours()
    with get_client(sync_client=True) as client:  # what earlier versions left on a server: it misfires
        client.create_automation(crash_detection_automation(30).model_copy(update={"name": LEGACY_AUTOMATION_NAME}))
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        first = ensure_crash_detection()
        assert ensure_crash_detection() == first
        [automation] = ours(30)
        assert automation.id == first and automation.trigger.within == timedelta(seconds=60)
        assert automation.trigger.after == {heartbeat_event(30)} == {"bert-batch-pipeline.flow-run.heartbeat.30s"}
        assert automation.trigger.match_related.model_dump()["prefect.resource.name"] == list(FLOW_NAMES)
        assert automation.actions[0].state.value == "CRASHED"
        with get_client(sync_client=True) as client:
            assert client.read_automations_by_name(LEGACY_AUTOMATION_NAME) == []

            client.create_automation(crash_detection_automation(30))  # what two runs racing on a fresh server leave
        assert len(ours(30)) == 2
        assert ensure_crash_detection() == first and [a.id for a in ours(30)] == [first]

    # The window follows the setting, and a faster client leaves a slower one's automation alone.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90}):
        slow = ensure_crash_detection()
    assert [(a.id, a.trigger.within) for a in ours(90)] == [(slow, timedelta(seconds=180))]
    assert [(a.id, a.trigger.within) for a in ours(30)] == [(first, timedelta(seconds=60))]


def test_no_heartbeats_means_no_automation(prefect_server):
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        assert ensure_crash_detection() is None


def events_since(client, since: datetime) -> list[dict]:
    response = client.request("POST", "/events/filter", json={
        "filter": {"occurred": {"since": since.isoformat()}, "order": "ASC"}, "limit": 50}).json()
    events = response["events"]
    while response.get("next_page"):
        response = client._client.get(response["next_page"]).json()
        events += response["events"]
    return events


def run_named(client, name: str):
    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0] if runs else None


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)
    return found


def test_runs_that_end_normally_are_left_alone_and_a_killed_one_is_crashed(prefect_server, tmp_path):
    """One shared wait of two heartbeat periods past the last run's end covers every case at once:

    * a run longer than the window, which completes (its windows roll over while it runs);
    * a run that ends at once: Prefect's own first heartbeat is stamped after its final state;
    * a run of a served deployment started by its runner, scheduled as the scheduler does (its Scheduled state
      without an event, so the server holds its state events back);
    * a run with 90-s heartbeats, quiet for longer than the 30-s window: no 30-s automation may crash it;
    * a run SIGKILLed while it sleeps, which must end CRASHED.
    """
    started, clock = datetime.now(UTC), time.monotonic()
    env = os.environ | {"PREFECT_API_URL": prefect_server, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(PERIOD)}

    def start(log: str, *args: str, heartbeat: int = PERIOD) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=(tmp_path / f"{log}.log").open("w"),
                                stderr=subprocess.STDOUT,
                                env=env | {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat)},
                                start_new_session=True)

    def sleeping(seconds: float, name: str, heartbeat: int = PERIOD) -> subprocess.Popen:
        return start(name, "-m", "tests.tasks.core.test_crash_detection", str(seconds), name, heartbeat=heartbeat)

    served = start("served", "-m", "tests.tasks.core.test_crash_detection", "serve")
    runs = {"long": sleeping(65, "long"), "quick": sleeping(0, "quick"), "killed": sleeping(600, "killed"),
            "slow": sleeping(70, "slow", heartbeat=90)}
    try:
        with get_client(sync_client=True) as client:
            victim = wait_for(lambda: (r := run_named(client, "killed")) and r.state_type.value == "RUNNING" and r,
                              120, "the victim to run")
            time.sleep(3)  # its first heartbeat is out
            kill_tree(runs.pop("killed"))
            deployment = wait_for(lambda: next((d for d in client.read_deployments()
                                                if d.name == SERVED), None), 120, "the deployment")
            now = datetime.now(UTC)
            client.request("POST", f"/deployments/{deployment.id}/schedule", json={
                "start_time": (now - timedelta(seconds=61)).isoformat(), "end_time": now.isoformat(),
                "min_runs": 1, "max_runs": 1})
            for name, proc in runs.items():
                assert proc.wait(timeout=150) == 0, (tmp_path / f"{name}.log").read_text()[-2000:]
            [scheduled] = wait_for(lambda: [r for r in client.read_flow_runs() if r.deployment_id == deployment.id
                                            and r.state and r.state.is_final()], 120, "the scheduled run")
            finished = {name: run_named(client, name) for name in runs} | {"served": scheduled}
            ids = {str(run.id) for run in finished.values()}
            last = max(datetime.fromisoformat(e["occurred"]) for e in events_since(client, started)
                       if e["event"] == heartbeat_event(PERIOD) and e["resource"]["prefect.resource.id"][17:] in ids)
            # Two periods after the last heartbeat, plus the server's proactive evaluation (every 5 s) and slack.
            print(f"every run ended after {time.monotonic() - clock:.0f} s", flush=True)
            time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 2 * PERIOD + 10)
            wait_for(lambda: client.read_flow_run(victim.id).state_type.value == "CRASHED", 30, "the victim CRASHED")
            events = events_since(client, started)
            print(f"checked after {time.monotonic() - clock:.0f} s: {len(events)} events", flush=True)
    finally:
        os.killpg(served.pid, 2)
        served.wait(timeout=60)
        for proc in runs.values():
            if proc.poll() is None:
                kill_tree(proc)

    assert {name: run.state_type.value for name, run in finished.items()} == dict.fromkeys(finished, "COMPLETED")
    acted_on = [e for e in events if e["event"].startswith("prefect.automation")
                and any(str(run.id) in json.dumps(e) for run in finished.values())]
    assert acted_on == [], [(e["event"], e["resource"], e["related"]) for e in acted_on]
    assert any(e["event"] == "prefect.automation.action.executed" and str(victim.id) in json.dumps(e["related"])
               for e in events), "the victim was CRASHED by our automation"
    beats = [e for e in events if e["event"] == heartbeat_event(PERIOD)
             and e["resource"]["prefect.resource.id"].endswith(str(finished["long"].id))]
    assert len(beats) >= 3, "the long run outlived its window twice over"
    # The served run took the path that misfired: its Pending event follows a Scheduled state that has no event.
    pending = next(e for e in events if e["event"] == "prefect.flow-run.Pending"
                   and e["resource"]["prefect.resource.id"].endswith(str(scheduled.id)))
    assert pending["follows"] and pending["follows"] not in {e["id"] for e in events}
    assert ours(90), "the slow run made its own automation"


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        sleeper.serve(name=SERVED, cron="* * * * *", parameters={"seconds": 0})
    else:
        sleeper.with_options(flow_run_name=sys.argv[2])(float(sys.argv[1]))
