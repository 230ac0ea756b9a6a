"""Output paths are safe: resolved, and nothing the flows did not create is ever deleted or overwritten."""

import json
from pathlib import Path

import pytest

from tasks.core.config import ScoreConfig, TrainConfig
from tasks.core.errors import DataError
from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tasks.core.rundir import create_run_dir
from tasks.scoring.inputs import inputs_to_score
from tasks.scoring.score import score_file
from tasks.scoring.verify import verify_scored
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier

# A user's files in the output folder, some named like (but not exactly as) what scoring writes or cleans up.
USER_FILES = {
    "notes.txt": "mine", "other.jsonl": '{"news": "keep"}\n', ".hidden": "x", "sub/deep.json": "{}",
    "part.pred.jsonl.bak": "backup", ".part.pred.jsonl.backup.tmp": "not a temporary of ours",
    ".part.pred.jsonl.12345678.tmp.keep": "nor this", "part.manifest.json.orig": "{}",
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LabelSet(names=("0", "1"), kind="int"),
                                texts)


def plant(folder: Path, files: dict[str, str]) -> dict[Path, bytes]:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return {folder / name: (folder / name).read_bytes() for name in files}


def test_scoring_into_a_populated_folder_touches_only_its_own_outputs(model_dir, tmp_path):
    out = tmp_path / "out"
    before = plant(out, USER_FILES)
    source = write_jsonl(tmp_path / "in/part.jsonl", learnable_rows([0, 1], 20, seed=3))
    (out / ".part.pred.jsonl.deadbeef.tmp").write_text("half written by a killed run")
    score_file.fn(source, model_dir, ScoreConfig(output_dir=out))
    # The input changes: it is scored again, over its own previous outputs.
    write_jsonl(source, learnable_rows([0, 1], 25, seed=4))
    assert score_file.fn(source, model_dir, ScoreConfig(output_dir=out)).status == "scored"
    assert {path: path.read_bytes() for path in before} == before
    assert not (out / ".part.pred.jsonl.deadbeef.tmp").exists()  # a real leftover temporary is cleaned up
    ours = {"part.pred.jsonl", "part.manifest.json", ".part.lock"}
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(USER_FILES) | ours
    assert verify_scored(out / "part.manifest.json") == [] == verify_scored(str(out / "part.manifest.json"))
    (out / "part.pred.jsonl").write_text("edited\n", encoding="utf-8")
    assert any("sha256 differs" in p for p in verify_scored(str(out / "part.manifest.json")))
    assert verify_scored(str(out / "no.manifest.json"))[0].startswith(f"{out / 'no.manifest.json'}: unreadable")


@pytest.mark.parametrize("spelling", ["symlink", "dotdot"])
def test_an_output_dir_through_a_symlink_or_dotdot_is_resolved(model_dir, tmp_path, spelling):
    real = tmp_path / "real"
    real.mkdir()
    if spelling == "symlink":
        (tmp_path / "link").symlink_to(real, target_is_directory=True)
        given = tmp_path / "link"
    else:
        (tmp_path / "elsewhere").mkdir()
        given = tmp_path / "elsewhere" / ".." / "real"
    source = write_jsonl(tmp_path / "in/part.jsonl", learnable_rows([0, 1], 10, seed=5))
    result = score_file.fn(source, model_dir, ScoreConfig(output_dir=given))
    manifest = read_json(real / "part.manifest.json")
    assert result.predictions == real.resolve() / "part.pred.jsonl"
    assert manifest["output"] == str(real.resolve() / "part.pred.jsonl") and ".." not in manifest["output"]
    assert sorted(p.name for p in (tmp_path / "elsewhere").glob("*")) == []


def test_outputs_that_would_overwrite_an_input_are_refused(tmp_path):
    folder = tmp_path / "data"
    write_jsonl(folder / "a.jsonl", learnable_rows([0, 1], 5, seed=1))
    user = write_jsonl(folder / "a.pred.jsonl", [{"news": "a user's own file that happens to match"}])
    before = user.read_bytes()
    with pytest.raises(DataError, match="would overwrite the input files"):
        inputs_to_score(str(folder), folder)
    with pytest.raises(DataError, match="a.pred.jsonl"):
        inputs_to_score(str(folder), tmp_path / "x" / ".." / "data")  # the same folder, spelled otherwise
    assert user.read_bytes() == before
    listing = inputs_to_score(str(folder), tmp_path / "scored")
    assert [item.path.name for item in listing.files] == ["a.jsonl", "a.pred.jsonl"]


@pytest.mark.parametrize("name", ["../escaped", "a/b", "..", "."])
def test_a_run_name_cannot_leave_the_runs_folder(tmp_path, name):
    with pytest.raises(DataError, match="plain name"):
        create_run_dir.fn(TrainConfig(output_dir=tmp_path / "artifacts", run_name=name))
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "artifacts/runs").exists()


def test_a_run_directory_is_never_reused_or_cleaned(tmp_path):
    before = plant(tmp_path / "artifacts", {"runs/mine/keep.txt": "x", "keep.json": json.dumps({"a": 1})})
    with pytest.raises(FileExistsError):
        create_run_dir.fn(TrainConfig(output_dir=tmp_path / "artifacts", run_name="mine"))
    run = create_run_dir.fn(TrainConfig(output_dir=tmp_path / "artifacts" / "sub" / "..", run_name="new"))
    assert run.path == (tmp_path / "artifacts/runs/new").resolve()
    assert {path: path.read_bytes() for path in before} == before
