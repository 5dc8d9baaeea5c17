"""Fixtures for finetune tests: a trainable tiny base (initializer_range 0.2, widths that are
multiples of 64 so 4-bit works) and a small shapes data set, each built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune_factories import TRAINABLE_SPEC, load_example


@pytest.fixture(scope="session")
def trainable_base(tmp_path_factory) -> str:
    from llava_cli.testing.tiny import TinyLlavaSpec, build_tiny_llava

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
    from llava_cli.model.loading import load_processor

    return load_processor(ModelConfig(model=trainable_base))
