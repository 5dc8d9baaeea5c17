"""Shared constants and helpers of the finetune tests (importable, unlike conftest)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["red", "green", "blue", "yellow"]
TRAINABLE_SPEC = dict(initializer_range=0.2, text_hidden=64, text_heads=4, text_kv_heads=4, intermediate=128)


def load_example(name: str):
    """Import examples/shapes/<name>.py (the example scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"shapes_{name}", ROOT / "examples" / "shapes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finetune_config(**values):
    from llava_cli.finetune.config import FinetuneConfig

    defaults = dict(device="cpu", dtype="float32", quiet=True, save_steps=1000, logging_steps=1, lora_r=8, lora_alpha=16)
    return FinetuneConfig(**{**defaults, **values}).validate()
