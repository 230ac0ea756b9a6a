"""tasks/core/temporary_server.py: Prefect's temporary server dies with the command that started it, even on kill -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tasks.core.records import LabelSet
from tasks.core.temporary_server import _alive
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier

REPO = Path(__file__).resolve().parents[3]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def processes_matching(*words: str) -> list[int]:
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    return [pid for pid in pids if all(word in cmdline(pid) for word in words)]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_watcher_stops_the_server_once_the_parent_is_gone():
    parent = subprocess.Popen(["sleep", "60"])
    server = subprocess.Popen(["sleep", "60"])
    watcher = subprocess.Popen([sys.executable, "-m", "tasks.core.temporary_server", str(parent.pid), str(server.pid)],
                               cwd=REPO)
    time.sleep(1.5)
    assert server.poll() is None and watcher.poll() is None  # the parent lives: nothing happens
    parent.kill()
    parent.wait()
    assert server.wait(timeout=10) == -signal.SIGTERM
    assert watcher.wait(timeout=10) == 0


def test_the_watcher_leaves_when_the_server_ends_first():
    server = subprocess.Popen(["sleep", "60"])
    watcher = subprocess.Popen([sys.executable, "-m", "tasks.core.temporary_server", str(os.getpid()), str(server.pid)],
                               cwd=REPO)
    server.terminate()
    server.wait()
    assert watcher.wait(timeout=10) == 0


def test_kill_9_of_a_score_command_takes_its_temporary_server_with_it(tmp_path):
    model = save_tiny_classifier(tmp_path / "model", LabelSet(names=("0", "1"), kind="int"),
                                 [r["news"] for r in learnable_rows([0, 1], 100, seed=1)])
    source = write_jsonl(tmp_path / "in/part.jsonl", learnable_rows([0, 1], 20_000, seed=1))  # busy for a while
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "home")}
    command = subprocess.Popen([sys.executable, "flows/score_flow.py", "--inputs", str(source), "--model_dir",
                                str(model), "--output_dir", str(tmp_path / "out")],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        (server,) = wait_for(lambda: [p for p in processes_matching("uvicorn", "prefect.server.api.server")
                                      if parent_of(p) == command.pid], 240, "the temporary server")
        wait_for(lambda: processes_matching("tasks.core.temporary_server", str(command.pid), str(server)), 60,
                 "its watcher")
        os.kill(command.pid, signal.SIGKILL)
        assert command.wait() == -signal.SIGKILL  # killed mid-run, so no exit handler could stop the server
        wait_for(lambda: not _alive(server), 30, "the orphaned server to stop")
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
