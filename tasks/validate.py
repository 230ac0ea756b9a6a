"""The validate task: schema, types, empty texts and unknown labels, with file and line for each."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from prefect import task

from tasks.files import sha256_file, write_json, write_jsonl
from tasks.jsonl import BadRow, BlankLine, DataError, Row, read_lines
from tasks.logs import logger
from tasks.records import DataSummary, LabelSet, RunDir, SplitData

SHOWN_ERRORS = 5


def label_set_of(labels: Counter, path: Path) -> LabelSet:
    """Class names from the training labels: ints sort numerically, strings alphabetically."""
    kinds = {type(value) for value in labels}
    if len(kinds) > 1:
        raise DataError(f"{path}: labels mix integers and strings ({sorted(map(str, labels))}); use one type")
    if len(labels) < 2:
        raise DataError(f"{path}: a classifier needs at least two labels, found {sorted(map(str, labels))}")
    return LabelSet(names=tuple(str(v) for v in sorted(labels)), kind="int" if int in kinds else "str")


def check_split(
    split: str, path: Path, text_field: str, label_field: str, labels: LabelSet | None
) -> tuple[list[Row], list[BadRow], int, int]:
    """Rows, bad rows, blank lines and lines read; labels outside ``labels`` become bad rows."""
    rows, bad, blank, lines = [], [], 0, 0
    for item in read_lines(path, text_field, label_field):
        lines += 1
        if isinstance(item, BlankLine):
            blank += 1
        elif isinstance(item, BadRow):
            bad.append(item)
        elif labels is not None and labels.id_of(item.label) is None:
            reason = f"unknown label {item.label!r}: not among the training labels {list(labels.names)}"
            bad.append(BadRow(item.line, reason, json.dumps(item.record, ensure_ascii=False)))
        else:
            rows.append(item)
    assert lines == len(rows) + len(bad) + blank  # the accounting the report promises
    return rows, bad, blank, lines


def _enforce(split: str, path: Path, rows: list[Row], bad: list[BadRow], max_fraction: float) -> None:
    log = logger()
    for item in bad[:SHOWN_ERRORS]:
        log.warning("%s:%d: %s", path, item.line, item.reason)
    if len(bad) > SHOWN_ERRORS:
        log.warning("%s: %d more rejected rows", path, len(bad) - SHOWN_ERRORS)
    if not rows:
        raise DataError(f"{path}: no valid rows in the {split} file ({len(bad)} rejected)")
    share = len(bad) / (len(rows) + len(bad))
    if share > max_fraction:
        first = "; ".join(f"line {b.line}: {b.reason}" for b in bad[:SHOWN_ERRORS])
        raise DataError(
            f"{path}: {len(bad)} of {len(rows) + len(bad)} rows rejected ({share:.1%}, above "
            f"--max_bad_row_fraction {max_fraction:.1%}). First: {first}. Fix these rows or raise the limit."
        )


@task(name="validate data")
def validate_splits(
    paths: dict[str, Path], text_field: str, label_field: str, max_bad_row_fraction: float, run: RunDir
) -> DataSummary:
    """Check train first (it defines the label set), then dev and test against it."""
    labels: LabelSet | None = None
    splits: dict[str, SplitData] = {}
    for split in ("train", "dev", "test"):
        path = paths[split]
        rows, bad, blank, lines = check_split(split, path, text_field, label_field, labels)
        rejects = None
        if bad:
            rejects = run.file(f"rejected/{split}.jsonl")
            write_jsonl(rejects, [{"file": str(path), "line": b.line, "reason": b.reason, "raw": b.raw} for b in bad])
        _enforce(split, path, rows, bad, max_bad_row_fraction)  # bad rows explain more than a short label set
        if labels is None:
            labels = label_set_of(Counter(row.label for row in rows), path)
        splits[split] = SplitData(
            split=split, path=path.resolve(), sha256=sha256_file(path), lines_read=lines,
            blank_lines=blank, valid_rows=len(rows), rejected_rows=len(bad), rejects_path=rejects,
        )
        counts = Counter(row.label for row in rows)
        logger().info(
            "%s: %d lines, %d valid, %d rejected, %d blank; labels %s",
            path, lines, len(rows), len(bad), blank, dict(sorted(counts.items(), key=lambda kv: str(kv[0]))),
        )
    summary = DataSummary(labels=labels, splits=splits)
    write_json(run.file("data.json"), summary.model_dump(mode="json"))
    return summary
