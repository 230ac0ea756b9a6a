"""The scoring run's summary: one log line and a table artifact in the Prefect UI, a chart in its description.

Counts and speed cover only what this run scored: a file skipped because it was scored before took no time
here, so adding its rows would report work that did not happen and a speed no file ran at.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from tasks.core.errors import DataError
from tasks.core.logs import logger
from tasks.core.records import InputListing, Record, ScoredFile
from tasks.scoring.chart import chart_markdown

NOT_THIS_RUN = {"skipped": "already scored with this model and these options",
                "busy": "another run is scoring it now", "refused": "refused"}


class ScoringTotals(Record):
    """What this run did; ``skipped``/``busy``/``refused`` files are listed, never counted as scored."""

    files: int
    scored: int
    skipped: int
    busy: int
    refused: int
    rows_in: int  # of the files scored in this run, like the three counts below
    rows_scored: int
    rows_rejected: int
    seconds: float
    without_predictions: int
    paths_not_scored: int  # listed inputs that are no JSONL file to score (compressed, our own outputs...)

    @property
    def texts_per_second(self) -> float:
        return round(self.rows_scored / self.seconds, 1) if self.seconds else 0.0

    def sentence(self, model_dir: str) -> str:
        done = (f"Scored {_n(self.scored, 'file')} in this run: {self.rows_scored:,} rows scored and "
                f"{self.rows_rejected:,} rejected of {self.rows_in:,}, in {self.seconds:.1f} s "
                f"({self.texts_per_second:,.1f} texts/s)" if self.scored else "Scored no file in this run")
        others = [f"{_n(count, 'file')} {NOT_THIS_RUN[status]}" for status, count in
                  (("skipped", self.skipped), ("busy", self.busy), ("refused", self.refused)) if count]
        if self.paths_not_scored:
            others.append(f"{_n(self.paths_not_scored, 'path')} not a JSONL file to score")
        return f"{done}, with `{model_dir}`." + (f" Not scored: {'; '.join(others)}." if others else "")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def totals_of(results: list[ScoredFile], listing: InputListing | None = None) -> ScoringTotals:
    scored = [r for r in results if r.status == "scored"]
    return ScoringTotals(
        files=len(results), scored=len(scored), skipped=sum(r.status == "skipped" for r in results),
        busy=sum(r.status == "busy" for r in results), refused=sum(r.status == "refused" for r in results),
        rows_in=sum(r.rows_in for r in scored), rows_scored=sum(r.rows_scored for r in scored),
        rows_rejected=sum(r.rows_rejected for r in scored), seconds=sum(r.seconds for r in scored),
        without_predictions=sum(r.warning is not None for r in results if r.status in ("scored", "refused")),
        paths_not_scored=len(listing.skipped) if listing else 0)


def table_rows(results: list[ScoredFile], listing: InputListing | None) -> list[dict]:
    """One row per file; counts and seconds only where this run scored the file."""
    rows = []
    for r in results:
        done = r.status == "scored"
        explained = r.status in ("skipped", "busy")  # a refused file's reason is in its warning column
        rows.append({"file": str(r.input), "status": f"{r.status}: {NOT_THIS_RUN[r.status]}" if explained else r.status,
                     "rows in": r.rows_in if done else "", "scored": r.rows_scored if done else "",
                     "rejected": r.rows_rejected if done else "", "seconds": round(r.seconds, 2) if done else "",
                     "warning": (r.warning or "") if done or r.status == "refused" else ""})
    return rows + [{"file": str(s.path), "status": f"not scored: {s.reason}"} for s in (listing.skipped if listing
                                                                                        else ())]


@task(name="summarize scoring")
def summarize_scoring(results: list[ScoredFile], model_dir: str, listing: InputListing | None = None) -> ScoringTotals:
    totals = totals_of(results, listing)
    sentence = totals.sentence(model_dir)
    (logger().warning if totals.without_predictions else logger().info)("%s", sentence)
    warnings = "".join(f"\n- **{'refused' if r.status == 'refused' else 'no predictions'}** from `{r.input}`: "
                       f"{r.warning}" for r in results if r.warning and r.status in ("scored", "refused"))
    create_table_artifact(key="scoring-summary", table=table_rows(results, listing),
                          description=f"{sentence}{warnings}{chart_markdown(results)}")
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
