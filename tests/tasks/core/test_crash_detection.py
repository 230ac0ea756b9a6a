"""The crash-detection automation against a real Prefect server: created once, deduplicated, only widened."""

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from tasks.core.crash_detection import AUTOMATION_NAME, FLOW_NAMES, crash_detection_automation, ensure_crash_detection


def ours() -> list:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(AUTOMATION_NAME)


def test_created_once_deduplicated_to_the_oldest_and_only_ever_widened(prefect_server):
    with get_client(sync_client=True) as client:  # flow tests earlier in the session made one already
        for automation in ours():
            client.delete_automation(automation.id)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        first = ensure_crash_detection()
        assert ensure_crash_detection() == first
        [automation] = ours()
        assert automation.id == first and automation.trigger.within == timedelta(seconds=60)
        assert automation.trigger.match_related.model_dump()["prefect.resource.name"] == list(FLOW_NAMES)
        assert automation.actions[0].state.value == "CRASHED"

        with get_client(sync_client=True) as client:  # what two runs racing on a fresh server leave behind
            client.create_automation(crash_detection_automation(30))
        assert len(ours()) == 2
        assert ensure_crash_detection() == first and [a.id for a in ours()] == [first]

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90}):
        ensure_crash_detection()
    assert [a.trigger.within for a in ours()] == [timedelta(seconds=180)]
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        ensure_crash_detection()  # a faster client must not shorten the wait for a slower one
    assert [a.trigger.within for a in ours()] == [timedelta(seconds=180)]


def test_no_heartbeats_means_no_automation(prefect_server):
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        assert ensure_crash_detection() is None
