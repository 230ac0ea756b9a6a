"""Hypothesis strategies for what users put in a JSONL file: any bytes, any JSON, any field names, any text.

Lines are generated as bytes, never containing ``\\n`` (the file joins them), so line k of the file is item k.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

OURS = ["pred_label", "pred_prob", "probs", "model_digest", "line", "input.probs", "input.pred_label"]
# Lone surrogates (Cs) too: JSON can spell them as \udXXX escapes, and UTF-8 cannot hold them.
any_char = st.characters(codec=None, exclude_categories=())
names = st.sampled_from(["news", "label", "id", "", " ", *OURS]) | st.text(any_char, max_size=8)
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18, max_value=10**40)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(any_char, max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
                      max_leaves=12)
texts = st.text(any_char, min_size=0, max_size=300) | st.sampled_from(["好", "差评", "  ", "\u200b", "a" * 2000])
labels = st.sampled_from([0, 1, "0", "1", None, True, 1.0, float("nan"), "", [1]]) | st.integers()


def _encode(record: object, ascii_only: bool) -> bytes:
    text = json.dumps(record, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate unescaped is invalid UTF-8: also a user's line


@st.composite
def record_lines(draw) -> bytes:
    """A JSON object line: usually with a text and a label, plus fields of any name, shape and value."""
    record = draw(st.dictionaries(names, values, max_size=4))
    if draw(st.booleans()) or not record:
        record["news"] = draw(texts)
    if draw(st.booleans()):
        record["label"] = draw(labels)
    return _encode(record, draw(st.booleans()))


def _deep(depth: int) -> bytes:
    return b'{"news": "deep", "label": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"


odd_lines = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),  # arbitrary bytes, invalid UTF-8 included
    record_lines().map(lambda b: b[: len(b) // 2]),  # cut short
    st.integers(0, 1500).map(_deep),
    st.integers(1, 6000).map(lambda n: b'{"news": "n", "label": ' + b"7" * n + b"}"),
    st.sampled_from([b"", b"   ", b"\r", b"\xef\xbb\xbf", b"[]", b"null", b'"news"', b"1e400",
                     b'{"news": "x", "news": "y"}', b'{"news": 5}', b'{"news": "ok", "v": 1e400, "w": -1e999}']),
)
lines = st.lists(record_lines() | odd_lines, min_size=1, max_size=12)


def file_bytes(items: list[bytes], trailing_newline: bool) -> bytes:
    return b"\n".join(items) + (b"\n" if trailing_newline else b"")
