"""Fixtures for the per-family tiny checkpoints (llava_cli.testing.families), each built once per
session. `family_checkpoint` and `family_loaded` are meant to be lifted into tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def family_checkpoint(tmp_path_factory):
    """Factory: `family_checkpoint(name, **build_kwargs) -> Path`; each (name, kwargs) is built once
    per session (kwargs as for llava_cli.testing.families.build_family)."""
    from llava_cli.testing.families import build_family

    built: dict[tuple, Path] = {}

    def get(name: str, **kwargs) -> Path:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in built:
            built[key] = build_family(name, tmp_path_factory.mktemp(name), **kwargs)
        return built[key]

    return get


@pytest.fixture(scope="session")
def family_loaded(family_checkpoint):
    """Factory: `family_loaded(name, **build_kwargs) -> (processor, model)`, loaded once per session
    (float32, eval) and shared read-only."""
    from transformers import AutoModelForImageTextToText

    from llava_cli.testing.families import load_processor

    loaded: dict[tuple, tuple] = {}

    def get(name: str, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in loaded:
            path = family_checkpoint(name, **kwargs)
            model = AutoModelForImageTextToText.from_pretrained(path).eval()
            loaded[key] = (load_processor(path), model)
        return loaded[key]

    return get
