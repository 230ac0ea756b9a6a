"""tasks/scoring/inputs.py: what --inputs picks up, where each file's outputs go, and what is left out and why."""

import re
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


GZIP_BYTES = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # a gzip header: compressed data under a .jsonl name
SCORED = "scored"
CASES = {  # name in the input folder -> (what a directory or a glob does with it, what naming it alone does)
    "a.jsonl": (SCORED, SCORED),
    "X.JSONL": (SCORED, SCORED),
    "Mixed.JsonL": (SCORED, SCORED),
    ".hidden.jsonl": ("a hidden file", SCORED),  # named alone: asked for by name
    **{f"a.jsonl{s}": (f"compressed ({s} is not read; decompress it first)",) * 2
       for s in (".gz", ".bz2", ".xz", ".zst", ".zip")},
    "B.JSONL.GZ": ("compressed (.gz is not read; decompress it first)",) * 2,
    "gzipped.jsonl": ("compressed (gzip data is not read; decompress it first)",) * 2,
    "a.pred.jsonl": ("an output of this scorer",) * 2,  # with the scoring lock beside it, in --output_dir
}
MODES = {  # how --inputs names the folder "in" holding one case's file
    "directory": lambda folder, name: str(folder),
    "glob": lambda folder, name: str(folder / "*.jsonl"),
    "recursive glob": lambda folder, name: str(folder / "**" / "*.jsonl"),
    "file": lambda folder, name: str(folder / name),
}


def case_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "in"
    if name == "gzipped.jsonl":
        (folder / name).parent.mkdir(parents=True)
        (folder / name).write_bytes(GZIP_BYTES)
    else:
        touch(folder / name)
    if name.endswith(".pred.jsonl"):
        touch(folder / f".{name.removesuffix('.pred.jsonl')}.lock", "")
    return folder


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(CASES))
def test_every_input_mode_applies_the_same_rules_with_the_same_reasons(tmp_path, mode, name):
    folder = case_folder(tmp_path, name)
    spec = MODES[mode](folder, name)
    expected = CASES[name][1 if mode == "file" else 0]
    if mode == "file" and expected != SCORED:
        with pytest.raises(DataError, match=re.escape(f"--inputs {spec}: not scored, {expected}")):
            inputs_to_score(spec, folder)
        return
    listing = inputs_to_score(spec, folder)
    hidden = {n: r for n, r in skipped(listing).items() if n.startswith(".") and n.endswith(".lock")}
    if expected == SCORED:
        assert relatives(listing) == [name] and skipped(listing) == hidden
    else:
        assert relatives(listing) == [] and skipped(listing) == {name: expected} | hidden


@pytest.mark.parametrize("mode", ["directory", "glob"])
def test_other_names_are_listed_only_where_the_spec_takes_them(tmp_path, mode):
    folder = tmp_path / "in"
    for name in ("a.jsonl", "notes.txt", "backup.tar.gz"):
        touch(folder / name)
    spec = str(folder) if mode == "directory" else str(folder / "*")
    reasons = skipped(find_inputs(spec, tmp_path / "out"))
    assert reasons == {"notes.txt": "not named *.jsonl", "backup.tar.gz": "compressed (.gz is not read; decompress "
                       "it first)"}
    # A narrower glob passes over what it does not name, like a shell, but never a *.jsonl in another case.
    listing = find_inputs(str(folder / "*.jsonl"), tmp_path / "out")
    assert relatives(listing) == ["a.jsonl"] and skipped(listing) == {}


def test_a_glob_for_compressed_files_lists_them_and_never_takes_the_plain_ones(tmp_path):
    touch(tmp_path / "in/a.jsonl")
    touch(tmp_path / "in/b.JSONL.gz")
    listing = find_inputs(str(tmp_path / "in/*.jsonl.gz"), tmp_path / "out")
    assert relatives(listing) == [] and skipped(listing) == {"b.JSONL.gz": "compressed (.gz is not read; "
                                                                            "decompress it first)"}


def test_a_recursive_glob_takes_any_case_below_and_never_enters_a_hidden_folder(tmp_path):
    for name in ("a.jsonl", "sub/B.JSONL", "sub/.c.jsonl", ".cache/d.jsonl"):
        touch(tmp_path / "in" / name)
    listing = find_inputs(str(tmp_path / "in/**/*.jsonl"), tmp_path / "out")
    assert relatives(listing) == ["a.jsonl", "sub/B.JSONL"]
    assert skipped(listing) == {".c.jsonl": "a hidden file"}
