"""tasks/evaluation/predict.py: test predictions can be joined back to the test file, and keep every field."""

import json

from tasks.core.records import LabelSet, TokenizerRecord
from tasks.evaluation.predict import predict_split
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import fingerprint, load_tokenizer
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier, validated

LABELS = LabelSet(names=("0", "1"), kind="int")


def test_predictions_carry_the_source_line_and_the_users_fields_past_a_quarantined_row(tmp_path):
    rows = learnable_rows([0, 1], 12, seed=4)
    model = save_tiny_classifier(tmp_path / "model", LABELS, [r["news"] for r in rows])
    lines = [json.dumps({"id": i, **r, "meta": {"src": "wire", "score": 1e400 if i == 5 else i}})
             for i, r in enumerate(rows)]
    lines[2] = '{"news": "broken'  # quarantined: every later row is one line off its index
    lines[4] = json.dumps({**rows[4], "pred_label": "theirs", "line": "their own", "probs": [9]})
    source = tmp_path / "test.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    split = validated(source, "test", LABELS)
    assert split.valid_rows == 11
    tokenizer = load_tokenizer(str(model))
    tok = TokenizerRecord(path=str(model), fingerprint=fingerprint(tokenizer), trained_here=False)
    tokenized = tokenize_split.fn(split, tok, "news", "label", LABELS, 64, tmp_path / "cache")
    out = tmp_path / "predictions" / "test.jsonl"
    predict_split.fn(model, tokenized, split, "news", "label", LABELS, 8, "cpu", "fp32", out, tmp_path)

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
