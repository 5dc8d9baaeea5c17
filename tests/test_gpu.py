"""Checks that need a CUDA GPU (run by benchmarks/gpu_check.sh on a lent machine; skipped elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.classify.api import Classifier
from llava_cli.config import ModelConfig
from llava_cli.model.loading import load_model

pytestmark = pytest.mark.gpu
LABELS = ["shooting", "dribbling", "passing", "pass"]


def _images(n=6):
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)) for _ in range(n)]


def test_auto_device_and_dtype_on_gpu(tiny_model_dir):
    loaded = load_model(ModelConfig(model=tiny_model_dir))
    assert loaded.device.type == "cuda"
    assert loaded.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


def test_gpu_probabilities_match_cpu(tiny_model_dir, tiny_loaded):
    images = _images()
    cpu = Classifier(tiny_loaded, LABELS).predict_proba(images)
    gpu32 = Classifier(load_model(ModelConfig(model=tiny_model_dir, device="cuda", dtype="float32")), LABELS)
    assert torch.allclose(gpu32.predict_proba(images), cpu, atol=1e-4)
    bf16 = Classifier(load_model(ModelConfig(model=tiny_model_dir, device="cuda", dtype="bfloat16")), LABELS)
    assert torch.allclose(bf16.predict_proba(images), cpu, atol=3e-2)


def test_4bit_load_keeps_vision_and_projector_unquantized(tiny_model_dir):
    pytest.importorskip("bitsandbytes")
    loaded = load_model(ModelConfig(model=tiny_model_dir, device="cuda", load_in_4bit=True))
    names = {n for n, m in loaded.model.named_modules() if type(m).__name__ == "Linear4bit"}
    assert names and not any("vision_tower" in n or "multi_modal_projector" in n or n == "lm_head" for n in names)
    probs = Classifier(loaded, LABELS).predict_proba(_images(2))
    assert torch.allclose(probs.sum(-1), torch.ones(2), atol=1e-4)


def test_float8_on_a_float8_gpu(tiny_model_dir):
    """The real --dtype float8 path (torchao's own GPU check included) where the GPU has float8 units."""
    pytest.importorskip("torchao")
    if torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("float8 needs compute capability 8.9+")
    images = _images(4)
    bf16 = Classifier(load_model(ModelConfig(model=tiny_model_dir, device="cuda", dtype="bfloat16")), LABELS)
    f8 = Classifier(load_model(ModelConfig(model=tiny_model_dir, device="cuda", dtype="float8")), LABELS)
    p_bf16, p_f8 = bf16.predict_proba(images), f8.predict_proba(images)
    assert torch.allclose(p_f8.sum(-1), torch.ones(4), atol=1e-4)
    assert (p_f8 - p_bf16).abs().max() < 0.05

