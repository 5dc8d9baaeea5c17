"""--load-in-4bit / --load-in-8bit on CPU (bitsandbytes): the language model is quantized, the vision
tower, projector and lm_head are not, and probabilities stay close to the full-precision ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.classify.api import Classifier
from llava_cli.config import ModelConfig
from llava_cli.model.loading import load_model

pytest.importorskip("bitsandbytes")
LABELS = ["shooting", "dribbling", "passing"]


@pytest.mark.parametrize(("flag", "layer"), [("load_in_4bit", "Linear4bit"), ("load_in_8bit", "Linear8bitLt")])
def test_quantized_classify(tiny_model_dir, tiny_loaded, flag, layer):
    loaded = load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32", **{flag: True}))
    quantized = {n for n, m in loaded.model.named_modules() if type(m).__name__ == layer}
    assert any("language_model" in n for n in quantized)
    assert not any("vision_tower" in n or "multi_modal_projector" in n or n == "lm_head" for n in quantized)
    rng = np.random.default_rng(5)
    images = [Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for _ in range(3)]
    full = Classifier(tiny_loaded, LABELS).predict_proba(images)
    quant = Classifier(loaded, LABELS).predict_proba(images)
    assert torch.allclose(quant.sum(-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(quant, full, atol=0.03)
