"""Each tiny family checkpoint loads like the published llava-hf checkpoint it imitates, renders
prompts exactly as that checkpoint's chat template does, and runs a forward with the processor's
image tokens."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from llava_cli.testing.families import FAMILIES

NAMES = sorted(FAMILIES)

IMAGE_TURN = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
TWO_TURNS = [
    *IMAGE_TURN,
    {"role": "assistant", "content": [{"type": "text", "text": "cat"}]},
    {"role": "user", "content": [{"type": "text", "text": "And now?"}]},
]

# What each real checkpoint's template renders (model cards / chat_template.json), hand-written.
GENERATION_PROMPT = {
    "llava-1.5": "USER: <image>\nWhat is it? ASSISTANT:",
    "llava-v1.6-vicuna": "USER: <image>\nWhat is it? ASSISTANT:",
    # The mistral template has no generation prompt: "[/INST]" ends the user turn.
    "llava-v1.6-mistral": "[INST] <image>\nWhat is it? [/INST]",
    "llava-v1.6-34b": "<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n",
    "llama3-llava-next": "<|start_header_id|>user<|end_header_id|>\n\n<image>\nWhat is it?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "llava-onevision-qwen2": "<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n",
}
# How each renders an answered turn: what the encoder of answers must reproduce.
TWO_TURN_PROMPT = {
    "llava-1.5": "USER: <image>\nWhat is it? ASSISTANT: cat USER: And now? ASSISTANT:",
    "llava-v1.6-vicuna": "USER: <image>\nWhat is it? ASSISTANT: cat USER: And now? ASSISTANT:",
    "llava-v1.6-mistral": "[INST] <image>\nWhat is it? [/INST] cat<\\s> [INST] And now? [/INST]",
    "llava-v1.6-34b": "<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\ncat<|im_end|>\n"
    "<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n",
    "llama3-llava-next": "<|start_header_id|>user<|end_header_id|>\n\n<image>\nWhat is it?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n\ncat<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n\nAnd now?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "llava-onevision-qwen2": "<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\ncat<|im_end|>\n"
    "<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n",
}
# (model class, tokenizer class as transformers 5 loads it, bos, chat eos, pad)
EXPECTED = {
    "llava-1.5": ("LlavaForConditionalGeneration", "TokenizersBackend", "<s>", "</s>", "<pad>"),
    "llava-v1.6-vicuna": ("LlavaNextForConditionalGeneration", "TokenizersBackend", "<s>", "</s>", "<pad>"),
    "llava-v1.6-mistral": ("LlavaNextForConditionalGeneration", "TokenizersBackend", "<s>", "</s>", "<pad>"),
    "llava-v1.6-34b": ("LlavaNextForConditionalGeneration", "TokenizersBackend", "<|startoftext|>", "<|im_end|>",
                       "<pad>"),
    "llama3-llava-next": ("LlavaNextForConditionalGeneration", "TokenizersBackend", "<|begin_of_text|>",
                          "<|eot_id|>", "<pad>"),
    "llava-onevision-qwen2": ("LlavaOnevisionForConditionalGeneration", "Qwen2Tokenizer", None, "<|im_end|>",
                              "<|endoftext|>"),
}  # fmt: skip
SENTENCEPIECE = {"llava-1.5", "llava-v1.6-vicuna", "llava-v1.6-mistral", "llava-v1.6-34b"}


def image(size=(48, 40)):
    from PIL import Image

    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("name", NAMES)
def test_loads_back_with_auto_classes(name, family_checkpoint):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.utils import is_torchvision_available

    path = family_checkpoint(name)
    model = AutoModelForImageTextToText.from_pretrained(path)
    assert type(model).__name__ == EXPECTED[name][0]
    assert (path / "model.safetensors").exists() and (path / "chat_template.jinja").exists()
    if name == "llava-onevision-qwen2" and not is_torchvision_available():
        # Its video processor needs torchvision, as the real checkpoint's does (see families.load_processor).
        with pytest.raises(ImportError, match="(?i)torchvision"):
            AutoProcessor.from_pretrained(path)
        return
    processor = AutoProcessor.from_pretrained(path)
    assert type(processor.tokenizer).__name__ == EXPECTED[name][1]
    assert processor.chat_template == FAMILIES[name].chat_template


@pytest.mark.parametrize("name", NAMES)
def test_chat_template_renders_as_the_real_checkpoint(name, family_loaded):
    processor, _ = family_loaded(name)
    assert processor.apply_chat_template(IMAGE_TURN, add_generation_prompt=True) == GENERATION_PROMPT[name]
    assert processor.apply_chat_template(TWO_TURNS, add_generation_prompt=True) == TWO_TURN_PROMPT[name]


@pytest.mark.parametrize("name", NAMES)
def test_special_token_ids(name, family_loaded):
    processor, model = family_loaded(name)
    tok, config, gen = processor.tokenizer, model.config, model.generation_config
    _, _, bos, eos, pad = EXPECTED[name]
    assert tok.bos_token == bos and (bos is None or tok(["x"]).input_ids[0][0] == tok.bos_token_id)
    assert tok.convert_ids_to_tokens([gen.eos_token_id, gen.pad_token_id]) == [eos, pad]
    assert tok.convert_ids_to_tokens(config.image_token_id) == "<image>" == processor.image_token
    # llava-hf resizes the embeddings to a multiple of 64 past the tokenizer (32064 for 32002 tokens).
    assert config.text_config.vocab_size % 64 == 0 and config.text_config.vocab_size >= len(tok)
    if name in SENTENCEPIECE:
        # <image>, <pad> right after the base vocabulary, in that order (32000, 32001).
        assert tok.convert_tokens_to_ids(["<image>", "<pad>"]) == [tok.vocab_size, tok.vocab_size + 1]


@pytest.mark.parametrize("name", NAMES)
def test_loaded_tokenizer_behaves_like_the_real_kind(name, family_loaded):
    tok = family_loaded(name)[0].tokenizer
    ids = tok("ASSISTANT: left ", add_special_tokens=False).input_ids
    if name in SENTENCEPIECE:
        assert tok.convert_ids_to_tokens(ids)[-2:] == ["▁left", "▁"]
        assert json.loads(tok.backend_tokenizer.to_str())["model"]["byte_fallback"] is True
    else:
        assert tok.convert_ids_to_tokens(ids)[-2:] == ["Ġleft", "Ġ"]
    assert tok.decode(tok("猫 😀", add_special_tokens=False).input_ids) == "猫 😀"


@pytest.mark.parametrize("name", NAMES)
def test_forward_with_processor_inputs(name, family_loaded):
    """A batch of two images of different shapes, left-padded: the forward raises if a row's <image>
    count differs from the features the model computes for its image."""
    processor, model = family_loaded(name)
    prompts = [GENERATION_PROMPT[name], TWO_TURN_PROMPT[name]]
    inputs = processor(images=[image((48, 40)), image((100, 30))], text=prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (2, inputs.input_ids.shape[1], model.config.text_config.vocab_size)
    n_image = (inputs.input_ids == model.config.image_token_id).sum(dim=1).tolist()
    if name == "llava-1.5":
        assert n_image == [(32 // 8) ** 2] * 2  # CLS dropped ("default"), one square crop per image
    else:
        assert min(n_image) > (32 // 8) ** 2 and n_image[0] != n_image[1]  # anyres: depends on the shape
    pad = processor.tokenizer.pad_token_id
    assert inputs.input_ids[:, 0].tolist().count(pad) == 1 and inputs.input_ids[:, -1].tolist().count(pad) == 0
    # The count check is real: one <image> fewer and the forward refuses.
    ids = inputs.input_ids.clone()
    ids[0, int((ids[0] == model.config.image_token_id).nonzero()[0, 0])] = pad
    with torch.no_grad(), pytest.raises(ValueError, match="do not match"):
        model(**{**inputs, "input_ids": ids})


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes(name, family_checkpoint, tmp_path):
    from llava_cli.testing.families import build_family

    def digest(path, file):
        return hashlib.sha256((path / file).read_bytes()).hexdigest()

    first = family_checkpoint(name)
    again = build_family(name, tmp_path / "again")
    other = build_family(name, tmp_path / "other", seed=1)
    for file in ("model.safetensors", "tokenizer.json", "processor_config.json", "config.json"):
        assert digest(first, file) == digest(again, file), file
    assert digest(first, "model.safetensors") != digest(other, "model.safetensors")


def test_real_geometry_llava15(family_loaded):
    """At 336 px / 14-px patches the llava-1.5 family has the real 576 image tokens and center-crops."""
    processor, model = family_loaded("llava-1.5", image_size=336, patch_size=14)
    inputs = processor(images=[image((640, 360))], text=[GENERATION_PROMPT["llava-1.5"]], return_tensors="pt")
    assert tuple(inputs.pixel_values.shape) == (1, 3, 336, 336)
    assert int((inputs.input_ids == model.config.image_token_id).sum()) == 576
    with torch.no_grad():
        assert model(**inputs).logits.shape[1] == inputs.input_ids.shape[1]
