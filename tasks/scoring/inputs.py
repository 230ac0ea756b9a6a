"""What ``--inputs`` means: the files to score, each with its place under the input root, and what is left out.

- a directory: its top-level ``*.jsonl`` files, not its subfolders;
- a glob (``'in/**/*.jsonl'``, recursive with ``**``): the ``*.jsonl`` files it matches;
- a file: that file, whatever its name (naming it is asking for it, hidden or not).

The same rules and the same "not scored: why" reasons hold in every mode. The ``.jsonl`` suffix matches in any
case (``.JSONL`` too), in a glob as well: a glob is expanded with its last part widened to every name (``*`` and
``.*``), and a name is a match when it fits that last part as given, or after folding the case of its ``.jsonl``
suffix and dropping a compression suffix. So ``'in/*.jsonl'`` matches ``in/X.JSONL``, and lists ``in/.a.jsonl``
(a hidden file) and ``in/a.jsonl.gz`` (compressed) with their reasons instead of passing over them silently.

Never scored, and listed with the reason: hidden files (a directory's or a glob's: names starting with ``.``;
``**`` never descends into hidden folders), compressed files (``.gz``, ``.bz2``, ``.xz``, ``.zst``, ``.zip``, or
such data under a ``.jsonl`` name: they are not read, decompress them first), outputs of this scorer
(``*.pred.jsonl``/``*.rejects.jsonl`` beside the ``.<stem>.lock`` a scoring run creates first, so ``--output_dir``
may be the input folder), folders and other non-regular files. A file named on its own that is compressed, an
output of this scorer or not a regular file is refused with a ``DataError`` saying which. A symlink counts under
its own name; a dangling one is reported.
"""

from __future__ import annotations

import fnmatch
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
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")
# The first bytes of each format: a file named *.jsonl may still hold compressed data.
MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
         (b"PK\x03\x04", "zip"))
# What a file named on its own is still refused for; a hidden or differently named one is scored as asked.
REFUSED_ALONE = ("compressed", "an output of this scorer", "not a regular file")


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


def compressed(path: Path, by_content: bool = True) -> str | None:
    """``compressed (.gz is not read; ...)`` for a compressed name, or (``by_content``) compressed first bytes."""
    suffix = next((s for s in COMPRESSED_SUFFIXES if path.name.lower().endswith(s)), None)
    if suffix:
        return f"compressed ({suffix} is not read; decompress it first)"
    if not by_content:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None  # unreadable: scoring it says why, with the file's name
    kind = next((kind for magic, kind in MAGIC if head.startswith(magic)), None)
    return f"compressed ({kind} data is not read; decompress it first)" if kind else None


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
    if reason := compressed(path, by_content=False):
        return reason
    if not path.name.lower().endswith(".jsonl"):
        return "not named *.jsonl"
    if is_scorer_output(path, output_dir):
        return "an output of this scorer"
    return compressed(path)


def _folded(name: str) -> str:
    """``A.JSONL.GZ`` -> ``A.jsonl.gz``: the ``.jsonl`` and compression suffixes in lower case."""
    lower = name.lower()
    end = next((s for s in COMPRESSED_SUFFIXES if lower.endswith(s)), "")
    if lower.removesuffix(end).endswith(".jsonl"):
        end = ".jsonl" + end
    return name[: len(name) - len(end)] + end.lower() if end else name


def name_matches(name: str, pattern: str) -> bool:
    """Whether a glob's last part takes ``name``: as written (``fnmatchcase``: a leading ``*`` takes a leading dot
    too), with both ``.jsonl`` suffixes in any case, or with the name's compression suffix dropped (so a compressed
    file that would have matched is listed as such)."""
    if fnmatch.fnmatchcase(name, pattern):
        return True
    name, pattern = _folded(name), _folded(pattern)
    unpacked = next((name.removesuffix(s) for s in COMPRESSED_SUFFIXES if name.endswith(s)), name)
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(unpacked, pattern)


def glob_matches(spec: str) -> list[Path]:
    """Every path ``spec`` matches, hidden names and other cases of ``.jsonl`` included (see the module's doc)."""
    head, last = os.path.split(spec)
    if last in ("", "**"):  # 'in/*/' names folders; 'in/**' already takes every name below 'in'
        patterns = [spec, os.path.join(spec, ".*")] if last else [spec]
    else:
        patterns = [os.path.join(head, "*"), os.path.join(head, ".*")]
    found = {p for pattern in patterns for p in glob.glob(pattern, recursive=True)}
    return sorted(Path(p) for p in found if last in ("", "**") or name_matches(os.path.basename(p), last))


def _matches(spec: str) -> tuple[list[Path], Path, bool]:
    """(matched paths, the root outputs mirror, whether ``spec`` named a directory)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return sorted(path.iterdir()), _absolute(path), True
    if glob.has_magic(spec):
        expanded = os.path.expanduser(spec)
        return glob_matches(expanded), _glob_root(expanded), False
    if path.is_symlink() and not path.exists():
        raise DataError(f"--inputs {spec}: a dangling symlink (to {os.readlink(path)})")
    raise DataError(f"--inputs {spec}: no such file or directory")


def single_file(spec: str, output_dir: Path) -> InputListing | None:
    """``spec`` named one file: that file, or a ``DataError`` when it cannot be scored as it is."""
    path = Path(spec).expanduser()
    if not path.exists() or path.is_dir():
        return None
    reason = skip_reason(path, output_dir, from_directory=False)
    if reason and reason.startswith(REFUSED_ALONE):
        raise DataError(f"--inputs {spec}: not scored, {reason}")
    return InputListing(files=(ScoringInput(path=_absolute(path), relative=Path(path.name)),))


def find_inputs(spec: str, output_dir: Path) -> InputListing:
    """Every match of ``spec`` once: a file to score, or a skipped path with its reason; sorted, so runs agree."""
    out = output_dir.expanduser().resolve()
    if listing := single_file(spec, out):
        return listing
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
