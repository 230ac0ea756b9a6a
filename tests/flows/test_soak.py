"""Soak: 50 scoring flow runs against a real Prefect server, overlapping on the same files, some SIGKILLed mid-write.

Afterwards every input has exactly one complete, verified output, no temporary file is left, and the server
shows every killed run CRASHED (tasks/core/crash_detection.py) and no run still RUNNING.

Beside them, for the whole soak, runs that took each path on which crash detection once misfired: one longer
than its window, one that ends at once, cron runs of a served deployment (their Scheduled state has no event, so
the server holds their state events back), and one with 90-s heartbeats. No completed run whose window has
passed was ever acted on by an automation; each killed one was CRASHED by ours.
"""

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.core.config import ScoreConfig
from tasks.core.records import LabelSet
from tasks.scoring.score import score_file
from tasks.scoring.verify import verify_scored
from tests.builders import learnable_rows, write_jsonl
from tests.flows.crash_checks import (
    SLEEPERS,
    check_crash_detection,
    run_named,
    schedule_now,
    start_sleepers,
    stop_serving,
    wait_for,
)
from tests.flows.crash_sleeper import SERVED
from tests.pipeline import save_tiny_classifier
from tests.servers import prefect_server

REPO = Path(__file__).resolve().parents[2]
RUNS = 50
VICTIMS = 3  # one flow run each, SIGKILLed while it writes a big file's predictions
PHASE_ONE = [6, 6, 6]  # flow runs per driver process, started beside the victims
PHASE_TWO = [10, 10, 9]  # after the kills: these runs must finish what the killed ones left
# Few files: each file is a task run, and the server's bookkeeping per task run, not scoring, bounds the time.
BIG_ROWS, SMALL_FILES, SAME_NAMED = 20_000, 5, 2
HEARTBEAT = 30  # Prefect's shortest; crash detection waits two periods
pytestmark = [pytest.mark.soak, pytest.mark.timeout(600)]
assert len(PHASE_ONE) and VICTIMS + sum(PHASE_ONE) + sum(PHASE_TWO) == RUNS


def make_inputs(folder: Path) -> dict[str, int]:
    """Big files first (sorted names), so each run starts on one; some small ones with a bad row and a blank.

    Some small files have namesakes one folder down (``sub/part-00.jsonl``): each must keep its own outputs.
    """
    rows = {}
    for i in range(VICTIMS):
        rows[f"a-big-{i}"] = len(write_jsonl(folder / f"a-big-{i}.jsonl", learnable_rows([0, 1], BIG_ROWS, seed=i))
                                 .read_bytes().splitlines())
    for i in range(SMALL_FILES):
        path = write_jsonl(folder / f"part-{i:02d}.jsonl", learnable_rows([0, 1], 30, seed=100 + i))
        if i % 2 == 0:
            with path.open("a", encoding="utf-8") as fh:
                fh.write('{"news": 7}\n\n{"label": 1}\n')  # two rejected rows and a blank line
        rows[f"part-{i:02d}"] = len(path.read_bytes().splitlines())
    for i in range(SAME_NAMED):
        path = write_jsonl(folder / f"sub/part-{i:02d}.jsonl", learnable_rows([0, 1], 20 + i, seed=200 + i))
        rows[f"sub/part-{i:02d}"] = len(path.read_bytes().splitlines())
    return rows


def open_temporary(pid: int, out: Path) -> Path | None:
    """The non-empty predictions temporary process ``pid`` has open in ``out``: it is scoring right now."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = Path(os.readlink(f"/proc/{pid}/fd/{fd}"))
            if out in target.parents and ".pred.jsonl." in target.name and target.name.endswith(".tmp"):
                if target.stat().st_size > 0:
                    return target
    except OSError:  # the process or the file went away between the listing and the look
        pass
    return None


def kill_while_scoring(victims: list[subprocess.Popen], out: Path, rng: random.Random, timeout: float,
                       when_all_scoring: Callable[[], object]) -> list:
    """SIGKILL each victim a random 0-0.5 s after it is first seen writing predictions; what each kill hit.

    ``when_all_scoring`` is called once every victim holds a big file, so the runs started then overlap the kills
    without taking the big files from the victims first.
    """
    due: dict[int, float] = {}
    hit: dict[int, Path | None] = {}
    called = False
    deadline = time.monotonic() + timeout
    while len(hit) < len(victims) and time.monotonic() < deadline:
        if not called and len(due.keys() | hit.keys()) == len(victims):
            when_all_scoring()
            called = True
        for proc in victims:
            if proc.pid in hit:
                continue
            if proc.poll() is not None:
                hit[proc.pid] = None  # finished on its own before a kill could land
            elif proc.pid not in due and open_temporary(proc.pid, out):
                due[proc.pid] = time.monotonic() + rng.uniform(0, 0.5)
            elif proc.pid in due and time.monotonic() >= due[proc.pid]:
                writing = open_temporary(proc.pid, out)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                hit[proc.pid] = writing if writing and writing.exists() else None
        time.sleep(0.05)
    if not called:
        when_all_scoring()
    for proc in victims:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            hit.setdefault(proc.pid, None)
    return [(proc.returncode, hit.get(proc.pid)) for proc in victims]


async def flow_run_states(api: str) -> dict[str, Counter]:
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            flows = {f.id: f.name for f in await client.read_flows()}
            runs, page = [], True
            while page:  # the API returns at most 200 runs a call
                page = await client.read_flow_runs(limit=200, offset=len(runs))
                runs += page
    states: dict[str, Counter] = {}
    for run in runs:
        states.setdefault(flows[run.flow_id], Counter())[run.state_type.value] += 1
    return states


def wait_until_none_running(api: str, timeout: float) -> dict[str, Counter]:
    deadline = time.monotonic() + timeout
    while True:
        states = asyncio.run(flow_run_states(api))
        unfinished = sum(n for c in states.values() for s, n in c.items() if s in ("RUNNING", "PENDING"))
        if not unfinished or time.monotonic() > deadline:
            return states
        time.sleep(5)


def test_fifty_overlapping_and_killed_runs_leave_exactly_one_verified_output_each(tmp_path):
    started, since = time.monotonic(), datetime.now(UTC)
    rng = random.Random(7)
    model = save_tiny_classifier(tmp_path / "model", LabelSet(names=("0", "1"), kind="int"),
                                 [r["news"] for r in learnable_rows([0, 1], 200, seed=1)])
    rows = make_inputs(tmp_path / "in")
    out = (tmp_path / "out").resolve()
    args = ["--inputs", str(tmp_path / "in/**/*.jsonl"), "--output_dir", str(out), "--model_dir", str(model),
            "--chunk_rows", "256"]
    with prefect_server(tmp_path / "prefect-home") as api:
        env = os.environ | {"PREFECT_API_URL": api, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT),
                            "PREFECT_LOGGING_LEVEL": "WARNING"}

        def start(*cmd: str, output=subprocess.PIPE, extra: dict | None = None) -> subprocess.Popen:
            return subprocess.Popen([sys.executable, *cmd], cwd=REPO, env=env | (extra or {}), stdout=output,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)

        def drivers(counts: list[int]) -> list[subprocess.Popen]:
            return [start("-m", "tests.flows.soak_driver", str(n), *args) for n in counts]

        def finish(procs: list[subprocess.Popen]) -> list[str]:
            logs = [proc.communicate(timeout=300)[0] for proc in procs]
            assert all(proc.returncode == 0 for proc in procs), "\n".join(logs)[-3000:]
            return logs

        # The real command line, as a user runs it: the victims reach the big files first and are killed there.
        print(f"server up after {time.monotonic() - started:.0f} s", flush=True)
        sleepers = start_sleepers(lambda *cmd, extra=None: start(*cmd, output=subprocess.DEVNULL, extra=extra))
        victims = [start("flows/score_flow.py", *args, output=subprocess.DEVNULL) for _ in range(VICTIMS)]
        phase_one: list[subprocess.Popen] = []
        kills = kill_while_scoring(victims, out, rng, 120, lambda: phase_one.extend(drivers(PHASE_ONE)))
        print(f"kills done after {time.monotonic() - started:.0f} s: {kills}", flush=True)
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            deployment = wait_for(lambda: next((d for d in client.read_deployments() if d.name == SERVED), None),
                                  120, "the served deployment")
            schedule_now(client, deployment.id)
        logs = finish(phase_one)
        print(f"phase one done after {time.monotonic() - started:.0f} s", flush=True)
        for name in SLEEPERS:  # done long before; their windows close while phase two runs
            assert sleepers[name].wait(timeout=60) == 0, f"the {name} sleeper failed"
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            served_runs = stop_serving(client, sleepers["served"], deployment.id)
            normal = {name: run_named(client, name) for name in SLEEPERS} | {
                f"served {i}": run for i, run in enumerate(served_runs)}
        logs += finish(drivers(PHASE_TWO))
        print(f"phase two done after {time.monotonic() - started:.0f} s", flush=True)
        runs_ok = sum(log.count(": ok") for log in logs)
        killed = sum(code == -signal.SIGKILL for code, _ in kills)
        mid_write = sum(code == -signal.SIGKILL and tmp is not None for code, tmp in kills)
        states = wait_until_none_running(api, timeout=4 * HEARTBEAT + 30)
        crash_summary = check_crash_detection(api, since, normal, HEARTBEAT)

    summary = (f"{RUNS} runs: {killed} killed ({mid_write} mid-write), {runs_ok} driver runs ok; "
               f"server states by flow: { {flow: dict(c) for flow, c in states.items()} }; "
               f"{time.monotonic() - started:.0f} s; {crash_summary}")
    print(summary)
    assert mid_write >= 2, f"too few kills landed while predictions were being written: {kills}; {summary}"
    assert runs_ok == RUNS - VICTIMS, summary
    assert states["score-jsonl"] == Counter(COMPLETED=RUNS - killed, CRASHED=killed), summary
    assert served_runs and all(run.state_type.value == "COMPLETED" for run in normal.values()), summary
    assert "score-files" not in states, "per-file task runs belong to the scoring run itself, no subflow"

    # Exactly one complete output per input; the manifest agrees with every byte; no temporaries left.
    assert sorted(p.name for p in out.rglob("*.tmp")) == [], summary
    expected = {f"{stem}.{kind}" for stem in rows for kind in ("pred.jsonl", "manifest.json")}
    expected |= {f"{stem}.rejects.jsonl" for stem in rows if stem.startswith("part-") and int(stem[-2:]) % 2 == 0}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    logs = {name for name in written if name.startswith("logs/score-") and name.endswith(".log")}
    assert written - logs == expected, summary
    assert len(logs) == RUNS, f"one log file per scoring run, killed ones too: {len(logs)}; {summary}"
    for stem, lines in rows.items():
        manifest = json.loads((out / f"{stem}.manifest.json").read_text(encoding="utf-8"))
        assert verify_scored(out / f"{stem}.manifest.json") == [], stem
        assert manifest["rows_in"] == lines, stem
    # Byte for byte what one uninterrupted run writes (the small files; the big ones are checked by their manifest).
    config = ScoreConfig(output_dir=tmp_path / "reference", chunk_rows=256)
    for i in range(SMALL_FILES):
        reference = score_file.fn(tmp_path / f"in/part-{i:02d}.jsonl", model, config)
        assert (out / reference.predictions.name).read_bytes() == reference.predictions.read_bytes()
    for i in range(SAME_NAMED):
        relative = Path(f"sub/part-{i:02d}.jsonl")
        reference = score_file.fn(tmp_path / "in" / relative, model, config, relative)
        assert (out / "sub" / reference.predictions.name).read_bytes() == reference.predictions.read_bytes()
