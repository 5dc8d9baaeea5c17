"""--image-fit: LLaVA-1.5's pad-to-square (the default where the processor crops) or the processor's crop."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.model.batching import PromptEncoder, encode
from llava_cli.config import ModelConfig
from llava_cli.model.loading import load_processor, warn_adapter_mismatch, with_image_fit
from llava_cli.model.preprocess import (
    FitChoice,
    adapter_fit_warning,
    choose_fit,
    fit_processor,
    image_fit,
    pad_to_square,
    processor_view,
)
from llava_cli.model.prompts import render, user_message


def expand2square(pil_img, background_color):
    """LLaVA's own code (haotian-liu/LLaVA llava/mm_utils.py), copied verbatim as the reference."""
    width, height = pil_img.size
    if width == height:
        return pil_img
    elif width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2))
        return result
    else:
        result = Image.new(pil_img.mode, (height, height), background_color)
        result.paste(pil_img, ((height - width) // 2, 0))
        return result


def _image(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def raw_processor(tiny_model_dir):
    """The checkpoint's processor exactly as transformers loads it (CLIP: resize + center crop)."""
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


def _pixels(image_processor, image):
    return image_processor(images=[image], return_tensors="pt")["pixel_values"]


@pytest.mark.parametrize("size", [(90, 40), (40, 90), (37, 37), (64, 63)])
def test_pad_is_llava_expand2square_and_transformers_do_pad(raw_processor, tiny_model_dir, size):
    from transformers import LlavaImageProcessorPil

    clip = raw_processor.image_processor
    assert processor_view(clip) == "crop"
    background = tuple(int(x * 255) for x in clip.image_mean)
    image = _image(*size)
    want = _pixels(clip, expand2square(image, background))  # LLaVA's recipe: pad, then the processor
    do_pad = LlavaImageProcessorPil(**{k: v for k, v in clip.to_dict().items() if k != "image_processor_type"}, do_pad=True)
    torch.testing.assert_close(_pixels(do_pad, image), want, atol=0, rtol=0)  # transformers' own do_pad

    padded = load_processor(ModelConfig(model=tiny_model_dir))  # the default on a cropping processor
    assert image_fit(padded) == "pad"
    torch.testing.assert_close(_pixels(padded.image_processor, image), want, atol=0, rtol=0)
    assert pad_to_square(image, background).tobytes() == expand2square(image, background).tobytes()
    # the encoders pad in PIL first (faster); the processor's own pad then leaves the square as it is
    text = render(padded, [user_message("What is it?")], add_generation_prompt=True)
    torch.testing.assert_close(encode(padded, image, text)["pixel_values"], want, atol=0, rtol=0)
    torch.testing.assert_close(PromptEncoder(padded, text)(image)["pixel_values"], want, atol=0, rtol=0)


def test_crop_is_the_processor_as_it_is(raw_processor, tiny_model_dir):
    cropped = load_processor(ModelConfig(model=tiny_model_dir, image_fit="crop"))
    assert image_fit(cropped) == "crop"
    image = _image(90, 40)
    torch.testing.assert_close(_pixels(cropped.image_processor, image), _pixels(raw_processor.image_processor, image), atol=0, rtol=0)
    # and back from a padding processor to crop gives the same pixels as the original
    padded = load_processor(ModelConfig(model=tiny_model_dir, image_fit="pad"))
    back, choice = fit_processor(padded, "crop")
    assert choice == FitChoice("crop") and image_fit(back) == "crop"
    torch.testing.assert_close(_pixels(back.image_processor, image), _pixels(raw_processor.image_processor, image), atol=0, rtol=0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_wide_image_edges_reach_the_model_with_pad_not_crop(tiny_model_dir, side):
    """A red bar at the edge of a 16:9 frame changes pixel_values with pad; crop cuts it off."""
    grey = Image.new("RGB", (192, 108), (90, 90, 90))
    barred = grey.copy()
    x0 = 0 if side == "left" else 192 - 16
    barred.paste((255, 0, 0), (x0, 0, x0 + 16, 108))
    for fit, reaches in (("pad", True), ("crop", False)):
        processor = load_processor(ModelConfig(model=tiny_model_dir, image_fit=fit))
        a, b = (_pixels(processor.image_processor, im) for im in (grey, barred))
        assert (not torch.equal(a, b)) == reaches, fit


def test_default_fit_per_processor_type():
    from transformers import (
        CLIPImageProcessorPil,
        LlavaImageProcessorPil,
        LlavaNextImageProcessorPil,
        SiglipImageProcessorPil,
    )

    clip = CLIPImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    assert processor_view(clip) == "crop" and choose_fit(None, "crop") == FitChoice("pad")
    assert processor_view(LlavaImageProcessorPil(do_pad=True)) == "pad"
    assert processor_view(LlavaImageProcessorPil(do_pad=False)) == "crop"
    assert choose_fit(None, "pad") == FitChoice("pad") and choose_fit("crop", "pad") == FitChoice("crop")

    # LLaVA-NeXT tiles the whole image: pad/crop do not apply, and asking for them says so
    assert processor_view(LlavaNextImageProcessorPil()) == "anyres"
    assert choose_fit(None, "anyres") == FitChoice("anyres")
    for requested in ("pad", "crop"):
        choice = choose_fit(requested, "anyres")
        assert choice.fit == "anyres" and "does not apply" in choice.note

    # SigLIP-style processors squash to a fixed size: left alone unless pad is asked for
    siglip = SiglipImageProcessorPil(size={"height": 64, "width": 64})
    assert processor_view(siglip) == "resize" and choose_fit(None, "resize") == FitChoice("resize")
    assert choose_fit("crop", "resize").note and choose_fit("pad", "resize") == FitChoice("pad")


def test_llava_next_processor_is_left_as_it_is(tmp_path, caplog):
    from llava_cli.testing.tiny import build_tiny_llava_next

    folder = str(build_tiny_llava_next(tmp_path / "next"))
    processor = load_processor(ModelConfig(model=folder))
    assert image_fit(processor) == "anyres"
    with caplog.at_level(logging.WARNING):
        asked = load_processor(ModelConfig(model=folder, image_fit="pad"))
    assert image_fit(asked) == "anyres" and type(asked.image_processor) is type(processor.image_processor)
    assert "does not apply" in caplog.text


def test_with_image_fit_copies_and_never_changes_the_shared_model(tiny_loaded):
    assert image_fit(tiny_loaded.processor) == "pad"
    assert with_image_fit(tiny_loaded, None) is tiny_loaded and with_image_fit(tiny_loaded, "pad") is tiny_loaded
    cropped = with_image_fit(tiny_loaded, "crop")
    assert image_fit(cropped.processor) == "crop" and image_fit(tiny_loaded.processor) == "pad"
    assert cropped.model is tiny_loaded.model and cropped.describe()["image_fit"] == "crop"


def test_adapter_trained_with_another_fit_warns(tmp_path, tiny_loaded, caplog):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert adapter_fit_warning(str(adapter), {}, "pad") is None  # not trained by llava-cli: nothing known
    assert adapter_fit_warning(str(adapter), {"image_fit": "pad"}, "pad") is None
    assert "--image-fit pad" in adapter_fit_warning(str(adapter), {"image_fit": "pad"}, "crop")
    # adapters from before --image-fit trained on the processor as it is (crop)
    assert "--image-fit crop" in adapter_fit_warning(str(adapter), {"stage": "lora"}, "pad")
    assert adapter_fit_warning(str(adapter), {"image_fit": "pad"}, "anyres") is None

    (adapter / "finetune_meta.json").write_text(json.dumps({"stage": "lora", "image_fit": "crop"}))
    with caplog.at_level(logging.WARNING):
        warn_adapter_mismatch(str(adapter), tiny_loaded.processor)
    assert "was trained with --image-fit crop but this run uses pad" in caplog.text


def test_image_fit_flag_is_validated(cli_app, tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    assert any("--image-fit 'squash'" in p for p in ModelConfig(image_fit="squash").problems())
    image = _image(40, 30)
    image.save(tmp_path / "a.png")
    result = CliRunner().invoke(
        cli_app, ["classify", str(tmp_path / "a.png"), "--labels", "a,b", "--model", tiny_model_dir, "--image-fit", "squash"]
    )
    assert result.exit_code == 2 and "--image-fit 'squash' is not one of pad, crop" in result.output
