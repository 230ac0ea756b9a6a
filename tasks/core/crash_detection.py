"""Killed runs end as CRASHED, not RUNNING forever: Prefect's heartbeat automation, set up once per server.

A flow run whose process is SIGKILLed (or whose machine dies) cannot report its own end, and the server has no
built-in timeout: it would show the run RUNNING for ever. Every flow run sends a ``prefect.flow-run.heartbeat``
event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180 by default, 30 at least). This automation, the
detection Prefect documents for self-hosted servers, marks a run of this project's flows CRASHED when neither
a heartbeat nor a final state has followed its last heartbeat within ``MISSED_HEARTBEATS`` periods.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import AutomationSort
from prefect.events.actions import ChangeFlowRunState
from prefect.events.filters import AutomationFilter, AutomationFilterName
from prefect.events.schemas.automations import Automation, AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings

from tasks.core.logs import logger

AUTOMATION_NAME = "bert-batch-pipeline: crash runs whose heartbeats stopped"
# Only this project's flows: other teams' flows on a shared server are not ours to crash.
FLOW_NAMES = ("score-jsonl", "train-text-classifier", "sweep-on-dask")
# One missed heartbeat can be a busy machine; two whole periods without one is a dead process.
MISSED_HEARTBEATS = 2
FINAL_EVENTS = ("Completed", "Failed", "Cancelled", "Crashed")


def heartbeat_seconds() -> int | None:
    """The heartbeat period this process's flow runs use (Prefect enforces at least 30 s), None when off."""
    value = get_current_settings().flows.heartbeat_frequency
    return None if value is None else max(int(value), 30)


def crash_detection_automation(heartbeat: int) -> AutomationCore:
    return AutomationCore(
        name=AUTOMATION_NAME,
        description=f"Marks a run of {', '.join(FLOW_NAMES)} CRASHED after {MISSED_HEARTBEATS} heartbeat periods "
                    "of silence: its process was killed or its machine died.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{state}" for state in FINAL_EVENTS)},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification({"prefect.resource.role": "flow",
                                                 "prefect.resource.name": list(FLOW_NAMES)}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=MISSED_HEARTBEATS * heartbeat),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="No heartbeat: the run's process was killed or its machine died.")],
    )


def ensure_crash_detection() -> UUID | None:
    """Create the automation on the server of PREFECT_API_URL if it is missing; its id, or None when off.

    Idempotent and safe to race: overlapping runs that both create one all keep the oldest.
    An existing automation is only ever widened (a client with slower heartbeats must not be crashed early).
    """
    heartbeat = heartbeat_seconds()
    if heartbeat is None:
        logger().warning("PREFECT_FLOWS_HEARTBEAT_FREQUENCY is off: killed runs will stay RUNNING on the server")
        return None
    try:
        return _create_or_widen(crash_detection_automation(heartbeat))
    except Exception as exc:  # a safety net must never stop the scoring it protects
        logger().warning("could not set up crash detection on the Prefect server: %r", exc)
        return None


def _oldest_first(client) -> list[Automation]:
    # Oldest first, not by id: the one every racing run keeps then existed before any of their heartbeats.
    response = client.request("POST", "/automations/filter", json={
        "sort": AutomationSort.CREATED_DESC,
        "automations": AutomationFilter(name=AutomationFilterName(any_=[AUTOMATION_NAME])).model_dump(mode="json"),
    })
    return Automation.model_validate_list(response.json())[::-1]


def _create_or_widen(wanted: AutomationCore) -> UUID:
    with get_client(sync_client=True) as client:
        found = _oldest_first(client)
        if not found:
            client.create_automation(wanted)
            found = _oldest_first(client)
        keep, duplicates = found[0], found[1:]
        for duplicate in duplicates:
            with suppress(ObjectNotFound, PrefectHTTPStatusError):  # another run deleted it first
                client.delete_automation(duplicate.id)
        if keep.trigger.within < wanted.trigger.within:
            client.update_automation(keep.id, wanted)
    return keep.id
