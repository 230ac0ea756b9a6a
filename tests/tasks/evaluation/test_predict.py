"""tasks/evaluation/predict.py: test predictions can be joined back to the test file, and keep every field."""

import json
from pathlib import Path

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.core.records import LabelSet, TokenizerRecord
from tasks.evaluation.predict import predict_split
from tasks.scoring.score import score_file
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import fingerprint, load_tokenizer
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier, validated

LABELS = LabelSet(names=("0", "1"), kind="int")


def predict_file(tmp_path: Path, model: Path, source: Path, precision: str = "fp32"):
    split = validated(source, "test", LABELS)
    tokenizer = load_tokenizer(str(model))
    tok = TokenizerRecord(path=str(model), fingerprint=fingerprint(tokenizer), trained_here=False)
    tokenized = tokenize_split.fn(split, tok, "news", "label", LABELS, 64, tmp_path / "cache")
    out = tmp_path / "predictions" / "test.jsonl"
    return split, predict_split.fn(model, tokenized, split, "news", "label", LABELS, 8, "cpu", precision, out,
                                   tmp_path / "artifacts")


def test_predictions_carry_the_source_line_and_the_users_fields_past_a_quarantined_row(tmp_path):
    rows = learnable_rows([0, 1], 12, seed=4)
    model = save_tiny_classifier(tmp_path / "model", LABELS, [r["news"] for r in rows])
    lines = [json.dumps({"id": i, **r, "meta": {"src": "wire", "score": 1e400 if i == 5 else i}})
             for i, r in enumerate(rows)]
    lines[2] = '{"news": "broken'  # quarantined: every later row is one line off its index
    lines[4] = json.dumps({**rows[4], "pred_label": "theirs", "line": "their own", "probs": [9]})
    source = tmp_path / "test.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    split, predictions = predict_file(tmp_path, model, source)
    assert split.valid_rows == 11
    out = predictions.path

    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    source_lines = source.read_text(encoding="utf-8").splitlines()
    assert [w["line"] for w in written] == [n for n in range(1, 13) if n != 3]
    for w in written:  # row k is found again by its line, with every field it had
        original = json.loads(source_lines[w["line"] - 1])
        kept = {k.removeprefix("input."): v for k, v in w.items() if k.startswith("input.")}
        theirs = {k: v for k, v in w.items() if k not in ("line", "pred_label", "pred_prob", "probs")
                  and not k.startswith("input.")} | kept
        assert theirs == original | ({"meta": {"src": "wire", "score": None}} if original.get("id") == 5 else {})
    clashed = written[3]
    assert (clashed["input.pred_label"], clashed["input.line"], clashed["input.probs"]) == ("theirs", "their own", [9])
    assert clashed["line"] == 5 and clashed["pred_label"] in (0, 1) and set(clashed["probs"]) == {"0", "1"}


def test_the_train_flow_and_the_scoring_flow_predict_in_the_same_precision(tmp_path, monkeypatch):
    """On a CPU with native bf16 where the probe measured bf16 faster, both use bf16; before, 'auto' gave fp32 in
    the train flow and bf16 in scoring, and a label could flip between them."""
    import tasks.training.precision as precision

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(precision, "probe", lambda model_dir: {"fp32": 0.02, "bf16": 0.01})
    rows = learnable_rows([0, 1], 12, seed=4)
    model = save_tiny_classifier(tmp_path / "model", LABELS, [r["news"] for r in rows])
    source = tmp_path / "test.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    _, predictions = predict_file(tmp_path, model, source, precision="auto")
    scored = score_file.fn(source, model, ScoreConfig(output_dir=tmp_path / "scored", artifacts_dir=tmp_path /
                                                      "artifacts", batch_size=8))
    assert predictions.precision == "bf16"
    assert read_json(scored.manifest)["options"]["dtype"] == "bfloat16"
    ours = [json.loads(line) for line in predictions.path.read_text(encoding="utf-8").splitlines()]
    theirs = [json.loads(line) for line in scored.predictions.read_text(encoding="utf-8").splitlines()]
    assert [o["pred_label"] for o in ours] == [t["pred_label"] for t in theirs]


def test_test_predictions_in_windows_agree_with_scoring_in_windows(tmp_path):
    """--long_texts window in both flows: the test split's windows are tokenized once, beside its rows, and the
    test predictions of a long text are the mean of its windows', as scoring writes them."""
    short = [r["news"] for r in learnable_rows([0, 1], 12, seed=4)]
    texts = [*short[:5], " ".join(short) * 3, *short[5:], "".join(short) * 2]
    model = save_tiny_classifier(tmp_path / "model", LABELS, short)
    source = tmp_path / "test.jsonl"
    source.write_text("".join(json.dumps({"news": t, "label": i % 2}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    split = validated(source, "test", LABELS)
    tok = TokenizerRecord(path=str(model), fingerprint=fingerprint(load_tokenizer(str(model))), trained_here=False)
    cut = tokenize_split.fn(split, tok, "news", "label", LABELS, 64, tmp_path / "cache")
    windowed = tokenize_split.fn(split, tok, "news", "label", LABELS, 64, tmp_path / "cache", windows=True,
                                 window_stride=16)
    assert cut.windows is None and windowed.windows.is_file() and windowed.cache_key != cut.cache_key
    assert windowed.truncated == cut.truncated == 2 and windowed.window_count > 4
    predictions = predict_split.fn(model, windowed, split, "news", "label", LABELS, 8, "cpu", "fp32",
                                   tmp_path / "predictions" / "test.jsonl", tmp_path / "artifacts")
    assert (predictions.long_texts, predictions.windowed_rows, predictions.windows) == \
        ("window", 2, windowed.window_count)
    scored = score_file.fn(source, model, ScoreConfig(output_dir=tmp_path / "scored", long_texts="window",
                                                      window_stride=16, batch_size=8))
    test_rows = [json.loads(line) for line in predictions.path.read_text(encoding="utf-8").splitlines()]
    scored_rows = [json.loads(line) for line in scored.predictions.read_text(encoding="utf-8").splitlines()]
    assert read_json(scored.manifest)["windows"] == windowed.window_count
    for ours, theirs in zip(test_rows, scored_rows, strict=True):
        assert ours["pred_label"] == theirs["pred_label"]
        assert abs(ours["pred_prob"] - theirs["pred_prob"]) < 1e-5
    cut_predictions = predict_split.fn(model, cut, split, "news", "label", LABELS, 8, "cpu", "fp32",
                                       tmp_path / "cut" / "test.jsonl", tmp_path / "artifacts")
    cut_rows = [json.loads(line) for line in cut_predictions.path.read_text(encoding="utf-8").splitlines()]
    assert [r["probs"] for r in cut_rows] != [r["probs"] for r in test_rows]  # the long texts moved
