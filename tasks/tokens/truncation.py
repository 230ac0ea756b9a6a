"""Token ids of a text over the model's limit: its head, its tail, head and tail, or every token as windows.

Like ``tasks/tokens/cut.py`` for the head, the tail is found by tokenizing only the text's last characters, a
few per token kept, so a 50 MB line costs what a short one does. A cut at the start of that piece can change only
the tokens near it, for a BERT pipeline (one character normalized at a time; words end at whitespace and
punctuation; each word tokenized alone; added tokens matched in the raw text and at most ``L`` characters long):

- an added token that straddles the cut ends within ``L`` characters of it, and a match it pre-empts in the
  whole text starts before that, so ends before ``2 L``: tokens that start ``2 L + 2`` characters in are beyond
  the reach of added tokens;
- of those, the first token that starts a word (not the piece's first word, which the cut may have split)
  begins a word of the whole text too, since whether a word starts at a character depends on it and on the one
  before; from there on every token is the whole text's.

When fewer tokens than asked follow that point, the piece is made ``GROWTH`` times longer, up to the whole text.
Windows need every token, so a text over the limit is tokenized whole: their cost grows with the text's length.
"""

from __future__ import annotations

import functools

from tasks.core.truncation import Truncation
from tasks.tokens.backend import encode
from tasks.tokens.cut import CHARS_PER_TOKEN, CUT_SLACK, GROWTH, cut_margin, encode_with_cuts


@functools.lru_cache(maxsize=8)
def frame(tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special tokens a single text gets before and after its own ([CLS] and [SEP] for BERT)."""
    probe = "a"
    content = tokenizer(probe, add_special_tokens=False)["input_ids"]
    framed = tokenizer(probe)["input_ids"]
    start = next(i for i in range(len(framed) - len(content) + 1) if framed[i:i + len(content)] == content)
    return tuple(framed[:start]), tuple(framed[start + len(content):])


def content_limit(tokenizer, max_seq_length: int) -> int:
    """Tokens of the text itself that fit in ``max_seq_length``, beside its special tokens."""
    before, after = frame(tokenizer)
    return max_seq_length - len(before) - len(after)


def framed(tokenizer, content: list[int]) -> list[int]:
    before, after = frame(tokenizer)
    return [*before, *content, *after]


def tail_margin(tokenizer) -> int | None:
    """Characters at the start of a tail piece that its cut may change; None when not proven exact."""
    head_margin = cut_margin(tokenizer, 1, special_tokens=False)
    if head_margin is None:
        return None
    added = tokenizer.backend_tokenizer.get_added_tokens_decoder().values()
    if any(token.lstrip for token in added):  # swallows the whitespace before it: reaches back over the cut
        return None
    return 2 * (head_margin - 2) + 2


def first_trusted(encoding, margin: int) -> int | None:
    """Index of the first token of a tail piece that is certainly the whole text's, as argued above."""
    words, offsets = encoding.word_ids, encoding.offsets
    for j in range(1, len(words)):
        if offsets[j][0] >= margin and words[j] != words[j - 1] and words[j] != words[0]:
            return j
    return None


def _whole(texts: list[str], tokenizer) -> list[list[int]]:
    """Every token of each text, no special tokens (the backend, which has no warning about the length)."""
    return [e.ids for e in encode(texts, tokenizer, None, special_tokens=False, offsets=False)]


def last_tokens(texts: list[str], tokenizer, count: int) -> tuple[list[list[int]], list[bool]]:
    """Each text's last ``count`` tokens (no special tokens), and whether it has more than ``count``."""
    margin = tail_margin(tokenizer)
    ids: list[list[int]] = [[] for _ in texts]
    over = [False] * len(texts)
    limit = [CHARS_PER_TOKEN * count + CUT_SLACK + (margin or 0)] * len(texts)
    pending = list(range(len(texts)))
    while pending:
        whole = [i for i in pending if margin is None or limit[i] >= len(texts[i])]
        for i, tokens in zip(whole, _whole([texts[i] for i in whole], tokenizer), strict=True):
            ids[i], over[i] = tokens[max(0, len(tokens) - count):] if count else [], len(tokens) > count
        cut = [i for i in pending if margin is not None and limit[i] < len(texts[i])]
        pending = []
        if not cut:
            break
        encoded = encode([texts[i][-limit[i]:] for i in cut], tokenizer, None, special_tokens=False)
        for i, encoding in zip(cut, encoded, strict=True):
            start = first_trusted(encoding, margin)
            # One more trusted token than asked: the whole text then certainly has more than ``count``.
            if start is not None and len(encoding.ids) - start > count:
                ids[i], over[i] = encoding.ids[len(encoding.ids) - count:] if count else [], True
            else:
                limit[i] *= GROWTH
                pending.append(i)
    return ids, over


def encode_truncated(texts: list[str], tokenizer, max_seq_length: int,
                     truncation: Truncation) -> tuple[list[list[int]], list[bool]]:
    """Token ids of at most ``max_seq_length`` per text, special tokens included, as ``truncation`` keeps them,
    and whether each text was over the limit. A text within it gets the same ids in every mode."""
    if truncation.mode == "head":
        return encode_with_cuts(texts, tokenizer, max_seq_length)  # the tokenizer's own truncation, as before
    content = content_limit(tokenizer, max_seq_length)
    head, tail = truncation.split(content)
    ends, over = last_tokens(texts, tokenizer, content)
    ids = [framed(tokenizer, tokens) for tokens in ends]  # every token of a text that fits; the tail of one over
    long = [i for i in range(len(texts)) if over[i]]
    if long and head:
        starts, _ = encode_with_cuts([texts[i] for i in long], tokenizer, head, special_tokens=False)
        for i, first in zip(long, starts, strict=True):
            ids[i] = framed(tokenizer, first + ends[i][len(ends[i]) - tail:] if tail else first)
    return ids, over


def window_starts(tokens: int, width: int, stride: int) -> list[int]:
    """Starts of windows of ``width`` tokens, ``stride`` apart, the last one ending at the text's end."""
    starts = list(range(0, max(tokens - width, 0) + 1, stride))
    if starts[-1] + width < tokens:
        starts.append(tokens - width)
    return starts


def encode_windows(texts: list[str], tokenizer, max_seq_length: int,
                   stride: int) -> tuple[list[list[list[int]]], list[bool]]:
    """Each text as windows of at most ``max_seq_length`` ids that together hold every one of its tokens: one
    window (its head-mode ids) for a text within the limit. ``stride``: content tokens from one window's start
    to the next."""
    ids, over = encode_with_cuts(texts, tokenizer, max_seq_length)
    windows = [[row] for row in ids]
    long = [i for i in range(len(texts)) if over[i]]
    for i, text_windows in zip(long, long_text_windows([texts[i] for i in long], tokenizer, max_seq_length, stride),
                               strict=True):
        windows[i] = text_windows
    return windows, over


def long_text_windows(texts: list[str], tokenizer, max_seq_length: int, stride: int) -> list[list[list[int]]]:
    """The windows of texts known to be over the limit: each text is tokenized whole."""
    width = content_limit(tokenizer, max_seq_length)
    return [[framed(tokenizer, tokens[a:a + width]) for a in window_starts(len(tokens), width, stride)]
            for tokens in _whole(texts, tokenizer)]
