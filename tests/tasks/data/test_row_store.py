"""tasks/data/row_store.py: the rows file validation writes is exactly what parsing the JSONL yields, row for row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasks.data.row_store as row_store
from tasks.core.records import LabelSet, RunDir
from tasks.data.jsonl import Row, read_lines
from tasks.data.quality import normalize
from tasks.data.row_store import iter_batches, label_ids, read_columns, text_keys
from tasks.data.validate import validate_splits

BAD_INPUT = [  # every kind of line validation meets, in one file
    b"\xef\xbb\xbf" + json.dumps({"news": "first", "label": 0}).encode() + b"\r\n",  # BOM + CRLF
    b"\n",
    b"not json\n",
    json.dumps({"news": "ＦＵＬＬ width", "label": 1}, ensure_ascii=False).encode() + b"\n",
    b"  \r\n",
    json.dumps({"news": "", "label": 1}).encode() + b"\n",
    b"\xc3\x28\n",  # invalid UTF-8
    json.dumps({"news": "\u200b\u200b", "label": 0}).encode() + b"\n",  # invisible only
    json.dumps({"news": "dup", "news2": "x", "label": 0}).encode() + b"\n",
    b'{"news": "twice", "news": "keys", "label": 1}\n',
    json.dumps({"news": "label null", "label": None}).encode() + b"\n",
    json.dumps({"news": "FULL width ", "label": 1, "extra": [1, 2]}).encode() + b"\n",
    json.dumps({"news": "unknown label", "label": 7}).encode() + b"\n",
    json.dumps({"news": "string label", "label": "1"}).encode() + b"\n",
    json.dumps({"news": "\u4e2d\u6587 text", "label": 0}, ensure_ascii=False).encode() + b"\n",
    json.dumps({"news": "last", "label": 1}).encode(),  # no trailing newline
]


@pytest.fixture
def summary(tmp_path: Path):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"news": f"t{i}", "label": i % 2}) + "\n" for i in range(8)))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(BAD_INPUT))
    (tmp_path / "run").mkdir()
    paths = {"train": train, "dev": bad, "test": bad}
    return validate_splits.fn(paths, "news", "label", 1.0, RunDir(path=tmp_path / "run")), bad


def test_rows_file_equals_what_parsing_yields_row_for_row(summary):
    data, bad = summary
    labels = data.labels
    parsed = [item for item in read_lines(bad, "news", "label")
              if isinstance(item, Row) and labels.id_of(item.label) is not None]
    stored = pq.read_table(data.splits["dev"].rows_file).to_pydict()
    assert stored["line"] == [row.line for row in parsed] == [1, 4, 9, 12, 15, 16]
    assert stored["text"] == [row.text for row in parsed]
    assert stored["label"] == [str(row.label) for row in parsed]
    assert stored["chars"] == [len(row.text) for row in parsed]
    assert stored["key"] == text_keys([row.text for row in parsed]).tolist()
    split = data.splits["dev"]
    assert split.valid_rows == len(parsed) and split.rejected_rows + split.valid_rows + split.blank_lines == 16
    assert label_ids(pq.read_table(split.rows_file).column("label"), labels).tolist() == [
        labels.id_of(row.label) for row in parsed]


def test_equal_keys_mean_equal_normalised_texts(summary):
    data, _ = summary
    table = read_columns(data.splits["dev"].rows_file, ["key", "text"])
    keys, texts = table.column("key").to_pylist(), table.column("text").to_pylist()
    assert keys[1] == keys[3] and normalize(texts[1]) == normalize(texts[3])  # full-width copy, trailing space
    assert len(set(keys)) == len({normalize(t) for t in texts}) == 5
    assert data.quality["dev"].duplicate_examples == ((12, 4),)


def test_batches_cross_row_groups_in_order_and_leave_out_excluded_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(row_store, "GROUP_ROWS", 3)  # several row groups from a small file
    train = tmp_path / "t.jsonl"
    train.write_text("".join(json.dumps({"news": f"text {i}", "label": i % 3}) + "\n" for i in range(11)))
    (tmp_path / "run").mkdir()
    data = validate_splits.fn({"train": train, "dev": train, "test": train}, "news", "label", 0.0,
                              RunDir(path=tmp_path / "run"))
    path = data.splits["train"].rows_file
    assert pq.ParquetFile(path).num_row_groups == 4
    batches = list(iter_batches(path, ["line", "text"], excluded=(2, 5, 6), batch_rows=2))
    # Batches end at row groups too ([1,2] [3] | [4,5] [6] | ...); [6] left out entirely is not yielded.
    assert [b.num_rows for b in batches] == [1, 1, 1, 2, 1, 2]
    lines = [line for b in batches for line in b.column("line").to_pylist()]
    assert lines == [1, 3, 4, 7, 8, 9, 10, 11]
    assert [t for b in batches for t in b.column("text").to_pylist()] == [f"text {n - 1}" for n in lines]
    assert next(b.schema.names for b in iter_batches(path, ["text"], excluded=(1,))) == ["text"]


def test_label_ids_refuse_a_label_outside_the_set():
    labels = LabelSet(names=("neg", "pos"), kind="str")
    assert label_ids(pa.array(["pos", "neg"]), labels).tolist() == [1, 0]
    with pytest.raises(ValueError, match="outside"):
        label_ids(pa.array(["pos", "mid"]), labels)


def test_text_keys_are_stable_64_bit_and_empty_safe():
    keys = text_keys(["好", " 好", "ＯＫ", "OK", "差"])
    assert keys.dtype == np.uint64 and keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[4]
    assert text_keys(["好"])[0] == keys[0]  # the same text, the same key, whatever else is in the batch
    assert text_keys([]).shape == (0,)
