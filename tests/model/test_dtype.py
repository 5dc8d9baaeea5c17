"""`--dtype auto` on CPU picks the dtype that is faster here, not merely the one the CPU supports."""

from __future__ import annotations

import torch

from llava_cli.model import device as device_mod


def test_auto_dtype_on_cpu_follows_measured_speed(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_mod, "cpu_bf16_is_faster", lambda: True)
    assert device_mod.resolve_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(device_mod, "cpu_bf16_is_faster", lambda: False)
    assert device_mod.resolve_dtype("auto", cpu) == torch.float32
    assert device_mod.resolve_dtype("bfloat16", cpu) == torch.bfloat16  # explicit choice wins


def test_cpu_bf16_is_faster_needs_bf16_support(monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_supports_bf16", lambda: False)
    assert device_mod.cpu_bf16_is_faster() is False
    monkeypatch.setattr(device_mod, "cpu_supports_bf16", lambda: True)
    assert isinstance(device_mod.cpu_bf16_is_faster(), bool)
