"""Leaving out the vision layers LLaVA never reads: the inference model computes the same logits,
bit for bit, as the whole checkpoint loaded by transformers alone; training, saving and the
benchmark's peers keep (or get back) every layer."""

from __future__ import annotations

import copy

import pytest
import torch
from PIL import Image

from test_llava_formats import FAMILIES

IMAGE = Image.new("RGB", (64, 40), (200, 30, 30))


def whole_model(folder: str):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()


def encoder_layers(model):
    return model.model.vision_tower.encoder.layers


def logits(model, processor, prompt: str) -> torch.Tensor:
    enc = processor(images=[IMAGE], text=[prompt], return_tensors="pt")
    with torch.inference_mode():
        return model(**enc).logits


@pytest.mark.parametrize("family", FAMILIES)
def test_inference_model_equals_the_whole_checkpoint(family, family_dir):
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model
    from llava_cli.model.prompts import render, user_message

    loaded = load_model(ModelConfig(model=family_dir(family), device="cpu", dtype="float32"))
    whole = whole_model(family_dir(family))
    reads_last = whole.config.vision_feature_layer == -1  # OneVision's SigLIP: every layer is read
    assert len(encoder_layers(loaded.model)) == len(encoder_layers(whole)) - (0 if reads_last else 1)
    prompt = render(loaded.processor, [user_message("What is shown?")], add_generation_prompt=True)
    assert torch.equal(logits(loaded.model, loaded.processor, prompt), logits(whole, loaded.processor, prompt))


def test_training_and_saving_keep_every_layer(family_dir):
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    cfg = ModelConfig(model=family_dir("llava-1.5"), device="cpu", dtype="float32")
    count = len(encoder_layers(whole_model(cfg.model)))
    for kwargs in ({"for_training": True}, {"keep_all_layers": True}):
        model = load_model(cfg, **kwargs).model
        assert len(encoder_layers(model)) == count and model.config.vision_feature_layer == -2, kwargs


def test_several_feature_layers_keep_the_deepest(family_dir):
    """VipLLaVA-style lists: the features (concatenated from each listed layer) are unchanged."""
    from llava_cli.model.vision_trim import drop_unread_vision_layers

    from transformers import AutoConfig, LlavaForConditionalGeneration

    config = AutoConfig.from_pretrained(family_dir("llava-1.5"))
    config.vision_feature_layer = [-3, -2]  # the projector then reads both, concatenated
    torch.manual_seed(0)
    whole = LlavaForConditionalGeneration(config).eval()
    count = len(encoder_layers(whole))
    trimmed = copy.deepcopy(whole)
    dropped = drop_unread_vision_layers(trimmed)
    assert len(dropped.layers) == 1 and trimmed.config.vision_feature_layer == [count - 2, count - 1]
    pixels = torch.randn(2, 3, whole.config.vision_config.image_size, whole.config.vision_config.image_size)

    def features(model):
        with torch.inference_mode():
            return torch.cat(model.model.get_image_features(pixel_values=pixels).pooler_output)

    assert torch.equal(features(trimmed), features(whole))


def test_restore_gives_back_the_whole_model(family_dir):
    from llava_cli.model.vision_trim import drop_unread_vision_layers, restore_vision_layers

    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_processor
    from llava_cli.model.prompts import render, user_message

    whole = whole_model(family_dir("llava-1.5"))
    model = copy.deepcopy(whole)
    dropped = drop_unread_vision_layers(model)
    processor = load_processor(ModelConfig(model=family_dir("llava-1.5")))
    prompt = render(processor, [user_message("What is shown?")], add_generation_prompt=True)
    logits(model, processor, prompt)  # a forward while trimmed: transformers hooks the layers present
    restore_vision_layers(model, dropped)
    assert torch.equal(logits(model, processor, prompt), logits(whole, processor, prompt))
    assert len(encoder_layers(model)) == len(encoder_layers(whole))
    assert model.config.vision_feature_layer == -2
    assert model.config.vision_config.num_hidden_layers == whole.config.vision_config.num_hidden_layers
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), whole.state_dict().values()))
    assert drop_unread_vision_layers(torch.nn.Linear(2, 2)) is None  # no vision tower: nothing to do
