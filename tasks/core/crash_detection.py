"""Killed runs end as CRASHED, not RUNNING forever: heartbeats of our own, one automation per heartbeat period.

A flow run whose process is SIGKILLed (or whose machine dies) cannot report its own end, and the server has no
built-in timeout. The automation Prefect documents, on its own ``prefect.flow-run.heartbeat`` events, misfires
on normal runs in two ways (Prefect 3.9.1):

* ``_send_heartbeats`` (prefect/flow_engine.py) checks the run's state, then stamps the heartbeat; the state
  reads final only once the server has accepted it. A run that ends within a second of starting stamps its
  first heartbeat after its final state (the events worker starts in between); a long one does so when its
  end races a heartbeat. That heartbeat opens a window its run's final state lies before.
* A run that starts within 5 minutes of being scheduled (a short cron, a new or re-served deployment): the
  scheduler inserts its Scheduled state without an event (``_insert_scheduled_flow_runs``,
  prefect/server/models/deployments.py), yet its Pending event ``follows`` that state, so the server holds
  Pending, Running and the final state back for 15 minutes (prefect/server/events/ordering).

So ``ensure_crash_detection()``, called first in a flow's body, starts heartbeats of its own for the run:
``bert-batch-pipeline.flow-run.heartbeat.<period>s`` every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, and,
once the run's state is final, one ``bert-batch-pipeline.flow-run.heartbeats-stopped`` from the same thread,
after its last heartbeat and following no other event. One automation per period, named with it, marks a run
CRASHED when neither a heartbeat, that stop, nor a final state followed its last heartbeat within
MISSED_HEARTBEATS periods. Each automation opens windows only on its own period's heartbeats: the window
follows the setting, and a client with slower heartbeats on the same server is never crashed early. (Not a
tag: events carry the tags a run was created with, and a worker's runs take theirs from their deployment, not
from the worker's setting.) Outside a run (a flow's ``main()``) it only creates the automation. It never raises.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from contextlib import suppress
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import AutomationSort
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.events.actions import ChangeFlowRunState
from prefect.events.filters import AutomationFilter, AutomationFilterName
from prefect.events.schemas.automations import Automation, AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.events.worker import EventsWorker
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings

from tasks.core.logs import logger

# Earlier versions' automation, on Prefect's heartbeats: it misfires, so ensure_crash_detection() deletes it.
LEGACY_AUTOMATION_NAME = "bert-batch-pipeline: crash runs whose heartbeats stopped"
HEARTBEAT_EVENT = "bert-batch-pipeline.flow-run.heartbeat"
STOPPED_EVENT = "bert-batch-pipeline.flow-run.heartbeats-stopped"
# Only this project's flows: other teams' flows on a shared server are not ours to crash.
FLOW_NAMES = ("score-jsonl", "train-text-classifier", "sweep-on-dask", "pretrain-masked-lm")
# One missed heartbeat can be a busy machine; two whole periods without one is a dead process.
MISSED_HEARTBEATS = 2
FINAL_EVENTS = ("Completed", "Failed", "Cancelled", "Crashed")
POLL_SECONDS = 0.25  # how soon a heartbeat thread notices its run's end (and lets the process exit)
EXIT_WAIT_SECONDS = 10.0  # longest a process's exit waits for a heartbeat thread to send its stop

_beating: set[UUID] = set()  # the flow runs this process sends heartbeats for
_beating_lock = threading.Lock()
_threads: list[threading.Thread] = []


_exit_wait_over = threading.Event()  # set at exit once the wait below ends: events can no longer be sent


def _let_heartbeats_stop() -> None:
    """At interpreter exit, once the main thread has stopped: wait for each heartbeat thread to send its stop."""
    for thread in list(_threads):
        thread.join(timeout=EXIT_WAIT_SECONDS)
    _exit_wait_over.set()


def _emit(name: str, resource: dict, related: list[dict]) -> None:
    # A thread still busy after the exit wait (a slow server) stays silent: Prefect would refuse and print a traceback.
    if not _exit_wait_over.is_set():
        emit_event(name, resource=resource, related=related)


def _before_the_events_worker_stops() -> None:
    """Hook ``_let_heartbeats_stop`` into threading's exit hooks, newer than Prefect's events worker's.

    Those hooks run newest first, before non-daemon threads are joined. Prefect's events worker registers its own
    when it starts, and once it has stopped, an event sent at exit would start a new one, which Python refuses
    then (a traceback, and the stop never sent). Called from the heartbeat thread once the worker is running."""
    EventsWorker.instance()
    threading._register_atexit(_let_heartbeats_stop)  # the stdlib's hook, as concurrent.futures uses it


def heartbeat_seconds() -> int | None:
    """The heartbeat period this process's flow runs use (Prefect enforces at least 30 s), None when off."""
    value = get_current_settings().flows.heartbeat_frequency
    return None if value is None else max(int(value), 30)


def automation_name(heartbeat: int) -> str:
    return f"{LEGACY_AUTOMATION_NAME} ({heartbeat} s)"


def heartbeat_event(heartbeat: int) -> str:
    return f"{HEARTBEAT_EVENT}.{heartbeat}s"


def crash_detection_automation(heartbeat: int) -> AutomationCore:
    beat = heartbeat_event(heartbeat)
    return AutomationCore(
        name=automation_name(heartbeat),
        description=f"Marks a run of {', '.join(FLOW_NAMES)} that sends a heartbeat every {heartbeat} s CRASHED "
                    f"after {MISSED_HEARTBEATS} periods without one: its process was killed or its machine died.",
        trigger=EventTrigger(
            after={beat},
            expect={beat, STOPPED_EVENT, *(f"prefect.flow-run.{state}" for state in FINAL_EVENTS)},
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
    """Create this period's automation on the server of PREFECT_API_URL if it is missing; called inside a flow
    run, also send the run's heartbeats until its state is final. The automation's id, None when off or failed.

    Idempotent and safe to race: overlapping runs that each create one all keep the oldest.
    """
    heartbeat = heartbeat_seconds()
    if heartbeat is None:
        logger().warning("PREFECT_FLOWS_HEARTBEAT_FREQUENCY is off: killed runs will stay RUNNING on the server")
        return None
    automation = None
    try:
        automation = _create_once(crash_detection_automation(heartbeat))
    except Exception as exc:  # a safety net must never stop the run it protects
        logger().warning("could not set up crash detection on the Prefect server: %r", exc)
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None and context.flow is not None:
        try:
            _start_heartbeats(context.flow_run, context.flow.name, heartbeat)
        except Exception as exc:
            logger().warning("could not start this run's heartbeats: a kill will leave it RUNNING: %r", exc)
    return automation


def _automations(client: SyncPrefectClient, name: str) -> list[Automation]:
    # Oldest first, not by id: the one every racing run keeps then existed before any of their heartbeats.
    response = client.request("POST", "/automations/filter", json={
        "sort": AutomationSort.CREATED_DESC,
        "automations": AutomationFilter(name=AutomationFilterName(any_=[name])).model_dump(mode="json"),
    })
    return Automation.model_validate_list(response.json())[::-1]


def _delete(client: SyncPrefectClient, automations: list[Automation]) -> None:
    for automation in automations:
        with suppress(ObjectNotFound, PrefectHTTPStatusError):  # another run deleted it first
            client.delete_automation(automation.id)


def _create_once(wanted: AutomationCore) -> UUID:
    with get_client(sync_client=True) as client:
        _delete(client, _automations(client, LEGACY_AUTOMATION_NAME))
        found = _automations(client, wanted.name)
        if not found:
            client.create_automation(wanted)
            found = _automations(client, wanted.name)
        _delete(client, found[1:])
    return found[0].id


def _start_heartbeats(run: FlowRun, flow_name: str, heartbeat: int) -> None:
    with _beating_lock:
        if run.id in _beating:  # a retry of the run calls this again
            return
        _beating.add(run.id)
    # Not a daemon: at the end of the process the run's last events still go out before Prefect's events worker
    # drains. The copied context gives the thread this thread's settings (PREFECT_API_URL), as Prefect does.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(_beat, run, flow_name, heartbeat),
                              name=f"heartbeats of flow run {run.name}")
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()


def _beat(run: FlowRun, flow_name: str, heartbeat: int) -> None:
    resource = {"prefect.resource.id": f"prefect.flow-run.{run.id}", "prefect.resource.name": run.name}
    related = [{"prefect.resource.id": f"prefect.flow.{run.flow_id}", "prefect.resource.role": "flow",
                "prefect.resource.name": flow_name}]
    try:
        _before_the_events_worker_stops()
        with get_client(sync_client=True) as client:
            while not (_ended_here(run) or _final_on_server(client, run)):
                _emit(heartbeat_event(heartbeat), resource, related)
                deadline = time.monotonic() + heartbeat
                while time.monotonic() < deadline and not _ended_here(run):
                    time.sleep(POLL_SECONDS)
            # A process that exits with its run unfinished has crashed: no stop, the automation says CRASHED.
            if _final(run) or _final_on_server(client, run):
                # Sent after the last heartbeat by the same thread: always inside that heartbeat's window.
                _emit(STOPPED_EVENT, resource, related)
    except Exception as exc:  # heartbeats that stop without a word would let the automation crash a live run
        logging.getLogger("pipeline").warning("heartbeats of flow run %s failed: %r", run.name, exc)
        _emit(STOPPED_EVENT, resource, related)
    finally:
        with _beating_lock:
            _beating.discard(run.id)


def _final(run: FlowRun) -> bool:
    return run.state is not None and run.state.is_final()


def _ended_here(run: FlowRun) -> bool:
    """The engine's copy of the run turned final, or the process is exiting: stop without asking the server."""
    return _final(run) or not threading.main_thread().is_alive()


def _final_on_server(client: SyncPrefectClient, run: FlowRun) -> bool:
    # Asked before each heartbeat too: after a retry the engine works on a new copy of the run, not ours.
    try:
        state = client.read_flow_run(run.id).state
    except ObjectNotFound:  # deleted: nothing left to crash
        return True
    except Exception:  # the server is out of reach for now: keep beating, as the run goes on
        return False
    return state is not None and state.is_final()
