"""What ``--inputs`` means: the files to score, each with its place under the input root, and what is left out.

- a file: that file, whatever its name;
- a directory: its top-level ``*.jsonl`` files (any case: ``.JSONL`` too), not its subfolders;
- a glob (``'in/**/*.jsonl'``, recursive with ``**``): the ``*.jsonl`` files it matches.

Hidden files are left out (a directory's are listed as such; a glob never matches them). A symlink counts under its
own name; a dangling one is reported. Outputs of this scorer (``*.pred.jsonl``/``*.rejects.jsonl`` beside the
``.<stem>.lock`` a scoring run creates first) are never inputs, so ``--output_dir`` may be the input folder.
"""

from __future__ import annotations

import glob
import logging
import os
from collections import defaultdict
from pathlib import Path

from tasks.core.errors import DataError
from tasks.core.logs import logger
from tasks.core.records import InputListing, ScoringInput, SkippedPath
from tasks.scoring.files import OUTPUT_SUFFIXES, OutputPaths

SUBFOLDER = "a folder: only the top level of a directory is read; use a glob like 'DIR/**/*.jsonl' for subfolders"


def _absolute(path: Path) -> Path:
    """Absolute without following symlinks: a link keeps its own name (and so its own outputs)."""
    return Path(os.path.abspath(path))


def _glob_root(spec: str) -> Path:
    """The folder before the first wildcard: outputs mirror the matched files' paths below it."""
    parts = Path(spec).parts
    fixed = parts[: next(i for i, part in enumerate(parts) if glob.has_magic(part))]
    return _absolute(Path(*fixed)) if fixed else _absolute(Path.cwd())


def is_scorer_output(path: Path, output_dir: Path) -> bool:
    """A ``*.pred.jsonl``/``*.rejects.jsonl`` in ``output_dir`` (or below) with its scoring lock beside it."""
    suffix = next((s for s in OUTPUT_SUFFIXES if path.name.endswith(s)), None)
    if suffix is None or not path.parent.resolve().is_relative_to(output_dir):
        return False
    return (path.parent / f".{path.name.removesuffix(suffix)}.lock").exists()


def skip_reason(path: Path, output_dir: Path, from_directory: bool) -> str | None:
    """Why a match is not scored, or None when it is."""
    if path.is_symlink() and not path.exists():
        return f"a dangling symlink (to {os.readlink(path)})"
    if path.name.startswith("."):
        return "a hidden file"
    if path.is_dir():
        return SUBFOLDER if from_directory else "a folder"
    if not path.is_file():
        return "not a regular file"
    if not path.name.lower().endswith(".jsonl"):
        return "not named *.jsonl"
    if is_scorer_output(path, output_dir):
        return "an output of this scorer"
    return None


def _matches(spec: str) -> tuple[list[Path], Path, bool]:
    """(matched paths, the root outputs mirror, whether ``spec`` named a directory)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return sorted(path.iterdir()), _absolute(path), True
    if glob.has_magic(spec):
        expanded = os.path.expanduser(spec)
        return sorted(Path(p) for p in glob.glob(expanded, recursive=True)), _glob_root(expanded), False
    if path.is_symlink() and not path.exists():
        raise DataError(f"--inputs {spec}: a dangling symlink (to {os.readlink(path)})")
    raise DataError(f"--inputs {spec}: no such file or directory")


def find_inputs(spec: str, output_dir: Path) -> InputListing:
    """Every match of ``spec`` once: a file to score, or a skipped path with its reason; sorted, so runs agree."""
    out = output_dir.expanduser().resolve()
    path = Path(spec).expanduser()
    if path.is_file():
        return InputListing(files=(ScoringInput(path=_absolute(path), relative=Path(path.name)),))
    matches, root, from_directory = _matches(spec)
    files, skipped = [], []
    for match in matches:
        if reason := skip_reason(match, out, from_directory):
            skipped.append(SkippedPath(path=_absolute(match), reason=reason))
        else:
            files.append(ScoringInput(path=_absolute(match), relative=_absolute(match).relative_to(root)))
    return InputListing(files=tuple(files), skipped=tuple(skipped))


def check_outputs_are_distinct(listing: InputListing, output_dir: Path) -> None:
    """No two inputs may share an output, and no output may be an input: either would lose rows."""
    out = output_dir.expanduser().resolve()
    owners: dict[Path, list[Path]] = defaultdict(list)
    for item in listing.files:
        owners[OutputPaths.of(item.path, out, item.relative).predictions].append(item.path)
    shared = {str(p): [str(i) for i in inputs] for p, inputs in owners.items() if len(inputs) > 1}
    if shared:
        raise DataError(f"inputs that would write the same output: {shared}; rename one of each group")
    inputs = {item.path.resolve() for item in listing.files}
    clashes = sorted({str(p) for item in listing.files for p in OutputPaths.of(item.path, out, item.relative).files()
                      if p.resolve() in inputs})
    if clashes:
        raise DataError(f"--output_dir {out}: scoring would overwrite the input files {clashes}; "
                        "choose another --output_dir")


def inputs_to_score(spec: str, output_dir: Path) -> InputListing:
    listing = find_inputs(spec, output_dir)
    check_outputs_are_distinct(listing, output_dir)
    return listing


def log_listing(spec: str, listing: InputListing, shown: int = 5) -> None:
    """What will be scored, and every match left out grouped by reason (a dangling link is a warning)."""
    log = logger()
    log.info("--inputs %s: %d file(s) to score", spec, len(listing.files))
    if not listing.files:
        log.warning("--inputs %s: no *.jsonl file to score", spec)
    by_reason: dict[str, list[Path]] = defaultdict(list)
    for item in listing.skipped:
        by_reason[item.reason].append(item.path)
    for reason, paths in by_reason.items():
        level = logging.WARNING if reason.startswith("a dangling symlink") else logging.INFO
        more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
        log.log(level, "not scored, %s: %s%s", reason, ", ".join(map(str, paths[:shown])), more)


def list_inputs(spec: str, output_dir: Path) -> InputListing:
    listing = inputs_to_score(spec, output_dir)
    log_listing(spec, listing)
    return listing
