"""tasks/core/config.py and score_config.py: options checked when a config is built, not when a run needs them."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

import tasks.core.score_config
from tasks.core.config import PretrainConfig, ScoreConfig, TrainConfig
from tasks.core.truncation import Truncation

REPO = Path(__file__).resolve().parents[3]
CONFIGS = [TrainConfig, PretrainConfig, ScoreConfig]


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.parametrize("model", CONFIGS)
@pytest.mark.parametrize(("given", "kept"), [("auto", "auto"), ("cpu", "cpu"), (" CPU ", "cpu")])
def test_auto_and_cpu_are_always_accepted(model, given, kept, no_cuda):
    assert model(device=given).device == kept


@pytest.mark.parametrize("model", CONFIGS)
@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cuda:-1", "tpu", ""])
def test_an_unknown_device_is_refused_with_the_names_that_work(model, name):
    with pytest.raises(ValidationError, match="unknown device.*'auto'.*'cpu', 'cuda', 'cuda:N' or 'mps'") as exc:
        model(device=name)
    assert exc.value.errors()[0]["loc"] == ("device",)


@pytest.mark.parametrize("model", CONFIGS)
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_refused_when_the_config_is_built(model, name, no_cuda):
    with pytest.raises(ValidationError, match=f"--device {name}: CUDA is not available on this machine; use "
                                              "--device cpu or auto"):
        model(device=name)


@pytest.mark.parametrize("model", CONFIGS)
def test_cuda_devices_this_machine_has_are_accepted_and_others_named(model, two_gpus):
    assert model(device="cuda").device == "cuda" and model(device="cuda:1").device == "cuda:1"
    with pytest.raises(ValidationError, match=r"--device cuda:2: this machine has 2 CUDA device\(s\), cuda:0 to "
                                              "cuda:1"):
        model(device="cuda:2")


@pytest.mark.parametrize("model", [TrainConfig, ScoreConfig])
def test_on_a_dask_cluster_the_workers_devices_count_not_this_machines(model, no_cuda):
    assert model(device="cuda", dask_address="tcp://gpu-host:8786").device == "cuda"
    with pytest.raises(ValidationError, match="unknown device"):
        model(device="gpu", dask_address="tcp://gpu-host:8786")


def test_building_a_cpu_or_auto_config_does_not_load_torch():
    code = ("import sys; from tasks.core.config import ScoreConfig, TrainConfig; TrainConfig(); "
            "ScoreConfig(device='cpu'); TrainConfig().pretrain_config(); assert 'torch' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_score_config_lives_in_its_own_module_and_is_still_importable_from_config():
    assert ScoreConfig is tasks.core.score_config.ScoreConfig
    assert ScoreConfig().model_dump() == ScoreConfig.model_validate(ScoreConfig().model_dump(mode="json")).model_dump()


@pytest.mark.parametrize(("options", "message"), [
    ({"drift_psi_watch": 0.3, "drift_psi_alert": 0.2}, "--drift_psi_alert 0.2 is below --drift_psi_watch 0.3"),
    ({"dask_address": "tcp://h:8786", "dask_workers": 2}, "not both"),
    ({"chunk_rows": 0}, "greater than 0"),
    ({"inputs": ""}, "at least 1 character"),
    ({"text_field": ""}, "at least 1 character"),
    ({"drift_alpha": 1.0}, "less than 1"),
])
def test_score_options_out_of_bounds_or_at_odds_are_refused(options, message):
    with pytest.raises(ValidationError, match=message):
        ScoreConfig(**options)


def test_equal_drift_thresholds_are_allowed():
    assert ScoreConfig(drift_psi_watch=0.2, drift_psi_alert=0.2).drift_psi_alert == 0.2


@pytest.mark.parametrize("model", CONFIGS)
@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_bf16_on_a_cpu_without_native_bf16_is_refused_when_the_config_is_built(model, device, no_cuda, monkeypatch):
    import tasks.core.device

    monkeypatch.setattr(tasks.core.device, "cpu_has_bf16", lambda: False)
    with pytest.raises(ValidationError, match="this CPU has no native bf16"):
        model(device=device, precision="bf16")
    assert model(device=device, precision="fp32").precision == "fp32"
    monkeypatch.setattr(tasks.core.device, "cpu_has_bf16", lambda: True)
    assert model(device=device, precision="bf16").precision == "bf16"


def test_what_is_kept_of_a_long_text_is_the_trained_models_own_when_only_testing_it():
    saved = Truncation(mode="head_tail", head_tokens=3)
    assert TrainConfig().truncation_choice(saved) == Truncation()  # training: head unless told
    assert TrainConfig(do_test=True).truncation_choice(saved) == saved
    assert TrainConfig(do_test=True, truncation="tail").truncation_choice(saved) == Truncation(mode="tail")
    assert TrainConfig(truncation="head_tail", head_tokens=7).truncation_choice() == \
        Truncation(mode="head_tail", head_tokens=7)


@pytest.mark.parametrize("make", [TrainConfig, ScoreConfig])
def test_long_text_options_that_would_be_ignored_are_refused(make):
    with pytest.raises(ValidationError, match="--head_tokens is for --truncation head_tail, not tail"):
        make(truncation="tail", head_tokens=4)
    with pytest.raises(ValidationError, match="--head_tokens is for --truncation head_tail"):
        make(head_tokens=4)
    with pytest.raises(ValidationError, match="--window_stride is for --long_texts window"):
        make(window_stride=8)
    assert make(truncation="head_tail", head_tokens=0, long_texts="window", window_stride=8).window_stride == 8
