"""tasks/data/fast_jsonl.py: the orjson fast path answers every line exactly as ``parse_line`` does."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tasks.data.fast_jsonl import fast_row, parse_lines
from tasks.data.jsonl import Row, parse_line
from tests.strategies import any_char, lines


def raw_object(pairs: list[tuple[str, str]]) -> str:
    """A JSON object written by hand, so a key may come twice."""
    return "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"


def _string(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)


keys = st.sampled_from(['"news"', '"label"', '"x"', '"a:b"', '"\\u003a"', '"\\ud800"', '"好"']) | st.builds(
    _string, st.text(any_char, max_size=4), st.booleans())
numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "-0.0", "1E5", "0.1e-400", "1.0"]) | (
    st.builds(str, st.integers(-10**25, 10**25))) | st.builds(repr, st.floats(allow_nan=False, allow_infinity=False))
strings = st.builds(_string, st.text(any_char, max_size=10), st.booleans()) | st.sampled_from(
    ['"10:30"', '"a\\u003ab"', '"\\ud83d\\ude00"', '"\\udfff"', '"\\\\ud800"', '"好，很好：…"', '""', '" "'])
scalars = numbers | strings | st.sampled_from(["true", "false", "null"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3).map(lambda v: "[" + ", ".join(v) + "]")
                      | st.lists(st.tuples(keys, inner), max_size=3).map(raw_object), max_leaves=10)
texts = st.sampled_from(['"好评"', '" 好"', '"\\u200b"', '"a:b"', '"  "', '"x"', '5', 'null']) | strings
records = st.builds(lambda text, label, rest, order: raw_object(
    sorted([('"news"', text), ('"label"', label), *rest], key=lambda p: order.index(p[0]) if p[0] in order else 0)),
    texts, values, st.lists(st.tuples(keys, values), max_size=3), st.permutations(['"news"', '"label"', '"x"']))
deep = st.integers(95, 105).map(lambda d: '{"news": "deep", "label": 1, "x": ' + "[" * d + "]" * d + "}")
generated = (records | deep).map(lambda s: s.encode("utf-8", "surrogatepass"))


def strict(item) -> str:
    """repr tells 1 from 1.0 from True and -0.0 from 0, which == does not."""
    return repr(item)


@settings(max_examples=600, deadline=None)
@given(generated | lines.map(lambda items: items[0]), st.sampled_from([1, 2, 9]), st.sampled_from(["label", None]),
       st.sampled_from([b"", b"\r", b"\r\n", b"\n"]))
@example(b'{"news": "a:b", "label": 1, "news": "x"}', 2, "label", b"").via("duplicate hidden by a colon")
@example(b'{"news": "a", "label": 1, "x": "\\u003a", "x": "b:"}', 2, "label", b"").via("escaped colon")
@example(b'{"news": "a", "label": 18446744073709551616}', 2, "label", b"").via("beyond 64 bits")
@example(b'{"news": "a", "label": 1, "x": 12345678901234567890123.5}', 2, "label", b"").via("long float")
def test_the_fast_path_agrees_with_parse_line(raw: bytes, number: int, label_field, ending: bytes):
    line = raw + ending
    slow = parse_line(line, number, "news", label_field)
    assert strict(parse_lines([line], number, "news", label_field)) == strict([slow])
    fast = fast_row(line, "news", label_field)
    if fast is not None:  # taken only for a valid row, and then the very same one
        assert isinstance(slow, Row)
        assert strict((slow.record, slow.text, slow.label)) == strict(fast)


@pytest.mark.parametrize("record", [
    {"news": "好，很好：不错…", "label": 1}, {"news": "at 10:30", "label": "pos"}, {"news": "ok", "label": 0, "v": 0.5},
    {"news": "ok", "label": 0, "meta": {"a": [1, {"b": "c:d"}]}}, {"news": "😀 ok", "label": 1},
])
def test_ordinary_rows_take_the_fast_path(record: dict):
    raw = json.dumps(record, ensure_ascii=False).encode()
    assert fast_row(raw, "news", "label") == (record, record["news"], record["label"])


@pytest.mark.parametrize("raw", [
    b'{"news": "a", "label": 1, "news": "b"}', b'{"news": "a", "label": 1, "m": {"k": 1, "k": 2}}',
    b'{"news": "a:", "label": 1, "m": {"k": 1, "k": 2}}', b'{"news": "a", "label": 99999999999999999999}',
    b'{"news": "a\\ud800", "label": 1}', b'{"news": "a", "label": NaN}', b'\xef\xbb\xbf{"news": "a", "label": 1}',
    b'{"news": "a", "label": 1, "x": ' + b"[" * 101 + b"]" * 101 + b"}", b'{"news": " ", "label": 1}',
])
def test_doubtful_lines_go_to_parse_line(raw: bytes):
    assert fast_row(raw, "news", "label") is None


def test_a_block_of_lines_is_numbered_and_answered_line_for_line():
    raws = [b'\xef\xbb\xbf{"news": "bom", "label": 0}\r', b"", b"not json", b'{"news": "a", "label": 1}', b"  ",
            b'{"news": "", "label": 1}', b'{"news": "x", "label": 1, "news": "y"}', b'{"news": "z", "label": 2}']
    for first in (1, 5):
        expected = [parse_line(raw, first + i, "news", "label") for i, raw in enumerate(raws)]
        assert strict(parse_lines(raws, first, "news", "label")) == strict(expected)
    assert isinstance(parse_lines(raws, 1, "news", "label")[0], Row)  # the BOM is read past on line 1 only
    assert not isinstance(parse_lines(raws, 2, "news", "label")[0], Row)
