"""Shared fixtures: the tiny random LLaVA is built once per test session, offline."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Path of a tiny random LLaVA checkpoint (CLIP 32px/8px patches + 2-layer Llama)."""
    from llava_cli.tiny import build_tiny_llava

    return str(build_tiny_llava(tmp_path_factory.mktemp("tiny-llava")))


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    """The tiny model loaded once in float32 (exact comparisons), shared read-only by tests."""
    from llava_cli.config import ModelConfig
    from llava_cli.model import load_model

    return load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32"))


@pytest.fixture(scope="session")
def cli_app():
    from llava_cli.cli import app, quiet_libraries
    from llava_cli.commands import register_all

    quiet_libraries()
    return register_all(app)


def make_image(path, size=(48, 40), seed=0, mode="RGB"):
    """Write a random image file and return its path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr).convert(mode) if mode != "RGB" else Image.fromarray(arr)
    img.save(path)
    return path


def make_video(path, frames=30, fps=10.0, size=(64, 48), static=False):
    """Write an mp4 with OpenCV; frame i is uniformly grey level (8*i) % 256 unless `static`."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        level = 100 if static else (8 * i) % 256
        frame = np.full((size[1], size[0], 3), level, dtype=np.uint8)
        writer.write(frame)
    writer.release()
    return path
