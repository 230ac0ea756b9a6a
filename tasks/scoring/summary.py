"""The scoring run's summary: one log line and a table artifact in the Prefect UI, a chart in its description."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from tasks.core.errors import DataError
from tasks.core.logs import logger
from tasks.core.records import InputListing, ScoredFile
from tasks.scoring.chart import chart_markdown


@task(name="summarize scoring")
def summarize_scoring(results: list[ScoredFile], model_dir: str, listing: InputListing | None = None) -> dict:
    totals = {
        "files": len(results),
        "scored": sum(r.status == "scored" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "busy": sum(r.status == "busy" for r in results),
        "refused": sum(r.status == "refused" for r in results),
        "rows_in": sum(r.rows_in for r in results),
        "rows_scored": sum(r.rows_scored for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
        "without_predictions": sum(r.warning is not None for r in results),
        "paths_not_scored": len(listing.skipped) if listing else 0,
    }
    seconds = sum(r.seconds for r in results)
    totals["texts_per_second"] = round(totals["rows_scored"] / seconds, 1) if seconds else 0.0
    log = logger().warning if totals["without_predictions"] else logger().info
    log("scoring summary with %s: %s", model_dir, totals)
    warnings = "".join(f"\n- **{'refused' if r.status == 'refused' else 'no predictions'}** from `{r.input}`: "
                       f"{r.warning}" for r in results if r.warning)
    create_table_artifact(
        key="scoring-summary",
        table=[{"file": str(r.input), "status": r.status, "rows in": r.rows_in, "scored": r.rows_scored,
                "rejected": r.rows_rejected, "seconds": round(r.seconds, 2), "warning": r.warning or ""}
               for r in results]
        + [{"file": str(s.path), "status": f"not scored: {s.reason}"} for s in (listing.skipped if listing else ())],
        description=f"Scored with `{model_dir}`: {totals}{warnings}{chart_markdown(results)}",
    )
    return totals


def fail_on_files_without_predictions(results: list[ScoredFile]) -> None:
    """A file scored in this run whose every row was rejected fails the run, after all the other files are done.

    Its rejects file and manifest are written, so nothing is lost; the failure makes a wrong ``--text_field``
    or a broken export visible instead of a Completed run with empty outputs. Empty files only warn. A file
    refused because its outputs' paths hold files this scorer did not write fails the run the same way.
    """
    failed = [r for r in results if r.status == "scored" and r.all_rejected]
    refused = [r for r in results if r.status == "refused"]
    problems = []
    if failed:
        listed = "; ".join(f"{r.input}: {r.warning}" for r in failed)
        problems.append(f"{len(failed)} file(s) gave no predictions because every row was rejected ({listed}); "
                        "each one's .rejects.jsonl lists every row (a wrong --text_field?)")
    if refused:
        problems.append(f"{len(refused)} file(s) not scored, to keep files this scorer did not write: "
                        + "; ".join(r.warning for r in refused))
    if problems:
        raise DataError(". ".join(problems))
