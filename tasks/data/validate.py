"""The validate task: schema, types, empty texts and unknown labels, with file and line for each.

It is the one step that parses the JSONL; the rows it keeps go to Parquet for every later step."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from prefect import task

from tasks.core.errors import DataError
from tasks.core.files import atomic_path, sha256_file, write_json
from tasks.core.logs import logger
from tasks.core.records import DataSummary, LabelSet, RunDir, SplitData, SplitQuality
from tasks.data.quality import SplitKeys, dataset_quality
from tasks.data.rejects import RejectSink
from tasks.data.row_store import RowWriter, read_columns
from tasks.data.scan import scan_parts
from tasks.data.validation_report import log_summary


def label_set_of(labels: Counter, path: Path) -> LabelSet:
    """Class names from the training labels: ints sort numerically, strings alphabetically."""
    kinds = {type(value) for value in labels}
    if len(kinds) > 1:
        raise DataError(f"{path}: labels mix integers and strings ({sorted(map(str, labels))}); use one type")
    if len(labels) < 2:
        raise DataError(f"{path}: a classifier needs at least two labels, found {sorted(map(str, labels))}")
    return LabelSet(names=tuple(str(v) for v in sorted(labels)), kind="int" if int in kinds else "str")


@dataclass
class Scan:
    """One pass over a file: the counts the report promises (lines = rows + rejected + blank), label counts."""

    lines: int = 0
    rows: int = 0
    blank: int = 0
    labels: Counter = field(default_factory=Counter)


def scan_split(path: Path, text_field: str, label_field: str, labels: LabelSet | None, rows_file: Path,
               bad: RejectSink, workers: int | None = None) -> Scan:
    """Read ``path`` once: valid rows go to ``rows_file`` (Parquet), bad ones to ``bad``, labels outside
    ``labels`` become bad rows. A few ranges of lines are held at a time, so a file of any length reads in flat
    memory; large files are parsed by ``workers`` processes (tasks/data/scan.py), with the same outputs."""
    scan = Scan()
    with atomic_path(rows_file) as tmp:
        writer = RowWriter(tmp, text_field, label_field)
        try:
            for part in scan_parts(path, text_field, label_field, labels, workers):
                scan.lines += part.count
                scan.blank += part.blank
                for item in part.bad:
                    bad.add(item)
                writer.add_batch(part.rows)
                scan.labels.update(part.labels)
        finally:
            scan.rows = writer.close()
    assert scan.lines == scan.rows + bad.count + scan.blank  # the accounting the report promises
    return scan


def _enforce(split: str, path: Path, rows: int, bad: RejectSink, max_fraction: float) -> None:
    log = logger()
    for item in bad.first:
        log.warning("%s:%d: %s", path, item.line, item.reason)
    if bad.count > len(bad.first):
        log.warning("%s: %d more rejected rows", path, bad.count - len(bad.first))
    if not rows:
        raise DataError(f"{path}: no valid rows in the {split} file ({bad.count} rejected)")
    share = bad.count / (rows + bad.count)
    if share > max_fraction:
        raise DataError(
            f"{path}: {bad.count} of {rows + bad.count} rows rejected ({share:.1%}, above "
            f"--max_bad_row_fraction {max_fraction:.1%}): {bad.reasons_with_lines()}. Fix these rows or raise the "
            "limit."
        )


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
            crlf += block.count(b"\r\n") if b"\r" in block else 0  # the search is ~8x faster than the count
    return {"utf8_bom": head.startswith(b"\xef\xbb\xbf"), "crlf_lines": crlf}


def apply_leakage_policy(policy: str, quality: dict[str, SplitQuality], paths: dict[str, Path],
                         valid_rows: dict[str, int]) -> dict[str, tuple]:
    """Lines to leave out per split (``drop``), or a stop (``fail``); ``warn`` only reports.

    A dev/test file whose every row is in train (often the training file given twice) is named before any
    training: under ``drop`` nothing would be left to evaluate, so it stops; under ``warn`` it is a loud warning."""
    leaked = {split: q.leaked_lines for split, q in quality.items() if q.leaked_lines}
    every = [split for split, lines in leaked.items() if len(lines) >= valid_rows[split]]
    if every and policy == "drop":
        raise DataError(f"every row of {', '.join(str(paths[s]) for s in every)} also occurs in the training file: "
                        f"--leakage drop would leave no {every[0]} row to evaluate. Give {'/'.join(every)} files "
                        "with texts not in train.")
    for split in every if policy == "warn" else ():
        logger().warning("every row of %s also occurs in the training file (is it the training file?): its metrics "
                         "measure memory, not generalisation, and the leakage-free metrics will be n/a", paths[split])
    if not leaked or policy == "warn":
        return {}
    if policy == "fail":
        detail = "; ".join(f"{paths[s]}: {len(lines)} rows (first at line {lines[0]})" for s, lines in leaked.items())
        raise DataError(f"texts of the training file also occur in: {detail}. Remove them from train or from the "
                        "evaluation files, or pass --leakage drop (leave them out) or --leakage warn (report both).")
    return leaked


def split_keys(rows_file: Path) -> SplitKeys:
    """The columns the data-set checks need, read back from the rows file (no text)."""
    table = read_columns(rows_file, ["key", "line", "label", "chars"])
    codes = pc.dictionary_encode(table.column("label")).combine_chunks().indices
    return SplitKeys(keys=table.column("key").to_numpy(), lines=table.column("line").to_numpy(),
                     labels=codes.to_numpy(zero_copy_only=False), chars=table.column("chars").to_numpy())


def validate_file(split: str, path: Path, text_field: str, label_field: str, labels: LabelSet | None,
                  rows_file: Path, rejects_file: Path, max_bad_row_fraction: float = 0.0) -> tuple[SplitData, Counter]:
    """One file checked and stored: its record (rows in ``rows_file``, bad ones in ``rejects_file``) and label counts.

    Stops with a ``DataError`` when the file has no valid row or too many bad ones."""
    notes = file_notes(path)
    with RejectSink(path, rejects_file) as bad:
        scan = scan_split(path, text_field, label_field, labels, rows_file, bad)
    _enforce(split, path, scan.rows, bad, max_bad_row_fraction)
    data = SplitData(
        split=split, path=path.resolve(), sha256=sha256_file(path), lines_read=scan.lines, blank_lines=scan.blank,
        valid_rows=scan.rows, rejected_rows=bad.count, rows_file=rows_file,
        rejects_path=bad.target if bad.count else None, rejected_by_reason=bad.by_reason(),
        label_counts={str(k): v for k, v in sorted(scan.labels.items(), key=lambda kv: str(kv[0]))}, **notes,
    )
    return data, scan.labels


@task(name="validate data")
def validate_splits(
    paths: dict[str, Path], text_field: str, label_field: str, max_bad_row_fraction: float, run: RunDir,
    on_bad_rows: str = "quarantine", leakage: str = "warn",
) -> DataSummary:
    """Check train first (it defines the label set), then dev and test against it, then the data set.

    Each file is parsed here and only here: its valid rows go to ``<run>/rows/<split>.parquet``, which every
    later step reads (tasks/data/row_store.py).
    """
    labels: LabelSet | None = None
    splits = {}
    for split in ("train", "dev", "test"):
        splits[split], seen = validate_file(
            split, paths[split], text_field, label_field, labels, run.file(f"rows/{split}.parquet"),
            run.file(f"quarantine/{split}.jsonl"), 0.0 if on_bad_rows == "fail" else max_bad_row_fraction)
        # After the bad rows: they explain more than a short label set would.
        labels = labels or label_set_of(seen, paths[split])
    quality = dataset_quality({split: split_keys(data.rows_file) for split, data in splits.items()})
    dropped = apply_leakage_policy(leakage, quality, paths, {s: d.valid_rows for s, d in splits.items()})
    splits = {s: d.model_copy(update={"excluded_lines": dropped.get(s, ())}) for s, d in splits.items()}
    summary = DataSummary(labels=labels, splits=splits, quality=quality, leakage_policy=leakage)
    log_summary(summary)
    write_json(run.file("validation.json"), summary.model_dump(mode="json"))
    return summary
