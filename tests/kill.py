"""Kill-and-rerun tests: hold a training process right after a mid-epoch checkpoint, then SIGKILL it.

The hold is a ``sitecustomize`` on the child's PYTHONPATH (as tests/flows/test_ddp.py plants a failing
rank): the checkpoint itself is the real one, and the kill lands at a known step however fast the
machine is, instead of racing a tiny model that trains an epoch in a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tasks.core.files import read_json

HOLD = """
import os
if os.environ.get("HOLD_AFTER_STEP") and os.environ.get("RANK", "0") == "0":
    import time
    import tasks.training.book as book
    after = int(os.environ["HOLD_AFTER_STEP"])
    checkpoint = book.TrainBook.checkpoint
    def checkpoint_then_hold(self):
        checkpoint(self)
        if self.step > after:  # the checkpoint is on disk: wait here for the SIGKILL
            time.sleep(600)
    book.TrainBook.checkpoint = checkpoint_then_hold
"""


def hold_env(folder: Path, after_step: int, repo: Path) -> dict[str, str]:
    """The environment of a child that stops moving after its first checkpoint past ``after_step``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HOLD, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(folder), str(repo), os.environ.get("PYTHONPATH")]))
    return os.environ | {"PYTHONPATH": path, "HOLD_AFTER_STEP": str(after_step)}


def saved_step(root: Path) -> int:
    """The optimizer step of the newest resume checkpoint under ``root`` (0: none yet)."""
    for meta in root.glob("**/last/meta.json"):
        try:
            return read_json(meta)["position"]["step"]
        except FileNotFoundError:  # replaced by a newer one between the glob and the read
            return 0
    return 0


def wait_for_step(root: Path, after_step: int, alive, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while (step := saved_step(root)) <= after_step:
        assert alive() and time.monotonic() < deadline, f"no checkpoint after step {after_step} appeared"
        time.sleep(0.05)
    return step


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every process below it at once, as when the machine dies. torchrun starts each
    rank in a session of its own, so killing torchrun's process group would leave the ranks running."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [proc.pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
