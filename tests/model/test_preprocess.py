"""Faster preprocessing gives the model the same inputs (or, for --fast-decode's downscaled decoding, close ones)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from llava_cli.model.batching import PromptEncoder, encode, target_min_side
from llava_cli.media.video import load_image, shrink
from llava_cli.model.prompts import render, user_message


def _image(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_prompt_encoder_equals_full_processor(tiny_loaded):
    processor = tiny_loaded.processor
    text = render(processor, [user_message("What is it?")], add_generation_prompt=True)
    encoder = PromptEncoder(processor, text)
    assert encoder.reuse_text
    for seed, size in enumerate([(48, 40), (40, 90), (300, 200)]):
        want = encode(processor, _image(*size, seed=seed), text)
        got = encoder(_image(*size, seed=seed))
        assert set(got) == set(want)
        for key in want:
            torch.testing.assert_close(got[key], want[key], atol=0, rtol=0)


def test_target_min_side(tiny_loaded):
    assert target_min_side(tiny_loaded.processor.image_processor) == 32

    class Fixed:
        size = {"height": 24, "width": 40}

    assert target_min_side(Fixed()) == 40
    assert target_min_side(object()) is None
    from transformers import LlavaNextImageProcessorPil

    # any-resolution tiling reads the image at up to its largest grid pinpoint, not the base size
    assert target_min_side(LlavaNextImageProcessorPil()) == 1008


def test_shrink_keeps_short_side(tmp_path):
    img = _image(1280, 720)
    small = shrink(img, 336)
    assert small.size == (640, 360)
    assert shrink(img, 400) is img  # a factor below 2 is not worth it
    assert shrink(img, None) is img
    path = tmp_path / "frame.jpg"
    img.save(path, quality=90)
    assert min(load_image(path, min_side=336).size) >= 336
