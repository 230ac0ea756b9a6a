import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json, sha256_file
from tasks.core.records import LabelSet
from tasks.scoring.files import OutputPaths, exclusive
from tasks.scoring.score import score_file
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier

REPO = Path(__file__).resolve().parents[3]
LABELS = LabelSet(names=("neg", "pos"), kind="str")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LABELS, texts)


def write_input(path: Path, n: int = 40) -> Path:
    rows = [{"id": i, "news": r["news"], "source": "wire"} for i, r in enumerate(learnable_rows([0, 1], n, seed=9))]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines[3] = "{broken json"
    lines[7] = '{"id": 7, "news": "   "}'
    lines.insert(10, "")
    lines[12] = '{"id": 12, "title": "no text field"}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cfg(tmp_path: Path, **kw) -> ScoreConfig:
    return ScoreConfig(output_dir=tmp_path / "out", **kw)


def test_scores_every_good_row_in_order_and_rejects_bad_ones_with_line_numbers(tmp_path, model_dir):
    source = write_input(tmp_path / "part-1.jsonl")
    result = score_file.fn(source, model_dir, cfg(tmp_path, chunk_rows=8))
    assert result.status == "scored"
    paths = OutputPaths.of(source, tmp_path / "out")
    out = [json.loads(line) for line in paths.predictions.read_text(encoding="utf-8").splitlines()]
    good = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()
            if line.startswith('{"id"') and '"news": "   "' not in line and "title" not in line]
    assert [o["id"] for o in out] == [g["id"] for g in good]
    assert all(o["source"] == "wire" and o["news"] == g["news"] for o, g in zip(out, good, strict=True))
    assert all(o["pred_label"] in ("neg", "pos") and o["pred_prob"] == max(o["probs"].values()) for o in out)
    rejects = [json.loads(line) for line in paths.rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [
        (4, "not valid JSON"), (8, "text field 'news' is empty"), (13, "missing text field 'news'")]
    manifest = read_json(paths.manifest)
    assert manifest["rows_in"] == 41 == manifest["rows_scored"] + manifest["rows_rejected"] + manifest["blank_lines"]
    assert manifest["rows_scored"] == len(out) and manifest["output_sha256"] == sha256_file(paths.predictions)
    assert manifest["input_sha256"] == sha256_file(source)


def test_chunking_and_batching_change_nothing_but_float_rounding(tmp_path, model_dir):
    source = write_input(tmp_path / "part.jsonl", n=100)
    score_file.fn(source, model_dir, cfg(tmp_path / "a", chunk_rows=3, batch_size=4, precision="fp32"))
    score_file.fn(source, model_dir, cfg(tmp_path / "b", chunk_rows=1000, precision="fp32"))
    a, b = ([json.loads(x) for x in OutputPaths.of(source, tmp_path / d / "out").predictions.read_text().splitlines()]
            for d in ("a", "b"))
    assert [(r["id"], r["pred_label"]) for r in a] == [(r["id"], r["pred_label"]) for r in b]
    assert max(abs(x["pred_prob"] - y["pred_prob"]) for x, y in zip(a, b, strict=True)) < 1e-5


def test_a_scored_file_is_skipped_until_its_input_or_model_changes(tmp_path, model_dir):
    source = write_input(tmp_path / "part.jsonl")
    score_file.fn(source, model_dir, cfg(tmp_path))
    predictions = OutputPaths.of(source, tmp_path / "out").predictions
    mtime = predictions.stat().st_mtime_ns
    assert score_file.fn(source, model_dir, cfg(tmp_path)).status == "skipped"
    assert predictions.stat().st_mtime_ns == mtime
    source.write_text(source.read_text(encoding="utf-8") + '{"id": 99, "news": "好"}\n', encoding="utf-8")
    assert score_file.fn(source, model_dir, cfg(tmp_path)).rows_scored == 38
    other = save_tiny_classifier(tmp_path / "other", LABELS, ["好", "差"], seed=1)
    assert score_file.fn(source, other, cfg(tmp_path)).status == "scored"


def test_a_file_locked_by_another_run_is_left_alone(tmp_path, model_dir):
    source = write_input(tmp_path / "part.jsonl")
    paths = OutputPaths.of(source, tmp_path / "out")
    with exclusive(paths.lock):
        assert score_file.fn(source, model_dir, cfg(tmp_path)).status == "busy"
    assert not paths.predictions.exists()
    assert score_file.fn(source, model_dir, cfg(tmp_path)).status == "scored"


def test_optional_parquet_copy_holds_the_same_rows(tmp_path, model_dir):
    import pyarrow.parquet as pq

    source = write_input(tmp_path / "part.jsonl")
    score_file.fn(source, model_dir, cfg(tmp_path, write_parquet=True, chunk_rows=5))
    paths = OutputPaths.of(source, tmp_path / "out")
    table = pq.read_table(paths.parquet).to_pylist()
    assert [r["id"] for r in table] == [json.loads(x)["id"] for x in paths.predictions.read_text().splitlines()]


KILL_SCRIPT = """
import sys
from pathlib import Path
from tasks.core.config import ScoreConfig
from tasks.scoring.score import score_file
source, model, out = map(Path, sys.argv[1:4])
score_file.fn(source, model, ScoreConfig(output_dir=out, chunk_rows=64, batch_size=16))
"""


def test_sigkill_mid_file_then_rerun_gives_the_bytes_of_an_uninterrupted_run(tmp_path, model_dir):
    source = write_input(tmp_path / "big.jsonl", n=6000)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, source, model_dir, out], cwd=REPO)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 0 for p in out.glob(".big.pred.jsonl.*.tmp")):
        assert proc.poll() is None and time.monotonic() < deadline, "scoring ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    paths = OutputPaths.of(source, out)
    assert not paths.predictions.exists() and not paths.manifest.exists()  # nothing half-published

    rerun = score_file.fn(source, model_dir, ScoreConfig(output_dir=out, chunk_rows=64, batch_size=16))
    assert rerun.status == "scored"
    assert not list(out.glob(".*.tmp")), "the rerun cleans what the killed run left"
    clean = tmp_path / "clean"
    score_file.fn(source, model_dir, ScoreConfig(output_dir=clean, chunk_rows=64, batch_size=16))
    assert paths.predictions.read_bytes() == OutputPaths.of(source, clean).predictions.read_bytes()


@pytest.mark.parametrize(("content", "warning"), [("", "the file is empty"), ("\n  \n\n", "only blank lines")])
def test_an_empty_file_is_scored_to_empty_outputs_with_a_warning(tmp_path, model_dir, content, warning):
    source = tmp_path / "empty.jsonl"
    source.write_text(content, encoding="utf-8")
    result = score_file.fn(source, model_dir, cfg(tmp_path))
    assert result.status == "scored" and result.rows_scored == 0 and warning in result.warning
    assert not result.all_rejected
    assert read_json(result.manifest)["warning"] == result.warning
    assert score_file.fn(source, model_dir, cfg(tmp_path)).warning == result.warning  # skipped, still flagged


def test_a_file_whose_every_row_is_rejected_says_so(tmp_path, model_dir):
    source = write_jsonl(tmp_path / "wrong-field.jsonl", [{"text": r["news"]} for r in learnable_rows([0, 1], 6, 2)])
    result = score_file.fn(source, model_dir, cfg(tmp_path))
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (6, 0, 6) and result.all_rejected
    assert result.warning.startswith("every row was rejected (6)")
    manifest = read_json(result.manifest)
    assert manifest["rejected_by_reason"] == {"missing text field 'news'": 6}


def test_nan_and_infinity_in_other_fields_are_written_as_null_and_counted(tmp_path, model_dir):
    source = tmp_path / "nan.jsonl"
    source.write_text('{"id": 1, "news": "好棒", "x": NaN, "y": [Infinity, 2]}\n'
                      '{"id": 2, "news": "差烂", "x": 3, "y": [-Infinity]}\n'
                      '{"id": 3, "news": "NaN Infinity", "x": 4, "y": []}\n', encoding="utf-8")
    result = score_file.fn(source, model_dir, cfg(tmp_path, write_parquet=True))
    assert result.rows_scored == 3
    lines = result.predictions.read_text(encoding="utf-8").splitlines()
    strict = [json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in the output")) for line in lines]
    assert [(r["x"], r["y"]) for r in strict] == [(None, [None, 2]), (3, [None]), (4, [])]
    assert strict[2]["news"] == "NaN Infinity"  # text is never touched
    assert read_json(result.manifest)["non_finite_values_as_null"] == 3
    column = pq.read_table(OutputPaths.of(source, tmp_path / "out").parquet).column("x")
    assert column.type == pa.int64() and column.to_pylist() == [None, 3, 4]


def test_duplicate_keys_and_invisible_texts_are_rejected_with_their_reasons(tmp_path, model_dir):
    source = tmp_path / "odd.jsonl"
    source.write_text('{"news": "好", "news": "差"}\n{"news": "\u200b\u200b\ufeff"}\n{"news": "好\u200b"}\n',
                      encoding="utf-8")
    result = score_file.fn(source, model_dir, cfg(tmp_path))
    assert (result.rows_scored, result.rows_rejected) == (1, 2)
    reasons = [json.loads(line)["reason"] for line in OutputPaths.of(source, tmp_path / "out").rejects.read_text(
        encoding="utf-8").splitlines()]
    assert reasons[0] == "duplicate key 'news' in one JSON object"
    assert reasons[1].startswith("text field 'news' holds only invisible characters")


def test_the_manifest_counts_texts_cut_at_the_models_length_limit(tmp_path, model_dir):
    rows = [{"news": "好" * 200}, {"news": "差烂"}, {"news": "棒" * 63}, {"news": "棒" * 62}]  # limit: 64 tokens
    source = write_jsonl(tmp_path / "long.jsonl", rows)
    result = score_file.fn(source, model_dir, cfg(tmp_path))
    manifest = read_json(result.manifest)
    assert manifest["rows_scored"] == 4 and manifest["rows_truncated"] == 2
    assert manifest["options"]["max_seq_length"] == 64


def test_rows_no_later_step_could_handle_are_rejected_and_the_rest_scored(tmp_path, model_dir):
    from tests.tasks.data.test_jsonl import UNUSABLE

    lines = [b'{"news": "\xe5\xa5\xbd"}'] + [raw.replace(b'"text"', b'"news"') for raw, _ in UNUSABLE] + [
        b'{"news": "ok", "x": 1e400, "y": {}, "z": [{}]}', b'{"news": "\\ud83d\\ude00"}']
    source = tmp_path / "odd.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = score_file.fn(source, model_dir, cfg(tmp_path, write_parquet=True))
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (len(lines), 3, len(UNUSABLE))
    paths = OutputPaths.of(source, tmp_path / "out")
    rejects = [json.loads(line) for line in paths.rejects.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rejects] == list(range(2, 2 + len(UNUSABLE)))
    scored = [json.loads(line, parse_constant=pytest.fail) for line in paths.predictions.read_text().splitlines()]
    assert [(s.get("x"), s.get("y"), s.get("z")) for s in scored] == [(None, None, None), (None, {}, [{}]),
                                                                       (None, None, None)]
    assert pq.read_table(paths.parquet).num_rows == 3


def test_a_users_fields_named_like_ours_are_kept_under_input_names_and_counted(tmp_path, model_dir):
    rows = [{"news": "好", "pred_label": "old", "probs": [1], "input.probs": "older", "model_digest": "m"},
            {"news": "差", "pred_prob": 0.5}, {"news": "棒"}]
    result = score_file.fn(write_jsonl(tmp_path / "again.jsonl", rows), model_dir, cfg(tmp_path))
    out = [json.loads(line) for line in result.predictions.read_text(encoding="utf-8").splitlines()]
    assert (out[0]["input.pred_label"], out[0]["input.input.probs"], out[0]["input.probs"]) == ("old", [1], "older")
    assert out[0]["input.model_digest"] == "m" and out[1]["input.pred_prob"] == 0.5
    assert all(o["pred_label"] in ("neg", "pos") and len(o["model_digest"]) == 16 for o in out)
    assert "input.pred_label" not in out[2]
    assert read_json(result.manifest)["input_fields_renamed"] == {"pred_label": 1, "probs": 1, "model_digest": 1,
                                                                  "pred_prob": 1}


def test_a_file_growing_while_it_is_scored_is_hashed_as_far_as_it_was_read(tmp_path, model_dir, monkeypatch):
    import hashlib

    import tasks.scoring.publish as publish_module

    source = write_input(tmp_path / "growing.jsonl", n=30)
    original = publish_module.read_chunks

    def growing(path, rows):
        for number, chunk in enumerate(original(path, rows)):
            if number == 0:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write('{"news": "后来写入的一行"}\n' * 5)
            yield chunk

    monkeypatch.setattr(publish_module, "read_chunks", growing)
    manifest = read_json(score_file.fn(source, model_dir, cfg(tmp_path, chunk_rows=4)).manifest)
    read = b"".join(source.read_bytes().splitlines(keepends=True)[:manifest["rows_in"]])
    assert manifest["rows_in"] == 36 and manifest["input_sha256"] == hashlib.sha256(read).hexdigest()


def test_every_row_rejected_names_the_top_reasons_with_their_first_lines(tmp_path, model_dir):
    rows = [{"text": "好"}] * 4 + [{"news": 3}]
    result = score_file.fn(write_jsonl(tmp_path / "wrong.jsonl", rows), model_dir, cfg(tmp_path))
    assert result.warning == ("every row was rejected (5): lines 1, 2, 3 and 1 more: missing text field 'news'; "
                              "line 5: text field 'news' must be a string, got int")


def test_parsing_ahead_of_the_model_as_on_a_gpu_writes_the_same_bytes(tmp_path, model_dir, monkeypatch):
    """On CPU the next chunk is prepared in turn; off it, in a thread beside the forward pass: same outputs."""
    import tasks.scoring.score as score_module

    source = write_input(tmp_path / "part-1.jsonl", n=60)
    score_file.fn(source, model_dir, cfg(tmp_path / "plain", chunk_rows=7))
    calls = []
    staged = score_module.stage_outputs

    def ahead(*args, **kwargs):
        calls.append(kwargs["ahead"])
        return staged(*args, **(kwargs | {"ahead": True}))

    monkeypatch.setattr(score_module, "stage_outputs", ahead)
    score_file.fn(source, model_dir, cfg(tmp_path / "ahead", chunk_rows=7))
    assert calls == [False]  # a CPU model does not overlap (threads fighting for the cores cost more)
    for name in ("part-1.pred.jsonl", "part-1.rejects.jsonl"):
        assert (tmp_path / "ahead/out" / name).read_bytes() == (tmp_path / "plain/out" / name).read_bytes()
