"""tasks/tokens/cut.py: cutting texts before tokenizing them gives exactly the ids and cut flags of tokenizing
them whole, with real tokenizers, while the tokenizer never sees more than a bounded prefix of a long text."""

from __future__ import annotations

import copy
import functools
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from tasks.tokens.cut import CHARS_PER_TOKEN, CUT_SLACK, cut_margin, encode_with_cuts
from tasks.tokens.tokenizer import load_tokenizer, train_wordpiece
from tests.builders import BERT_SHAPE

VOCAB_TEXTS = [
    "今天股市大涨，投资者很高兴 the market rose sharply today",
    "明天可能下雨 it might rain tomorrow, said the forecaster",
    "这家酒店的服务很好 the hotel was great and the staff were friendly",
    "café naïve résumé coöperate façade über straße",
    "hello world hello there helpful helicopter hell help",
    "unbelievable unbelievably believe believer believing",
] * 3


def reference(texts: list[str], tokenizer, max_seq_length: int) -> tuple[list[list[int]], list[bool]]:
    """What encode_with_cuts did before it cut: tokenize each whole text and let the tokenizer truncate."""
    encoded = tokenizer(texts, truncation=True, max_length=max_seq_length, return_overflowing_tokens=True,
                        return_attention_mask=False, return_token_type_ids=False)
    ids, truncated = [], []
    owner = encoded["overflow_to_sample_mapping"]
    for i, row in enumerate(encoded["input_ids"]):
        if i == 0 or owner[i] != owner[i - 1]:
            ids.append(row)
            truncated.append(False)
        else:
            truncated[-1] = True
    return ids, truncated


@functools.cache
def wordpiece():
    return train_wordpiece(VOCAB_TEXTS, 300)  # lowercases and strips accents


@functools.cache
def bert_base_chinese():
    return load_tokenizer(str(BERT_SHAPE))  # keeps case and accents


needs_bert = pytest.mark.skipif(not BERT_SHAPE.is_dir(), reason="../shared/models/bert-base-chinese-shape not present")
TOKENIZERS = [pytest.param(wordpiece, id="wordpiece"),
              pytest.param(bert_base_chinese, id="bert-base-chinese", marks=needs_bert)]


class Recording:
    """A tokenizer that remembers the longest text it was asked to tokenize, and how many calls, through its own
    ``__call__`` or its backend's; and refuses texts over ``refuse`` characters (a regression then fails at once
    instead of tokenizing 20 MB whole)."""

    def __init__(self, tokenizer, refuse: int | None = None):
        self._tokenizer = tokenizer
        self.refuse = refuse
        self.longest = 0
        self.calls = 0
        self.backend_tokenizer = RecordingBackend(tokenizer.backend_tokenizer, self)

    def note(self, texts) -> None:
        self.longest = max([self.longest, *map(len, texts)])
        self.calls += 1
        assert self.refuse is None or self.longest <= self.refuse, f"asked to tokenize {self.longest:,} characters"

    def __call__(self, texts, **kwargs):
        self.note(texts)
        return self._tokenizer(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


class RecordingBackend:
    """The Rust tokenizer, its batch calls noted by ``recording``; settings go to the real one."""

    def __init__(self, backend, recording: Recording):
        self.__dict__.update(_backend=backend, _recording=recording)

    def encode_batch(self, texts, **kwargs):
        self._recording.note(texts)
        return self._backend.encode_batch(texts, **kwargs)

    def encode_batch_fast(self, texts, **kwargs):
        self._recording.note(texts)
        return self._backend.encode_batch_fast(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def __setattr__(self, name, value):
        setattr(self._backend, name, value)


def first_cut(tokenizer, max_seq_length: int) -> int:
    return CHARS_PER_TOKEN * max_seq_length + CUT_SLACK + cut_margin(tokenizer, max_seq_length)


# Pieces of text that tokenize differently in a prefix than whole, or produce no tokens at all.
CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=30)
WORDS = st.sampled_from(["hello", "help", "helicopter", "believe", "unbelievably", "market", "the", "股市", "今天",
                         "Hello", "HELLO", "Straße", "information", "international", "government", "performance"])
ASCII_WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=140)  # > 100: one [UNK]
SPACES = st.text(" \t\n\r\u3000\xa0\u2028", min_size=1, max_size=40)
LONG_SPACES = st.integers(50, 3000).map(lambda n: " " * n)
PUNCT = st.text("，。！？、,.!?;:()[]\"'-/…“”@#", min_size=1, max_size=4)
ACCENTS = st.sampled_from(["é", "e\u0301", "\u0301", "\u0301\u0302\u0303", "ñ", "ﬁ", "Å", "ö", "ǅ", "İ", "ΣΑΣ"])
ODD = st.sampled_from(["\x00", "\x07", "\ufffd", "\u200b", "\u200d", "😀", "👍🏽", "\U00020000"])
REMOVED = st.text("\x00\x07\x1b\ufffd\u200b\u0301\u0327", min_size=1, max_size=60)  # normalized away, in a word
SPECIALS = st.sampled_from(["[SEP]", "[MASK]", "[UNK]", "[CLS]", "[PAD]", "[SE", "P]", "[", "]"])
# One word to the tokenizer, its pieces far apart: a run of characters normalized away inside it.
SPLIT_WORD = st.tuples(st.one_of(WORDS, ASCII_WORD), st.integers(1, 12), st.sampled_from("\x00\x07\ufffd\u200b"),
                       st.integers(1, 60)).map(lambda t: t[0][: t[1]] + t[2] * t[3] + t[0][t[1] :])
FRAGMENT = st.one_of(CJK, WORDS, ASCII_WORD, SPACES, LONG_SPACES, PUNCT, ACCENTS, ODD, REMOVED, SPLIT_WORD, SPECIALS)
MIXED = st.lists(FRAGMENT, max_size=40).map("".join)


@st.composite
def split_word_lead(draw) -> tuple[str, int, int]:
    """A word split by a run of characters normalized away, and where in the run a cut is hardest: far enough
    past the word's first part that its tokens look safe, while the word goes on after the cut."""
    word = draw(WORDS | WORDS | ASCII_WORD.filter(lambda w: len(w) > 1))
    at, run = draw(st.integers(1, len(word) - 1)), draw(st.integers(10, 60))
    text = word[:at] + draw(st.sampled_from("\x00\x07\ufffd\u200b")) * run + word[at:]
    return text, at + 8, at + run


def anywhere(strategy):
    return strategy.map(lambda text: (text, 0, len(text)))


@st.composite
def around_the_cut(draw, tokenizer, max_seq_length: int) -> str:
    """About the limit's worth of one-token characters, whitespace, then a word, a special token or a word split
    by characters normalized away, and anything after it, placed so that the first cut falls inside the first
    of those: the token at the limit falls on or near the cut."""
    budget = max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
    head = "好" * max(0, budget - draw(st.integers(0, 3)))
    lead, lo, hi = draw(split_word_lead() | split_word_lead() | anywhere(SPECIALS) | anywhere(ASCII_WORD)
                         | anywhere(SPLIT_WORD))
    at = draw(st.integers(lo, hi))  # the character of ``lead`` at the cut, give or take a few
    gap = first_cut(tokenizer, max_seq_length) - at + draw(st.integers(-3, 3)) - len(head)
    return head + " " * max(0, gap) + lead + draw(MIXED)


def texts_for(tokenizer, max_seq_length: int):
    return st.lists(st.one_of(MIXED, around_the_cut(tokenizer, max_seq_length)), min_size=1, max_size=6)


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("max_seq_length", [8, 16, 64])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cutting_before_tokenizing_gives_the_ids_and_flags_of_tokenizing_whole(make, max_seq_length, data):
    tokenizer = make()
    texts = data.draw(texts_for(tokenizer, max_seq_length))
    assert encode_with_cuts(texts, tokenizer, max_seq_length) == reference(texts, tokenizer, max_seq_length)


@st.composite
def word_going_on_past_the_cut(draw, tokenizer, max_seq_length: int) -> str:
    """The limit's token in the first part of a word, characters normalized away up to and past the cut, the
    rest of the word after it: the first part's tokens end well before the cut, yet are not the word's."""
    budget = max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
    word = draw(WORDS | WORDS | ASCII_WORD.filter(lambda w: len(w) > 1))
    at = draw(st.integers(1, len(word) - 1))
    pieces = len(tokenizer.tokenize(word[:at]))  # the limit's token is one of the first part's, not its last
    head = "好" * (budget - (draw(st.integers(1, min(2, pieces - 1))) if pieces > 1 else 0))
    past = draw(st.integers(8, 40))  # characters between the first part and the cut
    run = past + draw(st.integers(1, 20))
    gap = first_cut(tokenizer, max_seq_length) - past - at - len(head)
    return head + " " * gap + word[:at] + draw(st.sampled_from("\x00\x07\ufffd\u200b")) * run + word[at:] + " 好"


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("max_seq_length", [8, 64])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_word_that_goes_on_past_the_cut_is_tokenized_whole(make, max_seq_length, data):
    tokenizer = make()
    text = data.draw(word_going_on_past_the_cut(tokenizer, max_seq_length))
    assert encode_with_cuts([text], tokenizer, max_seq_length) == reference([text], tokenizer, max_seq_length)


def near_the_cut_cases(tokenizer, max_seq_length: int) -> dict[str, str]:
    """Texts where the first cut alone would be wrong: each has to be cut again, longer."""
    budget = max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
    first = first_cut(tokenizer, max_seq_length)
    head = "好" * (budget - 1)

    def at_cut(tail: str, back: int) -> str:  # head, spaces, then ``tail`` starting ``back`` chars before the cut
        return head + " " * (first - back - len(head)) + tail

    # A word prefix of several pieces whose first piece changes when the word goes on.
    start, rest = next((a, b) for a, b in [("hel", "icopter"), ("unbel", "ievably"), ("mar", "ket"), ("hell", "o")]
                       if len(tokenizer.tokenize(a)) > 1 and tokenizer.tokenize(a + b)[0] != tokenizer.tokenize(a)[0])
    return {
        "fits before the cut, more after": head + " " * 5 * first + "好好",
        "exactly the limit, nothing after the spaces": head + " " * 5 * first + "好",
        "a special token across the cut": at_cut("[SEP]好好好", 3),
        "a word's prefix at the cut": at_cut("unbelievably 好好", 4),
        "a word of over 100 characters across the cut": at_cut("a" * 150 + " 好", 50),
        "a combining accent after the cut": at_cut("cafe\u0301 好", 4),
        "a word whose last characters before the cut are normalized away":
            at_cut(start + "\x00" * 40 + rest + " 好", 20),
        "whitespace runs only": " " * 10 * first,
    }


@pytest.mark.parametrize("make", TOKENIZERS)
@pytest.mark.parametrize("max_seq_length", [8, 64])
def test_texts_whose_first_cut_would_be_wrong_are_cut_again_longer(make, max_seq_length):
    tokenizer = make()
    for name, text in near_the_cut_cases(tokenizer, max_seq_length).items():
        recording = Recording(tokenizer)
        assert encode_with_cuts([text], recording, max_seq_length) == reference([text], tokenizer, max_seq_length), name
        assert recording.calls > 1, f"{name}: accepted the first cut"


@pytest.mark.parametrize("make", TOKENIZERS)
def test_a_20_mb_text_is_tokenized_only_as_far_as_the_limit_needs(make):
    tokenizer = make()
    recording = Recording(tokenizer, refuse=100_000)
    texts = ["好" * 20_000_000, ("股市 hello world, 今天 " * 1_000_000)[:20_000_000], "短"]
    ids, truncated = encode_with_cuts(texts, recording, 64)
    # One call for the short text (whole, no offsets), one for the two long ones, each cut once.
    assert recording.calls == 2 and recording.longest <= first_cut(tokenizer, 64) < 1000
    assert (ids, truncated) == reference([t[:5000] for t in texts], tokenizer, 64)  # the same first 62 tokens
    assert truncated == [True, True, False] and [len(row) for row in ids] == [64, 64, 3]


@pytest.mark.parametrize("make", TOKENIZERS)
def test_texts_shorter_than_the_cut_are_tokenized_once_and_whole(make):
    tokenizer = make()
    recording = Recording(tokenizer)
    texts = ["好" * 100, "hello " * 20, "", "   "]
    assert encode_with_cuts(texts, recording, 16) == reference(texts, tokenizer, 16)
    assert recording.calls == 1
    assert encode_with_cuts([], recording, 16) == ([], [])


def test_the_kept_ids_come_from_the_tokenizers_own_special_tokens():
    tokenizer = wordpiece()
    ids, truncated = encode_with_cuts(["好" * 5000, "好"], tokenizer, 8)
    cls, sep, good = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "好"])
    assert ids == [[cls, *[good] * 6, sep], [cls, good, sep]] and truncated == [True, False]


def tokenizer_with_a_special_token_starting_with_a_letter():
    """A WordPiece that cannot spell "abc" but can spell "abcd", and a special token "d!z" to cut a word short."""
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好", "a", "##bcd", "!", "z"])}
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                           special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", additional_special_tokens=["d!z"])


def test_a_special_token_that_cuts_the_kept_word_short_after_the_cut_is_seen():
    # The cut falls inside "d!z": the cut text spells "a\0...\0bcd" as "a" "##bcd", then "!"; the whole text has
    # "a\0...\0bc" (one [UNK]: no "##bc" piece), then "d!z". "a" ends well before the cut; "##bcd" does not.
    tokenizer = tokenizer_with_a_special_token_starting_with_a_letter()
    assert cut_margin(tokenizer, 8) == len("[MASK]") + 2
    head = "好" * 5  # the limit's 6th token is the word's first
    first = first_cut(tokenizer, 8)
    text = head + " " * (first - len(head) - 15) + "a" + "\x00" * 10 + "bcd!" + "z 好"
    assert text[:first].endswith("bcd!")
    ids, truncated = reference([text], tokenizer, 8)
    assert ids[0][-2] == tokenizer.unk_token_id and truncated == [True]
    assert encode_with_cuts([text], tokenizer, 8) == (ids, truncated)


def with_backend(tokenizer, change):
    changed = copy.deepcopy(tokenizer)
    change(changed)
    return changed


def nfc(t):
    t.backend_tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])


def whitespace(t):
    t.backend_tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()


def normalized_added_token(t):
    t.add_tokens(["hello wor"])


def rstrip_added_token(t):
    t.add_tokens([AddedToken("[X]", rstrip=True, normalized=False)])


def left_side(t):
    t.truncation_side = "left"


@pytest.mark.parametrize("change", [nfc, whitespace, normalized_added_token, rstrip_added_token, left_side])
def test_a_tokenizer_the_cut_is_not_proven_for_is_given_whole_texts(change):
    tokenizer = with_backend(wordpiece(), change)
    assert cut_margin(tokenizer, 16) is None
    recording = Recording(tokenizer)
    texts = ["好" * 3000, "hello world " * 500 + "[X]   x", "e" + "\u0301" * 2000]
    assert encode_with_cuts(texts, recording, 16) == reference(texts, tokenizer, 16)
    assert recording.longest == max(map(len, texts))


def test_a_limit_with_no_room_past_the_special_tokens_is_left_to_the_tokenizer():
    assert cut_margin(wordpiece(), 2) is None and cut_margin(wordpiece(), 3) is not None
