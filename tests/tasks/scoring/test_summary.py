from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tasks.core.records import ScoredFile
from tasks.scoring.summary import table_rows, totals_of


def result(name: str, status: str, rows: int, seconds: float, rejected: int = 0) -> ScoredFile:
    return ScoredFile(input=Path(name), status=status, predictions=Path(f"{name}.pred"), manifest=Path(f"{name}.m"),
                      rows_in=rows + rejected, rows_scored=rows, rows_rejected=rejected, seconds=seconds)


def test_skipped_files_are_listed_not_counted_or_timed():
    # The run: two files skipped (scored before: 502 rows), one scored now (151 rows at ~97 texts/s).
    results = [result("a.jsonl", "skipped", 251, 0.3), result("b.jsonl", "skipped", 251, 0.3),
               result("c.jsonl", "scored", 151, 1.556)]
    totals = totals_of(results)
    assert (totals.rows_scored, totals.rows_in, totals.scored, totals.skipped) == (151, 151, 1, 2)
    assert totals.texts_per_second == 97.0
    sentence = totals.sentence("m")
    assert sentence.startswith("Scored 1 file in this run: 151 rows scored and 0 rejected of 151, in 1.6 s")
    assert "Not scored: 2 files already scored with this model and these options." in sentence
    rows = table_rows(results, None)
    assert rows[0]["status"].startswith("skipped: already scored") and rows[0]["scored"] == ""
    assert rows[2]["scored"] == 151


def test_a_run_that_scored_nothing_says_so():
    totals = totals_of([result("a.jsonl", "skipped", 10, 0.1)])
    assert totals.sentence("m").startswith("Scored no file in this run") and totals.texts_per_second == 0.0


statuses = st.sampled_from(["scored", "skipped", "busy", "refused"])


@given(st.lists(st.tuples(statuses, st.integers(0, 10_000), st.floats(0, 100)), max_size=20))
def test_totals_are_exactly_the_files_scored_in_this_run(files):
    results = [result(f"f{i}.jsonl", status, rows, seconds) for i, (status, rows, seconds) in enumerate(files)]
    totals = totals_of(results)
    scored = [r for r in results if r.status == "scored"]
    assert totals.rows_scored == sum(r.rows_scored for r in scored)
    assert totals.seconds == sum(r.seconds for r in scored)
    assert totals.scored + totals.skipped + totals.busy + totals.refused == totals.files == len(results)
    assert len(table_rows(results, None)) == len(results)
