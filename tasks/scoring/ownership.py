"""Which files in ``--output_dir`` this scorer may replace: only those it can prove it wrote.

Proof is the manifest: ours carries ``"scorer": "score-jsonl"``, names the one input path it belongs to, and lists
every output it published with its sha256 (``outputs``). While a run publishes, the manifest says
``"state": "writing"`` and lists the outputs of the run before it too (``previous_outputs``), so a run killed between
two renames still owns both generations. Any other file at an output's path is a user's: scoring refuses, naming it.
"""

from __future__ import annotations

from pathlib import Path

from tasks.core.errors import DataError
from tasks.core.files import read_json, sha256_file
from tasks.scoring.files import OutputPaths

SCORER = "score-jsonl"
MOVE_IT = "move it away or choose another --output_dir"


class NotOurs(DataError):
    """An output path holds a file this scorer cannot prove it wrote, or one that belongs to another input."""


def is_our_manifest(manifest: object) -> bool:
    """Ours, or one from before ownership was recorded (it names its input, output and their digests)."""
    if not isinstance(manifest, dict):
        return False
    legacy = {"input", "input_sha256", "output", "output_sha256", "model_digest"} <= manifest.keys()
    return manifest.get("scorer") == SCORER or legacy


def owned_outputs(manifest: dict) -> dict[str, set[str | None]]:
    """Output path -> the sha256s of the files ``manifest`` says this scorer published there (``None``: any).

    While publishing, a path has two: the old file's and the new one's. A manifest of an older version lists no
    digests but the predictions'; the rejects and Parquet files beside them under our names are taken as ours."""
    if "outputs" not in manifest:
        beside = OutputPaths.beside(Path(manifest["output"]))
        return {manifest["output"]: {manifest["output_sha256"]}, str(beside.rejects): {None},
                str(beside.parquet): {None}}
    owned: dict[str, set[str | None]] = {}
    for generation in (manifest.get("previous_outputs", {}), manifest["outputs"]):
        for path, digest in generation.items():
            owned.setdefault(path, set()).add(digest)
    return owned


def _read_manifest(path: Path, input_path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        manifest = read_json(path)
    except (OSError, ValueError):
        manifest = None
    if not is_our_manifest(manifest):
        raise NotOurs(f"{path}: exists but is not a manifest this scorer wrote; scoring {input_path} would "
                      f"replace it: {MOVE_IT}")
    if manifest["input"] != str(input_path):
        raise NotOurs(f"{path.parent}: holds the outputs of {manifest['input']}, and {input_path} has the same name "
                      f"there; scoring it would replace them. Score it into another --output_dir (or rename it)")
    return manifest


def check_ownership(paths: OutputPaths, input_path: Path) -> dict[str, str]:
    """The outputs of ``input_path`` on disk (path -> sha256), each proven ours; raises ``NotOurs`` for any other.

    Call it holding the file's lock: what it proves holds until the lock is released."""
    manifest = _read_manifest(paths.manifest, input_path)
    owned = owned_outputs(manifest) if manifest else {}
    proven: dict[str, str] = {}
    for target in (paths.predictions, paths.rejects, paths.parquet):
        if not target.exists():
            continue
        if str(target) not in owned:
            raise NotOurs(f"{target}: not written by this scorer (no manifest of ours records it); scoring "
                          f"{input_path} would replace it: {MOVE_IT}")
        digest = sha256_file(target) if target.is_file() else "not a file"
        if None not in owned[str(target)] and digest not in owned[str(target)]:
            raise NotOurs(f"{target}: changed since this scorer wrote it (its sha256 differs from the manifest's); "
                          f"scoring {input_path} would replace it: {MOVE_IT}")
        proven[str(target)] = digest
    return proven
