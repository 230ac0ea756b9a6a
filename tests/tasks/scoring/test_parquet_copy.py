"""tasks/scoring/parquet_copy.py: every row and field reaches Parquet, whatever types the rows mix and wherever
they change."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.scoring.parquet_copy import write_parquet_copy


def test_a_field_that_appears_or_changes_type_late_in_the_file_is_kept(tmp_path):
    rows = [{"id": i, "news": "好" * 3, "score": i} for i in range(50)]
    rows.append({"id": 50, "news": "新", "score": 2.5, "late": {"k": 1}})  # after the first chunk of 16 rows
    rows.append({"id": 51, "news": "再", "score": None, "late": {"k": 2, "j": "x"}})
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    schema = write_parquet_copy(jsonl, tmp_path / "p.parquet", rows=16)
    assert schema.field("id").type == pa.int64() and schema.field("score").type == pa.float64()
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.num_rows == 52 and table.column("late").to_pylist()[:50] == [None] * 50
    assert table.column("late").to_pylist()[50:] == [{"k": 1, "j": None}, {"k": 2, "j": "x"}]
    assert table.column("score").to_pylist()[-3:] == [49.0, 2.5, None]


def test_a_field_holding_clashing_types_is_stored_as_its_json_text(tmp_path):
    rows = [{"id": 1, "meta": 5}, {"id": 2, "meta": "five"}, {"id": 3, "meta": [1, "x"]}, {"id": 4, "meta": None}]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    write_parquet_copy(jsonl, tmp_path / "p.parquet", rows=2)
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column("id").type == pa.int64()
    assert table.column("meta").to_pylist() == ["5", '"five"', '[1, "x"]', None]


def test_integers_stay_integers_when_other_rows_have_null(tmp_path):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"n": 1}\n{"n": null}\n{"n": 3}\n', encoding="utf-8")
    write_parquet_copy(jsonl, tmp_path / "p.parquet")
    column = pq.read_table(tmp_path / "p.parquet").column("n")
    assert column.type == pa.int64() and column.to_pylist() == [1, None, 3]
