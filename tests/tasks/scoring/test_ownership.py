"""Every file that can sit at an output's path before a run is left byte-identical or is one we can prove we wrote."""

import json
from pathlib import Path

import pytest

import tasks.scoring.publish as publish_module
from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tasks.scoring.files import OutputPaths
from tasks.scoring.score import score_file
from tasks.scoring.verify import verify_scored
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier

OUTPUTS = ("predictions", "rejects", "manifest", "parquet")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    texts = [r["news"] for r in learnable_rows([0, 1], 100, seed=1)]
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LabelSet(names=("0", "1"), kind="int"),
                                texts)


def write_input(path: Path, seed: int, bad: bool = True) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in learnable_rows([0, 1], 12, seed=seed)]
    if bad:
        lines[1] = "{not json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config(out: Path) -> ScoreConfig:
    return ScoreConfig(output_dir=out, write_parquet=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("planted", OUTPUTS)
def test_a_users_file_at_an_output_path_is_never_replaced(tmp_path, model_dir, planted):
    source = write_input(tmp_path / "in/d.jsonl", seed=2)
    out = tmp_path / "out"
    target = getattr(OutputPaths.of(source, out), planted)
    target.parent.mkdir(parents=True)
    target.write_text('{"mine": true}\n')
    before = snapshot(out)
    result = score_file.fn(source, model_dir, config(out))
    assert result.status == "refused" and str(target) in result.warning
    assert snapshot(out) == before | {".d.lock": b""}  # the empty lock is the only thing created


def test_a_user_edit_of_our_predictions_makes_them_theirs(tmp_path, model_dir):
    source = write_input(tmp_path / "in/d.jsonl", seed=2)
    out = tmp_path / "out"
    first = score_file.fn(source, model_dir, config(out))
    with open(first.predictions, "a", encoding="utf-8") as fh:
        fh.write('{"note": "added by hand"}\n')
    write_input(source, seed=3)  # the input changes: it would be scored again
    before = snapshot(out)
    result = score_file.fn(source, model_dir, config(out))
    assert result.status == "refused" and "changed since this scorer wrote it" in result.warning
    assert snapshot(out) == before


@pytest.mark.parametrize("second", ["same name, other folder", "other root"])
def test_an_output_of_another_input_path_is_never_replaced(tmp_path, model_dir, second):
    out = tmp_path / "out"
    first = write_input(tmp_path / "x/a.jsonl", seed=2)
    other = write_input(tmp_path / ("y/a.jsonl" if second.startswith("same") else "z/a.jsonl"), seed=3)
    assert score_file.fn(first, model_dir, config(out)).status == "scored"
    before = snapshot(out)
    result = score_file.fn(other, model_dir, config(out))
    assert result.status == "refused" and str(first) in result.warning and str(other) in result.warning
    assert snapshot(out) == before
    assert verify_scored(out / "a.manifest.json") == []


def test_our_outputs_are_replaced_and_stale_ones_retired(tmp_path, model_dir):
    source = write_input(tmp_path / "in/d.jsonl", seed=2, bad=True)
    out = tmp_path / "out"
    score_file.fn(source, model_dir, config(out))
    paths = OutputPaths.of(source, out)
    assert paths.rejects.exists()
    write_input(source, seed=2, bad=False)  # fixed: no rejects this time, the old rejects file would lie
    assert score_file.fn(source, model_dir, config(out)).status == "scored"
    assert not paths.rejects.exists() and verify_scored(paths.manifest) == []


class Died(BaseException):
    """A kill at one instant of publishing (a BaseException, like the signal that would end the process)."""


@pytest.mark.parametrize("steps", range(6))
def test_a_kill_at_any_step_of_publishing_leaves_only_provable_files(tmp_path, model_dir, monkeypatch, steps):
    """A run replacing an old run's outputs (with rejects and Parquet) dies after ``steps`` file operations."""
    source = write_input(tmp_path / "in/d.jsonl", seed=2, bad=True)
    out, clean = tmp_path / "out", tmp_path / "clean"
    score_file.fn(source, model_dir, config(out))
    write_input(source, seed=5, bad=False)  # new input: new predictions and Parquet, and no rejects
    done = []

    def counted(function):
        def call(*args, **kwargs):
            if len(done) == steps:
                raise Died()
            done.append(function.__name__)
            return function(*args, **kwargs)
        return call

    with monkeypatch.context() as patch:
        patch.setattr(publish_module, "write_json", counted(publish_module.write_json))
        patch.setattr(publish_module, "replace", counted(publish_module.replace))
        patch.setattr(publish_module, "unlink", counted(publish_module.unlink))
        if steps < 5:  # five operations: manifest (writing), two renames, retire the rejects, manifest (complete)
            with pytest.raises(Died):
                score_file.fn(source, model_dir, config(out))
        else:
            score_file.fn(source, model_dir, config(out))
    assert read_json(out / "d.manifest.json")["scorer"] == "score-jsonl"
    rerun = score_file.fn(source, model_dir, config(out))
    assert rerun.status == ("skipped" if steps >= 5 else "scored")
    score_file.fn(source, model_dir, config(clean))
    ours, reference = snapshot(out), snapshot(clean)
    for name in ("d.pred.jsonl", "d.pred.parquet"):
        assert ours[name] == reference[name], name
    assert set(ours) == set(reference) and not list(out.glob(".*.tmp"))
    assert verify_scored(out / "d.manifest.json") == []
