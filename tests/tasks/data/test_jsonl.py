"""tasks/data/jsonl.py: every line becomes exactly one Row, BadRow or BlankLine, with its 1-based number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.core.errors import DataError
from tasks.data.jsonl import BadRow, BlankLine, Row, is_invisible, parse_line, read_lines
from tasks.data.record_out import finite_json


def parse(raw: bytes, line: int = 3, text_field: str = "text", label_field: str | None = "label"):
    return parse_line(raw, line, text_field, label_field)


def obj(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n"


def test_valid_line_becomes_row_with_text_label_and_record():
    item = parse(obj(text="今天股市大涨", label=1, extra="x"), line=7)
    assert item == Row(7, "今天股市大涨", 1, {"text": "今天股市大涨", "label": 1, "extra": "x"})


def test_string_label_is_kept_as_string():
    item = parse(obj(text="hi", label="pos"))
    assert isinstance(item, Row) and item.label == "pos"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"text": "a", "label": 1\n', "not valid JSON"),
        (b"[1, 2]\n", "expected a JSON object, got list"),
        (b'"just a string"\n', "expected a JSON object, got str"),
        (b"42\n", "expected a JSON object, got int"),
        (obj(label=1), "missing text field 'text'"),
        (obj(text=5, label=1), "text field 'text' must be a string, got int"),
        (obj(text=None, label=1), "text field 'text' must be a string, got NoneType"),
        (obj(text="", label=1), "text field 'text' is empty"),
        (obj(text=" \t\u3000 ", label=1), "text field 'text' is empty"),
        (obj(text="ok"), "missing label field 'label'"),
        (obj(text="ok", label=None), "label field 'label' is null"),
        (obj(text="\u200b\u200d\ufeff", label=1), "text field 'text' holds only invisible characters"),
        (obj(text="\u3164 \u2800\u2060", label=1), "text field 'text' holds only invisible characters"),
        (b'{"text": "a", "label": 1, "text": "b"}\n', "duplicate key 'text' in one JSON object"),
        (b'{"text": "a", "label": 1, "meta": {"x": 1, "x": 2}}\n', "duplicate key 'x' in one JSON object"),
        (obj(text="ok", label=True), "label must be an integer or a string, got bool"),
        (obj(text="ok", label=False), "label must be an integer or a string, got bool"),
        (obj(text="ok", label=1.0), "label must be an integer or a string, got float"),
        (b'{"text": "ok", "label": NaN}\n', "label is NaN"),
        (obj(text="ok", label=[1]), "label must be an integer or a string, got list"),
        (obj(text="ok", label=""), "label is an empty string"),
        (obj(text="ok", label="  "), "label is an empty string"),
    ],
)
def test_each_rejection_reason(raw: bytes, reason: str):
    item = parse(raw, line=4)
    assert isinstance(item, BadRow)
    assert item.line == 4
    assert reason in item.reason
    assert item.raw == raw.decode("utf-8").rstrip("\n")


def test_invalid_json_reason_names_column():
    item = parse(b'{"text": "a", oops}\n')
    assert isinstance(item, BadRow) and "(column 15)" in item.reason


def test_bom_on_line_one_is_skipped_but_not_on_later_lines():
    raw = b"\xef\xbb\xbf" + obj(text="a", label=0)
    assert isinstance(parse(raw, line=1), Row)
    later = parse(raw, line=2)
    assert isinstance(later, BadRow) and "not valid JSON" in later.reason


def test_crlf_line_ending_is_accepted():
    item = parse(json.dumps({"text": "a", "label": "x"}).encode() + b"\r\n")
    assert item == Row(3, "a", "x", {"text": "a", "label": "x"})


@pytest.mark.parametrize("raw", [b"\n", b"\r\n", b"   \t \n", b"", b"\xef\xbb\xbf\n"])
def test_blank_lines(raw: bytes):
    assert parse(raw, line=1) == BlankLine(1)


def test_custom_field_names():
    item = parse(obj(news="hello", y=2), text_field="news", label_field="y")
    assert isinstance(item, Row) and (item.text, item.label) == ("hello", 2)
    missing = parse(obj(text="hello", label=2), text_field="news", label_field="y")
    assert isinstance(missing, BadRow) and "missing text field 'news'" in missing.reason


@pytest.mark.parametrize("record", [{"text": "t"}, {"text": "t", "label": None}, {"text": "t", "label": True}])
def test_label_field_none_skips_label_checks(record: dict):
    item = parse(json.dumps(record).encode(), label_field=None)
    assert isinstance(item, Row) and item.label is None and item.record == record


def test_label_field_none_still_checks_text():
    item = parse(obj(text="  "), label_field=None)
    assert isinstance(item, BadRow) and "is empty" in item.reason


def test_missing_file_raises_data_error_naming_path(tmp_path: Path):
    path = tmp_path / "nope.jsonl"
    with pytest.raises(DataError, match="nope.jsonl"):
        list(read_lines(path, "text", "label"))


def test_directory_is_not_a_file(tmp_path: Path):
    with pytest.raises(DataError, match=str(tmp_path)):
        list(read_lines(tmp_path, "text", "label"))


def test_invalid_utf8_is_rejected_and_later_lines_are_read(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(obj(text="a", label=0) + b'{"text": "\xff\xfe", "label": 1}\n' + obj(text="c", label=1))
    items = list(read_lines(path, "text", "label"))
    assert [type(i) for i in items] == [Row, BadRow, Row]
    assert items[1].line == 2 and "invalid UTF-8 at byte 10" in items[1].reason
    assert "\ufffd" in items[1].raw
    assert items[2] == Row(3, "c", 1, {"text": "c", "label": 1})


def test_mixed_file_line_numbers_and_accounting(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        b"\xef\xbb\xbf" + obj(text="first", label=0).rstrip(b"\n") + b"\r\n",  # 1: BOM + CRLF
        b"\n",  # 2: blank
        b"not json\n",  # 3
        obj(text="second", label=1),  # 4
        b"  \r\n",  # 5: blank
        obj(text="", label=1),  # 6
        b"\xc3\x28\n",  # 7: invalid UTF-8
        obj(text="third", label="x"),  # 8
        obj(text="last", label=1).rstrip(b"\n"),  # 9: no trailing newline
    ]
    path.write_bytes(b"".join(lines))
    items = list(read_lines(path, "text", "label"))
    assert len(items) == len(lines) == 9
    assert [i.line for i in items] == list(range(1, 10))
    rows = [i for i in items if isinstance(i, Row)]
    bad = [i for i in items if isinstance(i, BadRow)]
    blank = [i for i in items if isinstance(i, BlankLine)]
    assert [r.line for r in rows] == [1, 4, 8, 9]
    assert [r.text for r in rows] == ["first", "second", "third", "last"]
    assert [b.line for b in bad] == [3, 6, 7]
    assert [b.line for b in blank] == [2, 5]
    assert len(items) == len(rows) + len(bad) + len(blank)


_texts = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and not is_invisible(s))
_valid = st.builds(lambda t, lab: ("valid", {"text": t, "label": lab}), _texts, st.integers() | _texts)
_invalid = st.sampled_from(
    [
        ("invalid", b"{broken\n"),
        ("invalid", b"[]\n"),
        ("invalid", b"\xff\xfe\n"),
        ("invalid", obj(text="", label=1)),
        ("invalid", obj(text="x", label=None)),
        ("invalid", obj(text="x", label=1.5)),
    ]
)
_blank = st.sampled_from([("blank", b"\n"), ("blank", b"  \r\n"), ("blank", b"\t\n")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_valid | _invalid | _blank, max_size=30))
def test_property_accounting_holds_and_no_valid_row_is_lost(tmp_path: Path, spec: list[tuple[str, object]]):
    path = tmp_path / "prop.jsonl"
    chunks = [json.dumps(v, ensure_ascii=False).encode() + b"\n" if kind == "valid" else v for kind, v in spec]
    path.write_bytes(b"".join(chunks))
    items = list(read_lines(path, "text", "label"))
    assert len(items) == len(spec)
    assert [i.line for i in items] == list(range(1, len(spec) + 1))
    kinds = {"valid": Row, "invalid": BadRow, "blank": BlankLine}
    assert [type(i) for i in items] == [kinds[kind] for kind, _ in spec]
    expected = [(v["text"], v["label"]) for kind, v in spec if kind == "valid"]
    assert [(i.text, i.label) for i in items if isinstance(i, Row)] == expected


def test_text_with_some_visible_characters_beside_invisible_ones_is_valid():
    item = parse(obj(text="\u200b好\u200d", label=1))
    assert isinstance(item, Row) and item.text == "\u200b好\u200d"


def test_the_same_key_in_two_different_objects_is_not_a_duplicate():
    item = parse(b'{"text": "a", "label": 1, "a": {"k": 1}, "b": {"k": 2}}\n')
    assert isinstance(item, Row) and item.record["b"] == {"k": 2}


def test_finite_json_turns_every_nan_and_infinity_into_null_and_counts_them():
    record = json.loads('{"a": NaN, "b": [1, Infinity, {"c": -Infinity}], "d": 2.5, "e": "NaN"}')
    cleaned, replaced = finite_json(record)
    assert replaced == 3
    assert cleaned == {"a": None, "b": [1, None, {"c": None}], "d": 2.5, "e": "NaN"}
    json.dumps(cleaned, allow_nan=False)  # strict JSON now


# Rows json.loads reads (or fails on with something other than JSONDecodeError) that nothing after it can use.
UNUSABLE = [
    (b'{"text": "a\\ud800b", "label": 1}', "field 'text' holds a lone surrogate escape"),
    (b'{"text": "ab", "meta": {"x": ["\\udfff"]}, "label": 1}', "field 'meta.x.0' holds a lone surrogate escape"),
    (b'{"text": "ab", "\\ud800": 1, "label": 1}', "field '\\ud800' holds a lone surrogate escape"),
    (b'{"text": "ab", "\\ud800": 1, "\\ud800": 2, "label": 1}', "duplicate key '\\ud800'"),
    (b'{"text": "ab", "x": ' + b"1" * 5000 + b', "label": 1}', "not valid JSON here: Exceeds the limit (4300 digits)"),
    (b'{"text": "ab", "label": ' + b"9" * 4301 + b"}", "not valid JSON here: Exceeds the limit"),
    (b'{"text": "ab", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b', "label": 1}', "nested deeper than 100 levels"),
    (b'{"text": "ab", "x": ' + b"[" * 101 + b"]" * 101 + b', "label": 1}', "nested deeper than 100 levels"),
]


@pytest.mark.parametrize(("raw", "reason"), UNUSABLE)
def test_rows_that_would_crash_a_later_step_are_rejected_with_a_printable_reason(raw: bytes, reason: str):
    item = parse(raw, line=9)
    assert isinstance(item, BadRow) and item.line == 9 and reason in item.reason
    json.dumps(item.record(Path("f.jsonl")), ensure_ascii=False).encode("utf-8")  # the rejects line can be written


@pytest.mark.parametrize("raw", [b'{"text": "\\ud83d\\ude00 ok", "label": 1}',  # a surrogate pair is one emoji
                                 b'{"text": "a\\\\ud800", "label": 1}',  # an escaped backslash, then letters
                                 b'{"text": "ab", "x": ' + b"[" * 99 + b"]" * 99 + b', "label": 1}'])  # 100 levels
def test_what_only_looks_like_those_rows_is_kept(raw: bytes):
    assert isinstance(parse(raw), Row)
