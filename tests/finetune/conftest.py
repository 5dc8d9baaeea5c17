"""Fixtures for finetune tests: a trainable tiny base (initializer_range 0.2, widths that are
multiples of 64 so 4-bit works) and a small shapes data set, each built once per session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["red", "green", "blue", "yellow"]
TRAINABLE_SPEC = dict(initializer_range=0.2, text_hidden=64, text_heads=4, text_kv_heads=4, intermediate=128)


def load_example(name: str):
    """Import examples/shapes/<name>.py (the example scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"shapes_{name}", ROOT / "examples" / "shapes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def trainable_base(tmp_path_factory) -> str:
    from llava_cli.tiny import TinyLlavaSpec, build_tiny_llava

    spec = load_example("make_base").SHAPES_SPEC
    assert spec == TRAINABLE_SPEC
    return str(build_tiny_llava(tmp_path_factory.mktemp("trainable-base"), TinyLlavaSpec(**spec)))


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory) -> Path:
    """train/ and val/ folders per colour, train.csv, val.csv, captions.csv (24 + 8 images per class)."""
    return load_example("make_shapes").make(tmp_path_factory.mktemp("shapes"), 24, 8, seed=1)


@pytest.fixture(scope="session")
def processor(trainable_base):
    from llava_cli.config import ModelConfig
    from llava_cli.model import load_processor

    return load_processor(ModelConfig(model=trainable_base))


def finetune_config(**values):
    from finetune.config import FinetuneConfig

    defaults = dict(device="cpu", dtype="float32", quiet=True, save_steps=1000, logging_steps=1, lora_r=8, lora_alpha=16)
    return FinetuneConfig(**{**defaults, **values}).validate()
