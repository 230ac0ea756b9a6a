"""tasks/scoring/inputs.py: what --inputs picks up, where each file's outputs go, and what is left out and why."""

from pathlib import Path

import pytest

from tasks.core.errors import DataError
from tasks.scoring.files import OutputPaths
from tasks.scoring.inputs import find_inputs, inputs_to_score


def touch(path: Path, text: str = '{"news": "好"}\n') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def relatives(listing) -> list[str]:
    return [str(item.relative) for item in listing.files]


def skipped(listing) -> dict[str, str]:
    return {item.path.name: item.reason for item in listing.skipped}


def test_a_directory_is_its_top_level_jsonl_files_in_any_case_and_the_rest_is_listed_with_reasons(tmp_path):
    for name in ("b.jsonl", "a.jsonl", "C.JSONL", "notes.txt", ".hidden.jsonl", "sub/deep.jsonl"):
        touch(tmp_path / "in" / name)
    listing = find_inputs(str(tmp_path / "in"), tmp_path / "out")
    assert relatives(listing) == ["C.JSONL", "a.jsonl", "b.jsonl"]
    reasons = skipped(listing)
    assert reasons["notes.txt"] == "not named *.jsonl" and reasons[".hidden.jsonl"] == "a hidden file"
    assert reasons["sub"].startswith("a folder: only the top level") and "'DIR/**/*.jsonl'" in reasons["sub"]
    assert OutputPaths.of(listing.files[0].path, tmp_path / "out", listing.files[0].relative).predictions.name == \
        "C.pred.jsonl"


def test_same_named_files_in_subfolders_get_outputs_in_mirrored_subfolders(tmp_path):
    touch(tmp_path / "in/a.jsonl")
    touch(tmp_path / "in/sub/a.jsonl")
    touch(tmp_path / "in/sub/deeper/a.jsonl")
    listing = inputs_to_score(str(tmp_path / "in/**/*.jsonl"), tmp_path / "out")
    assert relatives(listing) == ["a.jsonl", "sub/a.jsonl", "sub/deeper/a.jsonl"]
    outputs = {OutputPaths.of(i.path, tmp_path / "out", i.relative).predictions for i in listing.files}
    assert outputs == {tmp_path / "out/a.pred.jsonl", tmp_path / "out/sub/a.pred.jsonl",
                       tmp_path / "out/sub/deeper/a.pred.jsonl"}


def test_a_symlink_keeps_its_own_name_and_a_dangling_one_is_reported(tmp_path):
    touch(tmp_path / "elsewhere/a.jsonl", '{"news": "other"}\n')
    touch(tmp_path / "in/a.jsonl")
    (tmp_path / "in/b.jsonl").symlink_to(tmp_path / "elsewhere/a.jsonl")  # its target shares a.jsonl's name
    (tmp_path / "in/gone.jsonl").symlink_to(tmp_path / "missing.jsonl")
    listing = inputs_to_score(str(tmp_path / "in"), tmp_path / "out")
    assert relatives(listing) == ["a.jsonl", "b.jsonl"]
    assert listing.files[1].path == tmp_path / "in/b.jsonl"  # not resolved to .../elsewhere/a.jsonl
    assert skipped(listing) == {"gone.jsonl": f"a dangling symlink (to {tmp_path / 'missing.jsonl'})"}
    with pytest.raises(DataError, match="dangling symlink"):
        find_inputs(str(tmp_path / "in/gone.jsonl"), tmp_path / "out")


def test_the_scorers_own_outputs_are_never_inputs_so_the_input_folder_can_be_the_output_folder(tmp_path):
    folder = tmp_path / "data"
    touch(folder / "a.jsonl")
    for name in ("a.pred.jsonl", "a.rejects.jsonl", ".a.lock", "a.manifest.json"):  # what a scoring run left
        touch(folder / name, "")
    listing = inputs_to_score(str(folder), folder)
    assert relatives(listing) == ["a.jsonl"]
    assert skipped(listing)["a.pred.jsonl"] == skipped(listing)["a.rejects.jsonl"] == "an output of this scorer"
    # The same names elsewhere, without a scoring lock beside them, are a user's files and are scored.
    touch(tmp_path / "other/x.pred.jsonl")
    assert relatives(inputs_to_score(str(tmp_path / "other"), folder)) == ["x.pred.jsonl"]


def test_two_inputs_that_would_share_an_output_are_refused_by_name(tmp_path):
    touch(tmp_path / "in/a.jsonl")
    touch(tmp_path / "in/a.JSONL")
    with pytest.raises(DataError, match=r"would write the same output.*a\.JSONL.*a\.jsonl"):
        inputs_to_score(str(tmp_path / "in"), tmp_path / "out")


def test_a_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        find_inputs(str(tmp_path / "missing"), tmp_path / "out")
    assert find_inputs(str(tmp_path / "*.jsonl"), tmp_path / "out").files == ()
