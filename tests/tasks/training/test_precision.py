import shutil
from pathlib import Path

import pytest
import torch

import tasks.training.precision as precision
from tasks.core.files import read_json
from tasks.core.records import LabelSet
from tasks.drift.profile import build_profile
from tasks.training.model import set_temperature
from tests.builders import learnable_rows
from tests.pipeline import save_tiny_classifier

LABELS = LabelSet(names=("neg", "pos"), kind="str")
CPU = torch.device("cpu")
TEXTS = [r["news"] for r in learnable_rows([0, 1], 200, seed=1)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model", LABELS, TEXTS)


@pytest.fixture
def model_dir(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def no_probe(_model_dir):
    raise AssertionError("probed although nothing needed measuring")


class FakeProbe:
    def __init__(self, fp32: float, bf16: float):
        self.times, self.calls = {"fp32": fp32, "bf16": bf16}, []

    def __call__(self, model_dir: Path) -> dict[str, float]:
        self.calls.append(model_dir)
        return dict(self.times)


@pytest.mark.parametrize(("has_bf16", "asked", "expected"), [
    (True, "fp32", "fp32"), (False, "fp32", "fp32"), (True, "bf16", "bf16"), (False, "auto", "fp32"),
])
def test_choices_that_need_no_measurement(monkeypatch, tmp_path, model_dir, has_bf16, asked, expected):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: has_bf16)
    monkeypatch.setattr(precision, "probe", no_probe)
    assert precision.inference_precision(model_dir, CPU, asked, tmp_path / "cache") == expected
    assert not (tmp_path / "cache").exists()


def test_bf16_without_hardware_support_is_refused(monkeypatch, tmp_path, model_dir):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    with pytest.raises(ValueError, match="no fast bf16"):
        precision.inference_precision(model_dir, CPU, "bf16", tmp_path)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="no fast bf16"):
        precision.inference_precision(model_dir, torch.device("cuda"), "bf16", tmp_path)


@pytest.mark.parametrize("supported", [True, False])
def test_auto_on_cuda_follows_bf16_support_without_probing(monkeypatch, tmp_path, model_dir, supported):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)
    monkeypatch.setattr(precision, "probe", no_probe)
    got = precision.inference_precision(model_dir, torch.device("cuda"), "auto", tmp_path)
    assert got == ("bf16" if supported else "fp32")


@pytest.mark.parametrize(("fp32", "bf16", "expected"), [
    (1.7, 1.0, "bf16"),  # AMX
    (1.2, 1.0, "bf16"),
    (1.1, 1.0, "fp32"),  # within noise: the exact reference wins
    (1.0, 1.8, "fp32"),  # avx512_bf16 without AMX
])
def test_bf16_must_be_clearly_faster(fp32, bf16, expected):
    assert precision.choose({"fp32": fp32, "bf16": bf16}) == expected


def test_auto_on_a_bf16_cpu_is_measured_once_per_model_and_recorded_outside_the_model(monkeypatch, tmp_path, saved):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    fake = FakeProbe(fp32=0.017, bf16=0.010)
    monkeypatch.setattr(precision, "probe", fake)
    model_dir, cache = Path(shutil.copytree(saved, tmp_path / "model")), tmp_path / "artifacts"
    before = listing(model_dir)
    assert precision.inference_precision(model_dir, CPU, "auto", cache) == "bf16"
    fake.times = {"fp32": 0.010, "bf16": 0.017}  # a second probe would now say fp32
    assert precision.inference_precision(model_dir, CPU, "auto", cache) == "bf16"
    assert len(fake.calls) == 1
    assert listing(model_dir) == before

    records = sorted((cache / "precision").glob("*.json"))
    assert len(records) == 1
    record = read_json(records[0])
    assert record["choice"] == "bf16" and record["seconds"] == {"fp32": 0.017, "bf16": 0.010}
    assert record["key"] == precision.key_parts(model_dir)
    assert record["key"]["torch"] == torch.__version__

    other = save_tiny_classifier(tmp_path / "other", LABELS, TEXTS, seed=1)  # other weights: measured anew
    assert precision.inference_precision(other, CPU, "auto", cache) == "fp32"
    assert len(fake.calls) == 2 and len(list((cache / "precision").glob("*.json"))) == 2


def test_calibration_and_profile_keep_the_choice_of_the_same_weights(monkeypatch, tmp_path, model_dir):
    """Temperature and profile change model_digest between the train flow's steps, not the weights' choice."""
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    fake = FakeProbe(fp32=0.017, bf16=0.010)
    monkeypatch.setattr(precision, "probe", fake)
    cache = tmp_path / "artifacts"
    first = precision.inference_precision(model_dir, CPU, "auto", cache)
    set_temperature(model_dir, 1.7)
    (model_dir / "profile.json").write_text("{}", encoding="utf-8")
    assert precision.inference_precision(model_dir, CPU, "auto", cache) == first
    assert len(fake.calls) == 1


def test_another_thread_count_keeps_the_choice_so_both_flows_label_alike(monkeypatch, tmp_path, model_dir):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    fake = FakeProbe(fp32=0.017, bf16=0.010)
    monkeypatch.setattr(precision, "probe", fake)
    first = precision.inference_precision(model_dir, CPU, "auto", tmp_path)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # a Dask worker's share of the cores
    assert precision.inference_precision(model_dir, CPU, "auto", tmp_path) == first
    assert len(fake.calls) == 1


def test_the_real_probe_times_both_precisions_and_its_choice_follows_the_times(monkeypatch, tmp_path, model_dir):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    before = listing(model_dir)
    choice = precision.inference_precision(model_dir, CPU, "auto", tmp_path)
    (path,) = (tmp_path / "precision").glob("*.json")
    record = read_json(path)
    assert 0 < record["seconds"]["fp32"] < 2 and 0 < record["seconds"]["bf16"] < 2
    assert choice == record["choice"] == precision.choose(record["seconds"])
    assert listing(model_dir) == before


def test_the_reference_profile_uses_the_recorded_choice(monkeypatch, tmp_path, model_dir):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    fake = FakeProbe(fp32=0.017, bf16=0.010)
    monkeypatch.setattr(precision, "probe", fake)
    used = []
    monkeypatch.setattr("tasks.drift.profile.predict_logits",
                        lambda *a, **kw: used.append(a[5]) or torch.zeros(len(a[1]), 2).numpy())
    build_profile(model_dir, TEXTS[:8], [0, 1] * 4, [4, 4], device="cpu", cache_dir=tmp_path / "artifacts")
    assert used == [torch.bfloat16] and len(fake.calls) == 1
    assert len(list((tmp_path / "artifacts" / "precision").glob("*.json"))) == 1


def test_dtype_of():
    assert precision.dtype_of("bf16") is torch.bfloat16
    assert precision.dtype_of("fp32") is None
