"""Properties of scoring any file: no exception escapes, rows in = scored + rejected + blank, every rejected row has
its line and reason, outputs are strict JSON, no input field is lost, and a rerun writes the same bytes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tasks.core.config import ScoreConfig
from tasks.core.records import LabelSet
from tasks.data.record_out import finite_json
from tasks.scoring.chunk import OUR_FIELDS
from tasks.scoring.files import OutputPaths
from tasks.scoring.score import score_file
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier
from tests.strategies import file_bytes, lines
from tests.tasks.data.test_properties import FOUND, line_count


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 60, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LabelSet(names=("0", "1"), kind="int"),
                                texts)


def strict(line: str) -> dict:
    return json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in an output"))


def blank(raw: bytes, number: int) -> bool:
    """As the reader sees it: only whitespace, after a byte-order mark on line 1 (a rejected line is never blank)."""
    text = raw.removeprefix(b"\xef\xbb\xbf" if number == 1 else b"").decode("utf-8", "replace")
    return not text.strip()


def kept_under_some_name(out: dict, name: str, value: object) -> bool:
    """A field of theirs is in the output under its name or, if we write that name, as input.<name> (repeated)."""
    for key, kept in out.items():
        if key.endswith(name) and set(key[: len(key) - len(name)].split("input.")) <= {""}:
            if key == name and name in OUR_FIELDS:
                continue  # that one is ours
            if kept == value or (isinstance(value, float) and math.isnan(value) and kept is None):
                return True
    return False


# What is kept of a text over the tiny model's 64 tokens: no mode may lose, add or reorder a row.
LONG_TEXTS = [{}, {"truncation": "tail"}, {"truncation": "head_tail"}, {"long_texts": "window", "window_stride": 7}]
LONG_LINE = ('{"news": "' + "涨跌 rise, fall! " * 60 + '", "id": 1}').encode()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines, st.booleans(), st.booleans(), st.sampled_from(LONG_TEXTS))
@example(FOUND[0], True, True, {}).via("lone surrogate")
@example(FOUND[2], True, False, {}).via("990 levels")
@example([b'{"news": "ok", "v": 1e400, "w": {}, "z": [{}]}'], True, True, {}).via("no Parquet type for {}")
@example([LONG_LINE, b"", b'{"news": 3}', LONG_LINE], True, False, LONG_TEXTS[3]).via("windows")
@example([LONG_LINE, b'{"news": "short"}'], False, True, LONG_TEXTS[2]).via("head and tail")
def test_scoring_any_file(tmp_path_factory, model_dir, items, trailing, parquet, long_texts):
    work = tmp_path_factory.mktemp("prop")
    source = work / "in.jsonl"
    data = file_bytes(items, trailing)
    source.write_bytes(data)
    runs = [score_file.fn(source, model_dir, ScoreConfig(output_dir=work / out, write_parquet=parquet,
                                                          chunk_rows=4, artifacts_dir=work, **long_texts))
            for out in ("a", "b")]
    result = runs[0]
    assert result.status == "scored" and result.rows_in == line_count(data)
    paths = [OutputPaths.of(source, work / out) for out in ("a", "b")]
    assert paths[0].predictions.read_bytes() == paths[1].predictions.read_bytes()  # a rerun: the same bytes
    rejects = ([strict(x) for x in paths[0].rejects.read_text(encoding="utf-8").splitlines()]
               if result.rows_rejected else [])
    assert not paths[0].rejects.exists() or paths[0].rejects.read_bytes() == paths[1].rejects.read_bytes()
    assert len(rejects) == result.rows_rejected and all(r["reason"] and r["line"] >= 1 for r in rejects)
    # str.splitlines also breaks at NEL, LS and PS: outputs escape them, so a line is a line to every reader.
    scored = [strict(x) for x in paths[0].predictions.read_text(encoding="utf-8").splitlines()]
    assert len(scored) == result.rows_scored
    # Which lines were scored: those neither rejected nor blank, in order.
    rejected_lines = {r["line"] for r in rejects}
    source_lines = data.split(b"\n")[: result.rows_in]
    kept = [raw for n, raw in enumerate(source_lines, 1) if n not in rejected_lines and not blank(raw, n)]
    assert len(kept) == len(scored)
    assert result.rows_in == result.rows_scored + result.rows_rejected + sum(blank(r, n) for n, r in
                                                                         enumerate(source_lines, 1))
    for raw, out in zip(kept, scored, strict=True):
        original = json.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
        assert len(out) == len(original) + len(OUR_FIELDS) - ("line" in OUR_FIELDS)  # nothing dropped
        for name, value in original.items():
            assert kept_under_some_name(out, name, finite_json(value)[0]), (name, value, out)
