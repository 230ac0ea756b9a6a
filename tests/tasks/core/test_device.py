import pytest
import torch

import tasks.core.device as device


@pytest.mark.parametrize(("has_bf16", "precision", "expected"), [
    (True, "auto", None),  # CPU training stays fp32 unless asked (inference measures: tasks/training/precision.py)
    (False, "auto", None),  # emulated bf16 would be ~20x slower
    (True, "bf16", torch.bfloat16),
    (True, "fp32", None),
])
def test_cpu_training_precision_follows_the_hardware(monkeypatch, has_bf16, precision, expected):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: has_bf16)
    assert device.autocast_dtype(torch.device("cpu"), precision) is expected


def test_asking_for_bf16_without_hardware_support_is_an_error(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    with pytest.raises(ValueError, match="no fast bf16"):
        device.autocast_dtype(torch.device("cpu"), "bf16")


def test_token_budget_defaults_and_override():
    cpu = torch.device("cpu")
    assert device.token_budget(cpu, None) == 2048
    assert device.token_budget(cpu, torch.bfloat16) == 8192
    assert device.token_budget(cpu, None, override=512) == 512


def test_cuda_is_refused_where_there_is_none():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        device.pick_device("cuda")
    assert device.pick_device("auto").type == "cpu"
