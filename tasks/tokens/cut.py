"""Token ids cut to the model's length limit, at a cost bounded by the limit rather than by the text.

Tokenizing a 50 MB line whole, only to keep its first ``max_seq_length`` tokens, takes minutes and gigabytes
(the Rust tokenizer holds offsets and alignments for every character and token). So each text is cut to a few
characters per token of the limit first, and the cut text tokenized with the very call the whole text would
get (``truncation=True``, overflow kept): the ids are the library's own truncation, special tokens included.

A cut text is kept only when the tokens kept provably do not depend on what follows the cut, for a BERT
pipeline (BertNormalizer: one character at a time; BertPreTokenizer: words end at whitespace and punctuation;
a model that tokenizes each word alone; special tokens matched in the raw text):

- only words that end before the last ``margin`` characters are trusted: an added token such as ``[SEP]``
  can straddle the cut, and the last word can go on after it (WordPiece's pieces of a word's prefix are not
  the word's pieces, and a word over ``max_input_chars_per_word`` is one ``[UNK]``);
- the word of the last token kept must be such a word, with all of its tokens before the last ``margin``
  characters, and not the cut text's last word; then the whole text has those tokens and at least one more,
  so it is cut too.

Otherwise (whitespace runs, words of hundreds of characters, text the limit did not reach) the text is cut
``GROWTH`` times longer and tried again, up to the whole text. A tokenizer of any other make is tokenized whole,
as before: exact, only not bounded.
"""

from __future__ import annotations

from tokenizers import Encoding

from tasks.tokens.backend import encode, ids_and_cuts

CHARS_PER_TOKEN = 8  # first cut, per token of the limit: Chinese needs 1, English words about 6 with spaces
CUT_SLACK = 64
GROWTH = 4
NORMALIZERS = {None, "BertNormalizer"}  # each character normalized alone: a cut cannot change the text before it
PRE_TOKENIZERS = {"BertPreTokenizer"}  # words end at whitespace and punctuation, whatever follows
POST_PROCESSORS = {None, "TemplateProcessing", "BertProcessing"}  # special tokens around the text, offsets as they are


def encode_whole(texts: list[str], tokenizer, max_seq_length: int, special_tokens: bool = True,
                 offsets: bool = True) -> list[Encoding]:
    """The tokenizer's own cut: content beyond the limit comes back in each encoding's ``overflowing``."""
    return encode(texts, tokenizer, max_seq_length, special_tokens, offsets)


def encode_uncut(texts: list[str], tokenizer, max_seq_length: int,
                 special_tokens: bool = True) -> tuple[list[list[int]], list[bool]]:
    return ids_and_cuts(encode_whole(texts, tokenizer, max_seq_length, special_tokens, offsets=False))


def kind(component) -> str | None:
    return None if component is None else type(component).__name__


def cut_margin(tokenizer, max_seq_length: int, special_tokens: bool = True) -> int | None:
    """Characters before a cut that the cut may still change; None when cutting is not proven exact."""
    if not getattr(tokenizer, "is_fast", False) or getattr(tokenizer, "truncation_side", "right") != "right":
        return None
    if max_seq_length - (tokenizer.num_special_tokens_to_add(pair=False) if special_tokens else 0) < 1:
        return None
    backend = tokenizer.backend_tokenizer
    if (kind(backend.normalizer) not in NORMALIZERS or kind(backend.pre_tokenizer) not in PRE_TOKENIZERS
            or kind(backend.post_processor) not in POST_PROCESSORS):
        return None
    added = list(backend.get_added_tokens_decoder().values())
    # Matched in the normalized text, or swallowing the whitespace after them, or only as whole words: an added
    # token could then depend on characters far from where it starts.
    if any(token.normalized or token.rstrip or token.single_word for token in added):
        return None
    # An added token is at most this long: one that starts this far before the cut ends before it, so the
    # whole text and the cut text find the same added tokens up to there.
    return max((len(token.content) for token in added), default=0) + 2


def cut_is_exact(rows, trusted_end: int) -> bool:
    """Whether the first row (the tokens kept) of a cut text is what the whole text would give.

    ``rows``: the cut text's encodings, kept tokens first, then its overflow; ``trusted_end``: the characters
    before it are beyond the reach of the cut."""
    if len(rows) < 2:
        return False  # the cut text fits the limit: what follows the cut may hold more tokens
    # Each property read builds a new list: read each once.
    seq, words, offsets = rows[0].sequence_ids, rows[0].word_ids, rows[0].offsets
    content = [j for j, s in enumerate(seq) if s == 0]  # the text's tokens, not [CLS]/[SEP]
    word = words[content[-1]]
    last_seq, last_words = rows[-1].sequence_ids, rows[-1].word_ids
    if last_words[max(j for j, s in enumerate(last_seq) if s == 0)] == word:
        return False  # the last word of the cut text may go on after the cut
    for j in reversed(content):  # every token of the kept word, in the first row ...
        if words[j] != word:
            break
        if offsets[j][1] > trusted_end:
            return False
    for row in rows[1:]:  # ... and in the overflow
        for s, w, (_, end) in zip(row.sequence_ids, row.word_ids, row.offsets, strict=True):
            if s != 0:
                continue
            if w != word:
                return True
            if end > trusted_end:
                return False
    return True


def encode_with_cuts(texts: list[str], tokenizer, max_seq_length: int,
                     special_tokens: bool = True) -> tuple[list[list[int]], list[bool]]:
    """Token ids cut to ``max_seq_length``, and whether each text had to be cut: exactly what tokenizing each
    whole text with ``truncation=True`` gives, tokenizing no more of a long text than the limit needs.
    ``special_tokens=False``: the text's first ``max_seq_length`` tokens alone, without [CLS]/[SEP]."""
    margin = cut_margin(tokenizer, max_seq_length, special_tokens)
    first = CHARS_PER_TOKEN * max_seq_length + CUT_SLACK + (margin or 0)
    long = [i for i, text in enumerate(texts) if len(text) > first] if margin is not None else []
    if not long:  # the common case: every text whole, in one call that skips offsets
        return encode_uncut(texts, tokenizer, max_seq_length, special_tokens)
    ids, truncated = [[] for _ in texts], [False] * len(texts)
    short = [i for i, text in enumerate(texts) if len(text) <= first]
    for i, row, cut in zip(short, *encode_uncut([texts[i] for i in short], tokenizer, max_seq_length,
                                                special_tokens), strict=True):
        ids[i], truncated[i] = row, cut
    limit = dict.fromkeys(long, first)
    pending = long
    while pending:
        encoded = encode_whole([texts[i][: limit[i]] for i in pending], tokenizer, max_seq_length, special_tokens)
        retry = []
        for i, encoding in zip(pending, encoded, strict=True):
            rows = [encoding, *encoding.overflowing]
            if limit[i] >= len(texts[i]) or cut_is_exact(rows, limit[i] - margin):
                ids[i], truncated[i] = encoding.ids, len(rows) > 1
            else:
                limit[i] *= GROWTH
                retry.append(i)
        pending = retry
    return ids, truncated
