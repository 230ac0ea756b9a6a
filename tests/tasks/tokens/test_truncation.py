"""tasks/tokens/truncation.py: each mode keeps exactly the tokens it promises, checked against tokenizing whole
texts with real tokenizers; windows hold every token; a text within the limit gets the same ids in every mode."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tasks.core.truncation import Truncation
from tasks.tokens.cut import CHARS_PER_TOKEN, CUT_SLACK, GROWTH, encode_with_cuts
from tasks.tokens.truncation import (
    content_limit,
    encode_truncated,
    encode_windows,
    frame,
    last_tokens,
    tail_margin,
    window_starts,
)
from tests.tasks.tokens.test_cut import ASCII_WORD, MIXED, SPECIALS, SPLIT_WORD, TOKENIZERS, WORDS, Recording

MODES = [Truncation(), Truncation(mode="tail"), Truncation(mode="head_tail"),
         Truncation(mode="head_tail", head_tokens=0), Truncation(mode="head_tail", head_tokens=3)]


def whole(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def promised(tokenizer, text: str, max_seq_length: int, truncation: Truncation) -> tuple[list[int], bool]:
    """What a mode promises, from the whole text's tokens: [CLS] head tokens, tail tokens [SEP]."""
    tokens, content = whole(tokenizer, text), content_limit(tokenizer, max_seq_length)
    before, after = frame(tokenizer)
    if len(tokens) <= content:
        return [*before, *tokens, *after], False
    head, tail = truncation.split(content)
    return [*before, *tokens[:head], *(tokens[len(tokens) - tail:] if tail else []), *after], True


@st.composite
def around_the_tail_cut(draw, tokenizer, count: int) -> str:
    """A word, a special token or a split word placed where the first tail piece starts, then spaces and about
    ``count`` one-token characters: the piece's cut falls inside what is hardest to cut."""
    lead = draw(SPECIALS | ASCII_WORD | SPLIT_WORD | WORDS)
    at = draw(st.integers(0, len(lead)))  # the character of ``lead`` where the piece starts
    tail = "好" * max(0, count - draw(st.integers(-2, 3)))
    first = CHARS_PER_TOKEN * count + CUT_SLACK + tail_margin(tokenizer) + draw(st.integers(-3, 3))
    return draw(MIXED) + lead + " " * max(0, first - len(tail) - (len(lead) - at)) + tail


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("count", [1, 6, 30])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_last_tokens_of_a_cut_piece_are_the_whole_texts_last_tokens(make, count, data):
    tokenizer = make()
    texts = data.draw(st.lists(MIXED | around_the_tail_cut(tokenizer, count), min_size=1, max_size=5))
    expected = [(whole(tokenizer, t)[-count:], len(whole(tokenizer, t)) > count) for t in texts]
    ids, over = last_tokens(texts, tokenizer, count)
    assert list(zip(ids, over, strict=True)) == expected


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("max_seq_length", [8, 40])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), mode=st.sampled_from(MODES))
def test_each_mode_keeps_the_tokens_it_promises(make, max_seq_length, data, mode):
    tokenizer = make()
    texts = data.draw(st.lists(MIXED | around_the_tail_cut(tokenizer, max_seq_length - 2), min_size=1, max_size=4))
    ids, over = encode_truncated(texts, tokenizer, max_seq_length, mode)
    assert list(zip(ids, over, strict=True)) == [promised(tokenizer, t, max_seq_length, mode) for t in texts]
    assert all(len(row) <= max_seq_length for row in ids)
    head_ids, head_over = encode_with_cuts(texts, tokenizer, max_seq_length)
    assert over == head_over  # "over the limit" does not depend on the mode
    for row, head_row, cut in zip(ids, head_ids, over, strict=True):
        if not cut:
            assert row == head_row  # a text that fits: the same ids in every mode, so the same bytes downstream


@pytest.mark.parametrize("make", TOKENIZERS)
def test_on_a_text_of_known_length_cls_and_sep_frame_the_promised_tokens(make):
    tokenizer = make()
    text = "".join(f"{i} " for i in range(40))  # 40 words, each a token or more: first and last are known
    tokens = whole(tokenizer, text)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    head, _ = encode_truncated([text], tokenizer, 12, Truncation())
    tail, _ = encode_truncated([text], tokenizer, 12, Truncation(mode="tail"))
    both, _ = encode_truncated([text], tokenizer, 12, Truncation(mode="head_tail", head_tokens=4))
    assert head[0] == [cls, *tokens[:10], sep]
    assert tail[0] == [cls, *tokens[-10:], sep]
    assert both[0] == [cls, *tokens[:4], *tokens[-6:], sep]


def test_head_tail_scales_the_papers_128_of_510_and_refuses_what_does_not_fit():
    assert Truncation(mode="head_tail").split(510) == (128, 382)
    assert Truncation(mode="head_tail").split(126) == (32, 94)
    assert Truncation(mode="head_tail").resolved(126) == Truncation(mode="head_tail", head_tokens=32)
    assert Truncation(mode="tail").split(126) == (0, 126)
    with pytest.raises(ValueError, match="more than the 126 tokens"):
        Truncation(mode="head_tail", head_tokens=127).split(126)
    with pytest.raises(ValidationError, match="head_tokens is for --truncation head_tail"):
        Truncation(mode="tail", head_tokens=3)


@settings(max_examples=300, deadline=None)
@given(tokens=st.integers(0, 2000), width=st.integers(1, 300), data=st.data())
def test_windows_cover_every_token_and_end_at_the_text_end(tokens, width, data):
    stride = data.draw(st.integers(1, width))
    starts = window_starts(tokens, width, stride)
    covered = set().union(*(range(a, min(a + width, tokens)) for a in starts))
    assert covered == set(range(tokens))
    assert starts[0] == 0 and all(0 < b - a <= stride for a, b in itertools.pairwise(starts))
    assert starts[-1] + width >= tokens and starts[-1] >= 0


@pytest.mark.parametrize("make", TOKENIZERS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(MIXED, min_size=1, max_size=4), stride=st.integers(1, 6))
def test_windows_hold_every_token_in_order_and_a_text_that_fits_is_one_head_window(make, texts, stride):
    tokenizer, max_seq_length = make(), 8
    width = content_limit(tokenizer, max_seq_length)
    windows, over = encode_windows(texts, tokenizer, max_seq_length, stride)
    head_ids, _ = encode_with_cuts(texts, tokenizer, max_seq_length)
    for text, rows, cut, head in zip(texts, windows, over, head_ids, strict=True):
        tokens = whole(tokenizer, text)
        assert all(len(row) <= max_seq_length and row[0] == tokenizer.cls_token_id
                   and row[-1] == tokenizer.sep_token_id for row in rows)
        if not cut:
            assert rows == [head]
            continue
        starts = window_starts(len(tokens), width, stride)
        assert [row[1:-1] for row in rows] == [tokens[a:a + width] for a in starts]
        assert rows[0] == head and rows[-1][1:-1] == tokens[-width:]


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("mode", ["tail", "head_tail"])
def test_the_tail_of_a_huge_line_is_found_without_tokenizing_the_line(make, mode):
    tokenizer = make()
    recording = Recording(tokenizer, refuse=(CHARS_PER_TOKEN * 62 + CUT_SLACK + 64) * GROWTH)
    text = "今天股市大涨 the market rose. " * 200_000  # 5 MB
    ids, over = encode_truncated([text], recording, 64, Truncation(mode=mode))
    assert over == [True] and len(ids[0]) == 64
    end = whole(tokenizer, text[-2000:])
    assert ids[0][-10:-1] == end[-9:]
