"""tasks/tokens/tokenizer.py: WordPiece training, fingerprints, the tokenizer cache and a real checkpoint's
tokenizer."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import tasks.tokens.tokenizer as tokenizer_module
from tasks.core.records import SplitData
from tasks.tokens.tokenizer import fingerprint, load_tokenizer, prepare_tokenizer, train_wordpiece, wordpiece_vocab
from tests.builders import BERT_SHAPE
from tests.pipeline import validated

TEXTS = [
    "今天股市大涨\uff0c投资者很高兴",
    "明天可能下雨 the market fell sharply",
    "股市大跌 stocks went down today",
    "这家酒店的服务很好 the hotel was great",
    "价格太贵了 too expensive",
]


def split_data(tmp_path: Path) -> SplitData:
    path = tmp_path / "train.jsonl"
    lines = [json.dumps({"news": t, "label": i % 2}, ensure_ascii=False) for i, t in enumerate(TEXTS)]
    path.write_text("\n".join([*lines, "", "{not json"]) + "\n", encoding="utf-8")
    return validated(path)


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(TEXTS, 200)


def test_trained_tokenizer_is_fast_and_adds_cls_sep(tokenizer):
    assert tokenizer.is_fast
    ids = tokenizer("股市 hello")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_each_cjk_character_is_its_own_token(tokenizer):
    text = "今天股市大涨"
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    assert tokens[1:-1] == list(text)


def test_english_is_lowercased_and_specials_are_in_vocab(tokenizer):
    tokens = tokenizer.tokenize("Market STOCKS")
    assert "".join(t.removeprefix("##") for t in tokens) == "marketstocks"
    vocab = tokenizer.get_vocab()
    assert all(special in vocab for special in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    assert tokenizer.pad_token == "[PAD]" and tokenizer.unk_token == "[UNK]"


def test_fingerprint_survives_save_and_load(tokenizer, tmp_path: Path):
    tokenizer.save_pretrained(tmp_path / "tok")
    loaded = load_tokenizer(str(tmp_path / "tok"))
    assert loaded.is_fast
    assert fingerprint(loaded) == fingerprint(tokenizer)
    assert loaded("今天 market")["input_ids"] == tokenizer("今天 market")["input_ids"]


def test_fingerprint_differs_for_another_vocab_size(tokenizer):
    smaller = train_wordpiece(TEXTS, 60)
    assert len(smaller) < len(tokenizer)
    assert fingerprint(smaller) != fingerprint(tokenizer)
    # no "same texts -> same fingerprint" check: WordPiece training in tokenizers is not deterministic
    # (huggingface/tokenizers#1794), which is why prepare_tokenizer caches the trained vocabulary


def test_prepare_tokenizer_trains_once_then_hits_cache(tmp_path: Path, caplog):
    train = split_data(tmp_path)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="pipeline"):
        first = prepare_tokenizer.fn(None, True, train, "news", "label", 120, cache)
    assert first.trained_here
    folder = Path(first.path)
    assert folder.parent == cache / "tokenizers"
    tokenizer_json = folder / "tokenizer.json"
    assert tokenizer_json.is_file()
    assert "trained a WordPiece vocabulary" in caplog.text and "on 5 training texts" in caplog.text
    assert first.fingerprint == fingerprint(load_tokenizer(str(folder)))
    mtime = tokenizer_json.stat().st_mtime_ns

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline"):
        second = prepare_tokenizer.fn(None, True, train, "news", "label", 120, cache)
    assert "tokenizer cache hit" in caplog.text
    assert "trained a WordPiece" not in caplog.text
    assert second == first
    assert tokenizer_json.stat().st_mtime_ns == mtime
    assert [p.name for p in (cache / "tokenizers").iterdir()] == [folder.name]


def test_prepare_tokenizer_cache_key_depends_on_size_and_file(tmp_path: Path):
    train = split_data(tmp_path)
    cache = tmp_path / "cache"
    base = prepare_tokenizer.fn(None, True, train, "news", "label", 120, cache)
    other_size = prepare_tokenizer.fn(None, True, train, "news", "label", 60, cache)
    assert other_size.path != base.path and other_size.fingerprint != base.fingerprint
    changed = train.model_copy(update={"sha256": "0" * 64})
    assert prepare_tokenizer.fn(None, True, changed, "news", "label", 120, cache).path != base.path


@pytest.fixture(scope="module")
def bert_shape() -> Path:
    if not BERT_SHAPE.is_dir():
        pytest.skip(f"{BERT_SHAPE} is missing")
    return BERT_SHAPE


def test_bert_base_chinese_tokenizer_loads_and_encodes(bert_shape: Path):
    tokenizer = load_tokenizer(str(bert_shape))
    assert tokenizer.is_fast
    ids = tokenizer("今天股市大涨")["input_ids"]
    assert ids[0] == 101 and ids[-1] == 102
    assert len(ids) == len("今天股市大涨") + 2
    assert tokenizer.unk_token_id not in ids


def test_prepare_tokenizer_with_checkpoint_does_not_train(bert_shape: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    record = prepare_tokenizer.fn(str(bert_shape), True, split_data(tmp_path), "news", "label", 120, cache)
    assert record.trained_here is False
    assert record.path == str(bert_shape)
    assert record.fingerprint == fingerprint(load_tokenizer(str(bert_shape)))
    assert not cache.exists()


def test_the_vocabulary_is_the_same_on_every_training_and_keeps_frequent_characters_first():
    texts = TEXTS * 3 + ["iphone iphones 手机 手机"]
    first, second = train_wordpiece(texts, 60), train_wordpiece(list(texts), 60)
    assert first.get_vocab() == second.get_vocab()
    assert fingerprint(first) == fingerprint(second)
    assert len(first.get_vocab()) == 60
    assert {"股", "市", "手", "机"} <= set(first.get_vocab())


def test_counting_words_of_a_huge_corpus_drops_singletons_but_keeps_the_vocabulary(monkeypatch):
    texts = ["hello world 你好"] * 50 + [f"id{i} 好x" for i in range(3000)]  # thousands of words seen once
    unbounded = wordpiece_vocab(texts, 10_000)
    monkeypatch.setattr(tokenizer_module, "WORD_LIMIT", 100)
    bounded = wordpiece_vocab(iter(texts), 10_000)
    assert {"hello", "world", "x", "##d", "好"} <= set(bounded)
    assert set(bounded) == set(unbounded)  # singletons never become whole-word tokens; their characters survive


def test_a_long_training_file_is_counted_on_an_even_sample_of_its_rows(tmp_path: Path, caplog):
    train = split_data(tmp_path)  # the five TEXTS
    with caplog.at_level(logging.INFO, logger="pipeline"):
        sampled = prepare_tokenizer.fn(None, True, train, "news", "label", 500, tmp_path / "cache", vocab_texts=2)
    assert "one in 3 of 5 training texts" in caplog.text
    vocab = load_tokenizer(sampled.path).get_vocab()
    assert "今" in vocab and "酒" in vocab  # texts 1 and 4 (every third row from the first)
    assert "明" not in vocab and "价" not in vocab  # texts 2 and 5 were not counted
    whole = prepare_tokenizer.fn(None, True, train, "news", "label", 500, tmp_path / "cache")
    assert whole.path != sampled.path and "明" in load_tokenizer(whole.path).get_vocab()


def test_every_nth_row_of_the_stream_whatever_the_batches():
    from tasks.tokens.tokenizer import every_nth

    rows = [str(i) for i in range(23)]
    for cut in (1, 4, 5, 7, 23):
        batches = [rows[i:i + cut] for i in range(0, len(rows), cut)]
        assert list(every_nth(batches, 5)) == rows[::5]
