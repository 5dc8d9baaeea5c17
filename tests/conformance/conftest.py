"""One tiny checkpoint per published llava-hf family, built once per session on first use."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    """family name -> folder of its tiny checkpoint (built on first request)."""
    from llava_cli.testing.families import build_family

    built: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in built:
            built[name] = str(build_family(name, tmp_path_factory.mktemp(name)))
        return built[name]

    return get


@pytest.fixture(scope="session")
def family_processor(family_dir):
    """family name -> its processor, loaded from the saved checkpoint as llava-cli loads it."""
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_processor

    loaded: dict[str, object] = {}

    def get(name: str):
        if name not in loaded:
            loaded[name] = load_processor(ModelConfig(model=family_dir(name)))
        return loaded[name]

    return get
