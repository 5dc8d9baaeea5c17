"""Shared fixtures: the tiny random LLaVA is built once per test session, offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Path of a tiny random LLaVA checkpoint (CLIP 32px/8px patches + 2-layer Llama)."""
    from llava_cli.testing.tiny import build_tiny_llava

    return str(build_tiny_llava(tmp_path_factory.mktemp("tiny-llava")))


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    """The tiny model loaded once in float32 (exact comparisons), shared read-only by tests."""
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    return load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32"))


@pytest.fixture(scope="session")
def cli_app():
    from llava_cli.cli import app
    from llava_cli.quiet import quiet_libraries

    quiet_libraries()
    return app


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA: skipped (not deleted) on machines without one."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
