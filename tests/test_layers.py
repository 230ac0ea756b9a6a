"""The layers of tasks/ (pyproject.toml's import-linter contracts) hold, and would catch a back-import or a cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
        "--no-cache"]


def lint(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the copy's packages, not the editable install's, are the ones analysed.
    return subprocess.run(LINT, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def copy_of_repo(tmp_path: Path) -> Path:
    for name in ("tasks", "flows"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_its_layers():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "message"), [
    # A lower stage importing a higher one: training would depend on evaluation.
    ("tasks/training/model.py", "from tasks.evaluation.promote import current_pointer",
     "tasks.training is not allowed to import tasks.evaluation"),
    # Two siblings of one layer: scoring and evaluation import neither each other.
    ("tasks/scoring/state.py", "from tasks.evaluation.promote import current_pointer",
     "tasks.scoring is not allowed to import tasks.evaluation"),
    # A cycle inside a stage, which no layer forbids by itself.
    ("tasks/core/errors.py", "from tasks.core.logs import logger", "No cycles are allowed in tasks.core"),
])
def test_a_back_import_or_a_cycle_breaks_the_contract(tmp_path, module, line, message):
    root = copy_of_repo(tmp_path)
    target = root / module
    target.write_text(target.read_text() + f"\n{line}  # noqa: E402, F401\n")
    result = lint(root)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout


def test_no_module_outside_core_is_a_hub():
    """A module imported by more than half of the others belongs in core: it is what every stage uses."""
    graph = grimp.build_graph("tasks", "flows")
    modules = [m for m in graph.modules if not graph.find_children(m)]
    hubs = {m: n for m in modules if not m.startswith("tasks.core.")
            and (n := len(graph.find_modules_that_directly_import(m))) > len(modules) / 2}
    assert not hubs, hubs
