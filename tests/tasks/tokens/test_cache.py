import pyarrow.parquet as pq
import pytest

import tasks.tokens.cache as tc
from tasks.core.records import LabelSet
from tasks.tokens.tokenizer import fingerprint, load_tokenizer, prepare_tokenizer
from tests.builders import BERT_SHAPE, learnable_rows, write_jsonl
from tests.pipeline import validated

LABELS = LabelSet(names=("0", "1"), kind="int")


def split_of(path, name="train"):
    return validated(path, name)


def tokenize(split, tok, cache_dir, max_len=32):
    return tc.tokenize_split.fn(split, tok, "news", "label", LABELS, max_len, cache_dir)


@pytest.fixture
def corpus(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", learnable_rows([0, 1], 50, seed=0))
    split = split_of(path)
    tok = prepare_tokenizer.fn(None, True, split, "news", "label", 60, tmp_path / "cache")
    return path, split, tok, tmp_path / "cache"


def test_second_call_is_a_cache_hit_and_does_not_tokenize(corpus, monkeypatch):
    _, split, tok, cache = corpus
    first = tokenize(split, tok, cache)
    assert not first.cache_hit and first.rows == 50
    mtime = first.parquet.stat().st_mtime_ns
    monkeypatch.setattr(tc, "tokenize_rows", lambda *a, **k: pytest.fail("tokenized again on a cache hit"))
    second = tokenize(split, tok, cache)
    assert second.cache_hit and second.parquet == first.parquet and second.rows == 50
    assert first.parquet.stat().st_mtime_ns == mtime


def test_every_part_of_the_key_invalidates_the_cache(corpus, tmp_path):
    _, split, tok, cache = corpus
    base = tokenize(split, tok, cache)
    assert tokenize(split, tok, cache, max_len=16).cache_key != base.cache_key
    other_tok = prepare_tokenizer.fn(None, True, split, "news", "label", 40, cache)
    assert other_tok.fingerprint != tok.fingerprint
    assert tokenize(split, other_tok, cache).cache_key != base.cache_key
    changed = write_jsonl(tmp_path / "train2.jsonl", learnable_rows([0, 1], 50, seed=0)[:-1])
    assert tokenize(split_of(changed), tok, cache).cache_key != base.cache_key


def test_parquet_holds_ids_lengths_lines_and_label_ids_of_valid_rows_only(tmp_path, corpus):
    _, _, tok, cache = corpus
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"news": "好好", "label": 1}\nnot json\n\n{"news": "差", "label": 0}\n', encoding="utf-8")
    result = tokenize(split_of(path, "dev"), tok, cache)
    table = pq.read_table(result.parquet).to_pydict()
    assert table["line"] == [1, 4]
    assert table["row"] == [0, 1]
    assert table["label_id"] == [1, 0]
    assert table["length"] == [len(ids) for ids in table["input_ids"]]


@pytest.mark.skipif(not BERT_SHAPE.is_dir(), reason="../shared/models/bert-base-chinese-shape not present")
def test_real_bert_base_chinese_tokenizer_truncates_at_max_seq_length(tmp_path):
    path = write_jsonl(tmp_path / "long.jsonl", [{"news": "股市" * 400, "label": 1}, {"news": "涨", "label": 0}])
    tokenizer = load_tokenizer(str(BERT_SHAPE))
    tok = tc.TokenizerRecord(path=str(BERT_SHAPE), fingerprint=fingerprint(tokenizer), trained_here=False)
    result = tokenize(split_of(path), tok, tmp_path / "cache", max_len=512)
    ids = pq.read_table(result.parquet).column("input_ids").to_pylist()
    assert len(ids[0]) == 512 and ids[0][0] == 101 and ids[0][-1] == 102  # [CLS] ... [SEP]
    assert ids[1] == [101, tokenizer.convert_tokens_to_ids("涨"), 102]


def test_truncation_and_windows_are_part_of_the_key_and_windows_are_cached_too(corpus, monkeypatch):
    from tasks.core.truncation import Truncation

    _, split, tok, cache = corpus
    keys = {tc.tokenize_split.fn(split, tok, "news", "label", LABELS, 8, cache, truncation).cache_key
            for truncation in (Truncation(), Truncation(mode="tail"), Truncation(mode="head_tail"),
                               Truncation(mode="head_tail", head_tokens=2))}
    assert len(keys) == 4
    first = tc.tokenize_split.fn(split, tok, "news", "label", LABELS, 8, cache, windows=True)
    assert first.truncated > 0 and first.window_count > first.truncated and first.cache_key not in keys
    windows = pq.read_table(first.windows)
    assert set(windows.column("row").to_pylist()) == {
        i for i, cut in enumerate(pq.read_table(first.parquet).column("truncated").to_pylist()) if cut}
    monkeypatch.setattr(tc, "tokenize_rows", lambda *a, **k: pytest.fail("tokenized again on a cache hit"))
    again = tc.tokenize_split.fn(split, tok, "news", "label", LABELS, 8, cache, windows=True)
    assert again.cache_hit and again.window_count == first.window_count and again.windows == first.windows
