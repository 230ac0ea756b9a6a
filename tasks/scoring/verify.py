"""Checking a scored file against its manifest: what a downstream job should do before it trusts an output."""

from __future__ import annotations

import os
from pathlib import Path

from tasks.core.files import read_json, sha256_file
from tasks.scoring.files import OutputPaths


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def verify_scored(manifest_path: str | os.PathLike[str]) -> list[str]:
    """Every way the outputs disagree with the manifest at ``manifest_path`` (a ``str`` or a ``Path``).

    Returns a list of problems, one sentence each and naming its file; an empty list means the outputs can be
    trusted. Checks that publishing completed, every listed output's sha256, the input's sha256, the row counts
    against the files' line counts (rows in = scored + rejected + blank), and that a rejects file exists exactly
    when rows were rejected. It never raises for a bad or missing file: that is a problem in the list too.
    """
    manifest_path = Path(manifest_path)
    try:
        manifest = read_json(manifest_path)
    except (OSError, ValueError) as exc:
        return [f"{manifest_path}: unreadable manifest ({exc})"]
    problems: list[str] = []
    if manifest.get("state", "complete") != "complete":
        problems.append(f"{manifest_path}: a run stopped while publishing these outputs; score the file again")
    for path, digest in manifest.get("outputs", {}).items():
        if not Path(path).is_file():
            problems.append(f"{path}: listed in the manifest but missing")
        elif sha256_file(Path(path)) != digest:
            problems.append(f"{path}: sha256 differs from the manifest's")
    source, output = Path(manifest["input"]), Path(manifest["output"])
    if not source.is_file():
        problems.append(f"{source}: input is gone")
    elif sha256_file(source) != manifest["input_sha256"]:
        problems.append(f"{source}: input changed since it was scored")
    elif count_lines(source) != manifest["rows_in"]:
        problems.append(f"{source}: {count_lines(source)} lines, manifest says rows_in {manifest['rows_in']}")
    if manifest["rows_in"] != manifest["rows_scored"] + manifest["rows_rejected"] + manifest["blank_lines"]:
        problems.append(f"{manifest_path}: rows_in is not scored + rejected + blank")
    if not output.is_file():
        problems.append(f"{output}: predictions are missing")
    else:
        if "outputs" not in manifest and sha256_file(output) != manifest["output_sha256"]:
            problems.append(f"{output}: sha256 differs from the manifest's")
        if count_lines(output) != manifest["rows_scored"]:
            problems.append(f"{output}: {count_lines(output)} lines, manifest says {manifest['rows_scored']} scored")
    rejects = manifest.get("rejects")
    if manifest["rows_rejected"] and not (rejects and Path(rejects).is_file()):
        problems.append(f"{manifest_path}: {manifest['rows_rejected']} rows rejected but no rejects file")
    elif rejects and count_lines(Path(rejects)) != manifest["rows_rejected"]:
        problems.append(f"{rejects}: line count differs from rows_rejected {manifest['rows_rejected']}")
    elif not manifest["rows_rejected"] and OutputPaths.beside(output).rejects.exists():
        problems.append(f"{manifest_path}: no rows rejected, yet a rejects file exists beside the predictions")
    return problems
