"""The validate task: schema, types, empty texts and unknown labels, with file and line for each."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from prefect import task

from tasks.data_quality import SplitQuality, count_by_reason, dataset_quality
from tasks.files import sha256_file, write_json, write_jsonl
from tasks.jsonl import BadRow, BlankLine, DataError, Row, read_lines
from tasks.logs import logger
from tasks.records import DataSummary, LabelSet, RunDir, SplitData
from tasks.validation_report import log_summary

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
            reason = labels.unknown_reason(item.label)
            bad.append(BadRow(item.line, reason, json.dumps(item.record, ensure_ascii=False)))
        else:
            rows.append(item)
    assert lines == len(rows) + len(bad) + blank  # the accounting the report promises
    return rows, bad, blank, lines


def kept_rows(split: SplitData, text_field: str, label_field: str, labels: LabelSet) -> list[Row]:
    """The rows later steps use: valid ones, less those a policy left out (``--leakage drop``)."""
    rows, _, _, _ = check_split(split.split, split.path, text_field, label_field, labels)
    excluded = set(split.excluded_lines)
    return [row for row in rows if row.line not in excluded]


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
        raise DataError(
            f"{path}: {len(bad)} of {len(rows) + len(bad)} rows rejected ({share:.1%}, above "
            f"--max_bad_row_fraction {max_fraction:.1%}): {reasons_with_lines(bad)}. Fix these rows or raise the limit."
        )


def reasons_with_lines(bad: list[BadRow], shown: int = 3) -> str:
    """Each distinct reason once, with the first lines it occurs on: five alike rows are one problem, not five."""
    lines: dict[str, list[int]] = {}
    for item in bad:
        lines.setdefault(item.reason, []).append(item.line)
    parts = []
    for reason, numbers in list(lines.items())[:SHOWN_ERRORS]:
        more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
        parts.append(f"line{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers[:shown]))}{more}: {reason}")
    if len(lines) > SHOWN_ERRORS:
        parts.append(f"{len(lines) - SHOWN_ERRORS} other reasons")
    return "; ".join(parts)


def file_notes(path: Path) -> dict:
    """Byte-level facts that are not errors but a user should know: BOM, CRLF line ends."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    crlf, head = 0, b""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            head = head or block[:3]
            crlf += block.count(b"\r\n")
    return {"utf8_bom": head.startswith(b"\xef\xbb\xbf"), "crlf_lines": crlf}


def apply_leakage_policy(policy: str, quality: dict[str, SplitQuality], paths: dict[str, Path]) -> dict[str, tuple]:
    """Lines to leave out per split (``drop``), or a stop (``fail``); ``warn`` only reports."""
    leaked = {split: q.leaked_lines for split, q in quality.items() if q.leaked_lines}
    if not leaked or policy == "warn":
        return {}
    if policy == "fail":
        detail = "; ".join(f"{paths[s]}: {len(lines)} rows (first at line {lines[0]})" for s, lines in leaked.items())
        raise DataError(f"texts of the training file also occur in: {detail}. Remove them from train or from the "
                        "evaluation files, or pass --leakage drop (leave them out) or --leakage warn (report both).")
    return leaked


@task(name="validate data")
def validate_splits(
    paths: dict[str, Path], text_field: str, label_field: str, max_bad_row_fraction: float, run: RunDir,
    on_bad_rows: str = "quarantine", leakage: str = "warn",
) -> DataSummary:
    """Check train first (it defines the label set), then dev and test against it, then the data set."""
    labels: LabelSet | None = None
    rows_of, splits = {}, {}
    for split in ("train", "dev", "test"):
        path = paths[split]
        notes = file_notes(path)
        rows, bad, blank, lines = check_split(split, path, text_field, label_field, labels)
        rejects = None
        if bad:
            rejects = run.file(f"quarantine/{split}.jsonl")
            write_jsonl(rejects, [b.record(path) for b in bad])
        _enforce(split, path, rows, bad, 0.0 if on_bad_rows == "fail" else max_bad_row_fraction)
        if labels is None:  # after the bad rows: they explain more than a short label set would
            labels = label_set_of(Counter(row.label for row in rows), path)
        rows_of[split] = rows
        splits[split] = SplitData(
            split=split, path=path.resolve(), sha256=sha256_file(path), lines_read=lines,
            blank_lines=blank, valid_rows=len(rows), rejected_rows=len(bad), rejects_path=rejects,
            rejected_by_reason=count_by_reason([b.reason for b in bad]),
            label_counts={str(k): v for k, v in sorted(Counter(r.label for r in rows).items(), key=str)},
            **notes,
        )
    quality = dataset_quality(rows_of)
    dropped = apply_leakage_policy(leakage, quality, paths)
    splits = {s: d.model_copy(update={"excluded_lines": dropped.get(s, ())}) for s, d in splits.items()}
    summary = DataSummary(labels=labels, splits=splits, quality=quality, leakage_policy=leakage)
    log_summary(summary)
    write_json(run.file("validation.json"), summary.model_dump(mode="json"))
    return summary
