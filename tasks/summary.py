"""The scoring run's summary: one log line and a table artifact in the Prefect UI, a chart in its description."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from tasks.logs import logger
from tasks.records import ScoredFile
from tasks.scoring_chart import chart_markdown


@task(name="summarize scoring")
def summarize_scoring(results: list[ScoredFile], model_dir: str) -> dict:
    totals = {
        "files": len(results),
        "scored": sum(r.status == "scored" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "busy": sum(r.status == "busy" for r in results),
        "rows_in": sum(r.rows_in for r in results),
        "rows_scored": sum(r.rows_scored for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
    }
    seconds = sum(r.seconds for r in results)
    totals["texts_per_second"] = round(totals["rows_scored"] / seconds, 1) if seconds else 0.0
    logger().info("scoring summary with %s: %s", model_dir, totals)
    create_table_artifact(
        key="scoring-summary",
        table=[{"file": r.input.name, "status": r.status, "rows in": r.rows_in, "scored": r.rows_scored,
                "rejected": r.rows_rejected, "seconds": round(r.seconds, 2)} for r in results],
        description=f"Scored with `{model_dir}`: {totals}{chart_markdown(results)}",
    )
    return totals
