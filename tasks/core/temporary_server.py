"""Prefect's temporary API server, started so that it never outlives the command that started it.

Without ``PREFECT_API_URL`` Prefect runs a temporary server in a child process and stops it at exit. A ``kill -9``
of the command skips that, and the server would live on, orphaned. So the command starts that server itself and
hands its pid to a tiny watcher process (``python -m tasks.core.temporary_server PARENT SERVER``) that stops the server
as soon as the parent is gone. The watcher has its own session, so a Ctrl-C of the command does not stop it early.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.5
GRACE_SECONDS = 5.0


def tie_temporary_server_to_this_process() -> int | None:
    """Start the temporary server now, watched; its pid, or None when a server is configured."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    server = SubprocessASGIServer()  # the instance Prefect's own client will find and reuse
    server.start()
    pid = server.server_process.pid
    subprocess.Popen([sys.executable, "-m", "tasks.core.temporary_server", str(os.getpid()), str(pid)],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers signal 0: look at its state.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # it ended by itself meanwhile
        pass


def watch(parent: int, server: int) -> None:
    """Stop ``server`` (SIGTERM, then SIGKILL) once ``parent`` is gone; return early if the server ends first."""
    while _alive(server):
        if not _alive(parent):
            _signal(server, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_SECONDS
            while _alive(server) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(server):
                _signal(server, signal.SIGKILL)
            return
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
