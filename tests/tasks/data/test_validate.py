"""tasks/data/validate.py: label sets from train, per-split accounting, rejects files and bad-row limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.core.errors import DataError
from tasks.core.files import sha256_file
from tasks.core.records import DataSummary, LabelSet, RunDir
from tasks.data.validate import validate_splits


def write(path: Path, lines: list[object]) -> Path:
    """Dicts become JSON lines; strings are written verbatim (for blank or broken lines)."""
    body = "".join((json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x) + "\n" for x in lines)
    path.write_text(body, encoding="utf-8")
    return path


def rows(labels: list[object], prefix: str = "t") -> list[dict]:
    return [{"news": f"{prefix} {i}", "label": label} for i, label in enumerate(labels)]


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    (tmp_path / "run").mkdir()
    return RunDir(path=tmp_path / "run")


def validate(tmp_path: Path, run: RunDir, train: list, dev: list, test: list, fraction: float = 0.0) -> DataSummary:
    paths = {
        name: write(tmp_path / f"{name}.jsonl", lines)
        for name, lines in (("train", train), ("dev", dev), ("test", test))
    }
    return validate_splits.fn(paths, "news", "label", fraction, run)


def test_clean_two_class_int_labels(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows([0, 1, 1, 0]), rows([1, 0]), rows([0, 1, 1]))
    assert summary.labels == LabelSet(names=("0", "1"), kind="int")
    assert summary.labels.value_of(1) == 1
    train = summary.splits["train"]
    assert (train.lines_read, train.valid_rows, train.rejected_rows, train.blank_lines) == (4, 4, 0, 0)
    assert train.rejects_path is None
    assert train.path == (tmp_path / "train.jsonl").resolve()
    assert train.sha256 == sha256_file(tmp_path / "train.jsonl")
    assert summary.splits["test"].valid_rows == 3
    assert not (run.path / "quarantine").exists()


def test_string_labels_sorted_alphabetically(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows(["pos", "neg", "mid", "pos"]), rows(["mid"]), rows(["neg"]))
    assert summary.labels == LabelSet(names=("mid", "neg", "pos"), kind="str")


def test_int_labels_sort_numerically(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows([2, 10, 1]), rows([10]), rows([1]))
    assert summary.labels.names == ("1", "2", "10")
    assert summary.labels.kind == "int"


def test_unknown_dev_label_is_rejected_with_line(tmp_path: Path, run: RunDir):
    dev = [*rows([0, 1], "d"), "", {"news": "odd one", "label": 7}]  # the unknown label is on line 4
    summary = validate(tmp_path, run, rows([0, 1, 0, 1]), dev, rows([0]), fraction=0.5)
    data = summary.splits["dev"]
    assert (data.valid_rows, data.rejected_rows, data.blank_lines, data.lines_read) == (2, 1, 1, 4)
    rejects = [json.loads(x) for x in (run.path / "quarantine" / "dev.jsonl").read_text("utf-8").splitlines()]
    assert len(rejects) == 1
    assert rejects[0]["line"] == 4
    assert "unknown label 7" in rejects[0]["reason"]
    assert json.loads(rejects[0]["raw"]) == {"news": "odd one", "label": 7}


def test_unknown_label_over_the_limit_names_file_and_line(tmp_path: Path, run: RunDir):
    dev = [*rows([0, 1], "d"), {"news": "odd one", "label": 7}]
    with pytest.raises(DataError, match=r"dev\.jsonl.*line 3: unknown label 7: the training labels are 0, 1"):
        validate(tmp_path, run, rows([0, 1]), dev, rows([0]))


def test_rejects_file_holds_every_rejected_row(tmp_path: Path, run: RunDir):
    train = [*rows([0, 1, 0, 1, 0, 1]), "not json", {"news": "", "label": 0}, {"news": "x", "label": True}]
    summary = validate(tmp_path, run, train, rows([0, 1]), rows([1]), fraction=0.5)
    rejects_path = run.path / "quarantine" / "train.jsonl"
    assert summary.splits["train"].rejects_path == rejects_path
    rejects = [json.loads(x) for x in rejects_path.read_text("utf-8").splitlines()]
    assert [r["line"] for r in rejects] == [7, 8, 9]
    assert all(set(r) == {"file", "line", "reason", "raw"} for r in rejects)
    assert {r["file"] for r in rejects} == {str(tmp_path / "train.jsonl")}
    assert rejects[0]["raw"] == "not json" and "not valid JSON" in rejects[0]["reason"]
    assert "is empty" in rejects[1]["reason"]
    assert "got bool" in rejects[2]["reason"]
    assert not (run.path / "quarantine" / "dev.jsonl").exists()


def test_too_many_bad_rows_names_file_and_first_bad_line(tmp_path: Path, run: RunDir):
    train = [*rows([0, 1, 0]), "{broken", *rows([1, 0, 1], "u")]  # 1 of 7 rows bad = 14.3%
    with pytest.raises(DataError) as info:
        validate(tmp_path, run, train, rows([0, 1]), rows([1]), fraction=0.1)
    message = str(info.value)
    assert str(tmp_path / "train.jsonl") in message
    assert "line 4: not valid JSON" in message
    assert "1 of 7 rows rejected" in message
    # the rejects file is written before the limit is enforced, so the user can inspect it
    assert (run.path / "quarantine" / "train.jsonl").is_file()


def test_bad_rows_at_exactly_the_limit_pass(tmp_path: Path, run: RunDir):
    train = [*rows([0, 1, 0]), "{broken"]  # 1 of 4 = 25%
    summary = validate(tmp_path, run, train, rows([0, 1]), rows([1]), fraction=0.25)
    assert summary.splits["train"].rejected_rows == 1


def test_fraction_one_lets_bad_rows_through_and_counts_them(tmp_path: Path, run: RunDir):
    test = ["[1]", "", {"news": "x", "label": 5}, *rows([1, 0]), "  ", "nope", {"news": "y"}]
    summary = validate(tmp_path, run, rows([0, 1]), rows([0, 1]), test, fraction=1.0)
    data = summary.splits["test"]
    assert (data.lines_read, data.valid_rows, data.rejected_rows, data.blank_lines) == (8, 2, 4, 2)
    assert data.lines_read == data.valid_rows + data.rejected_rows + data.blank_lines
    rejects = (run.path / "quarantine" / "test.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(r)["line"] for r in rejects] == [1, 3, 7, 8]


def test_train_mixing_int_and_str_labels_raises(tmp_path: Path, run: RunDir):
    with pytest.raises(DataError, match="mix integers and strings"):
        validate(tmp_path, run, rows([0, "1", 1]), rows([0]), rows([1]))


def test_train_with_single_label_raises(tmp_path: Path, run: RunDir):
    with pytest.raises(DataError, match="at least two labels"):
        validate(tmp_path, run, rows([1, 1, 1]), rows([1]), rows([1]))


@pytest.mark.parametrize("empty_split", ["dev", "test"])
def test_split_without_valid_rows_raises(tmp_path: Path, run: RunDir, empty_split: str):
    lines = {"train": rows([0, 1]), "dev": rows([0]), "test": rows([1])}
    lines[empty_split] = ["", "{bad", {"news": "x", "label": 9}]
    with pytest.raises(DataError, match=rf"{empty_split}\.jsonl: no valid rows in the {empty_split} file"):
        validate(tmp_path, run, lines["train"], lines["dev"], lines["test"], fraction=1.0)


def test_train_without_valid_rows_raises(tmp_path: Path, run: RunDir):
    with pytest.raises(DataError, match=r"train\.jsonl"):
        validate(tmp_path, run, ["", "{bad"], rows([0]), rows([1]), fraction=1.0)


def test_validation_json_is_written(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows(["b", "a"]), rows(["a"]), rows(["b"]))
    written = json.loads((run.path / "validation.json").read_text("utf-8"))
    assert written == summary.model_dump(mode="json")
    assert written["labels"] == {"names": ["a", "b"], "kind": "str"}
    assert set(written["splits"]) == {"train", "dev", "test"}
    assert DataSummary.model_validate(written) == summary


def test_a_string_label_is_not_the_integer_label(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows([1, 0]), [{"news": "x", "label": "1"}, *rows([0])], rows([1]), 1.0)
    assert summary.splits["dev"].rejected_rows == 1
    rejected = json.loads((run.path / "quarantine/dev.jsonl").read_text(encoding="utf-8"))
    assert rejected["line"] == 1
    assert rejected["reason"] == "label '1' is a string, but the training labels are integers (0, 1)"


def test_an_integer_label_where_train_has_strings_is_named_as_a_type_mismatch(tmp_path: Path, run: RunDir):
    summary = validate(tmp_path, run, rows(["neg", "pos"]), [{"news": "x", "label": 1}, *rows(["neg"])],
                       rows(["pos"]), 1.0)
    assert summary.splits["dev"].rejected_rows == 1
    rejected = json.loads((run.path / "quarantine/dev.jsonl").read_text(encoding="utf-8"))
    assert rejected["reason"] == "label 1 is an integer, but the training labels are strings ('neg', 'pos')"


def test_many_rows_with_one_problem_are_reported_once_with_their_lines(tmp_path: Path, run: RunDir):
    dev = [{"news": f"x{i}", "label": str(i % 2)} for i in range(6)] + rows([0, 1])
    with pytest.raises(DataError) as caught:
        validate(tmp_path, run, rows([0, 1]), dev, rows([0]))
    message = str(caught.value)
    assert "lines 1, 3, 5: label '0' is a string, but the training labels are integers (0, 1)" in message
    assert "lines 2, 4, 6: label '1'" in message and message.count("is a string") == 2


def test_a_train_file_with_only_bad_rows_names_the_bad_field_not_the_label_count(tmp_path: Path, run: RunDir):
    wrong_field = [{"text": "好", "label": 1}, {"text": "差", "label": 0}]
    with pytest.raises(DataError, match=r"train.jsonl: no valid rows.*2 rejected"):
        validate(tmp_path, run, wrong_field, wrong_field, wrong_field, 0.5)
    assert "missing text field 'news'" in (run.path / "quarantine/train.jsonl").read_text(encoding="utf-8")


def test_bom_and_crlf_are_accepted_and_reported(tmp_path: Path, run: RunDir):
    (tmp_path / "train.jsonl").write_bytes(b'\xef\xbb\xbf{"news": "a", "label": 0}\r\n{"news": "b", "label": 1}\r\n')
    write(tmp_path / "dev.jsonl", rows([0, 1]))
    write(tmp_path / "test.jsonl", rows([0, 1]))
    paths = {s: tmp_path / f"{s}.jsonl" for s in ("train", "dev", "test")}
    summary = validate_splits.fn(paths, "news", "label", 0.0, run)
    train = summary.splits["train"]
    assert (train.valid_rows, train.utf8_bom, train.crlf_lines) == (2, True, 2)
    assert not summary.splits["dev"].utf8_bom


def test_an_empty_file_fails_at_once_with_its_path(tmp_path: Path, run: RunDir):
    with pytest.raises(DataError, match=r"dev.jsonl: the file is empty"):
        validate(tmp_path, run, rows([0, 1]), [], rows([0, 1]))


def test_on_bad_rows_fail_stops_at_the_first_bad_row_whatever_the_share(tmp_path: Path, run: RunDir):
    paths = {"train": write(tmp_path / "train.jsonl", [*rows([0, 1]), "{oops", *rows([0, 1] * 100, "u")]),
             "dev": write(tmp_path / "dev.jsonl", rows([0])), "test": write(tmp_path / "test.jsonl", rows([1]))}
    assert validate_splits.fn(paths, "news", "label", 0.5, run).splits["train"].rejected_rows == 1
    with pytest.raises(DataError, match=r"line 3: not valid JSON"):
        validate_splits.fn(paths, "news", "label", 0.5, run, on_bad_rows="fail")
    assert (run.path / "quarantine/train.jsonl").is_file()


def leaky(tmp_path: Path) -> dict[str, Path]:
    train = [{"news": f"train {i}", "label": i % 2} for i in range(10)]
    test = [{"news": "train 3", "label": 1}, {"news": "new 1", "label": 0}, {"news": "ｔｒａｉｎ 4", "label": 0}]
    return {"train": write(tmp_path / "train.jsonl", train), "dev": write(tmp_path / "dev.jsonl", rows([0, 1])),
            "test": write(tmp_path / "test.jsonl", test)}


def test_leakage_warn_reports_the_lines_and_keeps_them(tmp_path: Path, run: RunDir):
    summary = validate_splits.fn(leaky(tmp_path), "news", "label", 0.0, run, leakage="warn")
    assert summary.quality["test"].leaked_lines == (1, 3)
    assert summary.splits["test"].excluded_lines == ()
    saved = json.loads((run.path / "validation.json").read_text("utf-8"))
    assert saved["quality"]["test"]["leaked_lines"] == [1, 3] and saved["leakage_policy"] == "warn"


def test_leakage_drop_leaves_the_leaked_rows_out(tmp_path: Path, run: RunDir):
    summary = validate_splits.fn(leaky(tmp_path), "news", "label", 0.0, run, leakage="drop")
    assert summary.splits["test"].excluded_lines == (1, 3)


def test_leakage_fail_says_where_and_what_to_do(tmp_path: Path, run: RunDir):
    with pytest.raises(DataError, match=r"test.jsonl: 2 rows \(first at line 1\).*--leakage drop"):
        validate_splits.fn(leaky(tmp_path), "news", "label", 0.0, run, leakage="fail")


def test_a_test_file_that_is_the_training_file_is_named_before_any_training(tmp_path: Path, run: RunDir, caplog):
    train = rows([0, 1, 0, 1])
    paths = {name: write(tmp_path / f"{name}.jsonl", train if name != "dev" else rows([0, 1], "d"))
             for name in ("train", "dev", "test")}
    with pytest.raises(DataError, match=r"every row of .*test.jsonl also occurs in the training file: --leakage "
                                        r"drop would leave no test row"):
        validate_splits.fn(paths, "news", "label", 0.0, run, leakage="drop")
    summary = validate_splits.fn(paths, "news", "label", 0.0, run, leakage="warn")
    assert summary.quality["test"].leaked_lines == (1, 2, 3, 4)
    assert "every row of" in caplog.text and "leakage-free metrics will be n/a" in caplog.text


CHNSENTICORP = Path(__file__).resolve().parents[4] / "shared/data/chnsenticorp"


@pytest.mark.skipif(not CHNSENTICORP.is_dir(), reason="../shared/data/chnsenticorp not present")
def test_chnsenticorp_shows_its_known_duplicates_leakage_and_conflicts(tmp_path: Path, run: RunDir):
    paths = {s: CHNSENTICORP / f"{s}.jsonl" for s in ("train", "dev", "test")}
    summary = validate_splits.fn(paths, "news", "label", 0.0, run)
    q = summary.quality
    assert q["train"].duplicate_rows == 1351 and q["train"].conflicting_texts == 24
    assert (len(q["dev"].leaked_lines), len(q["test"].leaked_lines)) == (338, 331)
    assert [s.valid_rows for s in summary.splits.values()] == [9600, 1200, 1200]
