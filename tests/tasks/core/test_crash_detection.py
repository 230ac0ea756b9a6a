"""Crash detection's automations on a real Prefect server: one per heartbeat period, created once, the oldest kept.

What they do to runs (completed ones left alone on every path that once misfired, killed ones CRASHED) needs
minutes of real heartbeats: tests/flows/test_soak.py checks it beside its fifty scoring runs.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from tasks.core.crash_detection import (
    FLOW_NAMES,
    LEGACY_AUTOMATION_NAME,
    automation_name,
    crash_detection_automation,
    ensure_crash_detection,
    heartbeat_event,
)


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
