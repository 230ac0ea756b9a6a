"""What validation found, for people: log lines, a Prefect table artifact and a report section."""

from __future__ import annotations

from prefect.artifacts import create_table_artifact

from tasks.core.logs import in_prefect_run, logger
from tasks.core.records import DataSummary, TokenizedSplit
from tasks.ui.markdown import markdown_table


def _pairs(counts: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def rows_of(summary: DataSummary, tokenized: dict[str, TokenizedSplit] | None = None) -> list[dict]:
    table = []
    for split, data in summary.splits.items():
        q = summary.quality.get(split)
        tok = (tokenized or {}).get(split)
        table.append({
            "split": split, "lines": data.lines_read, "valid": data.valid_rows, "rejected": data.rejected_rows,
            "blank": data.blank_lines, "rejected by reason": _pairs(data.rejected_by_reason),
            "labels": _pairs(data.label_counts), "duplicates": q.duplicate_rows if q else "",
            "also in train": len(q.leaked_lines) if q and split != "train" else "",
            "conflicting texts": q.conflicting_texts if q else "",
            "left out (leakage)": len(data.excluded_lines), "chars p50/p90/p99/max": "/".join(
                str(v) for v in (q.length_chars.values() if q else [])),
            "truncated": f"{tok.truncated} ({tok.truncated / max(tok.rows, 1):.1%})" if tok else "",
            "token cache": ("hit" if tok.cache_hit else "miss") if tok else "",
            "BOM": "yes" if data.utf8_bom else "", "CRLF lines": data.crlf_lines or "",
        })
    return table


def log_summary(summary: DataSummary) -> None:
    log = logger()
    for row in rows_of(summary):
        log.info("%s: %s", row["split"], {k: v for k, v in row.items() if v not in ("", 0) and k != "split"})
    for split, q in summary.quality.items():
        path = summary.splits[split].path
        if q.duplicate_rows:
            line, first = q.duplicate_examples[0]
            log.warning("%s: %d duplicate rows (e.g. line %d repeats line %d)", path, q.duplicate_rows, line, first)
        if q.conflicting_texts:
            log.warning("%s: %d texts occur with different labels (e.g. lines %s)", path, q.conflicting_texts,
                        list(q.conflict_examples[0]))
        if q.leaked_lines:
            log.warning("%s: %d rows also occur in train (leakage, policy %s; first at line %d)", path,
                        len(q.leaked_lines), summary.leakage_policy, q.leaked_lines[0])
    if in_prefect_run():
        create_table_artifact(key="validation-summary", table=rows_of(summary),
                              description="Rows per split: valid, rejected by reason, duplicates, leakage, labels")


def validation_section(summary: DataSummary, tokenized: dict[str, TokenizedSplit]) -> str:
    table = rows_of(summary, tokenized)
    header = list(table[0])
    rendered = markdown_table(header, [[row[h] for h in header] for row in table])
    files = "\n".join(f"- {s}: `{d.path}` (sha256 `{d.sha256[:12]}`)" for s, d in summary.splits.items())
    return (f"## Data\n\nLabels (from train): {', '.join(summary.labels.names)}. Texts compared after NFKC "
            f"normalisation and trimming; leakage policy: {summary.leakage_policy}.\n\n{files}\n\n"
            f"{rendered}\n")
