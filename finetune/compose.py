"""Compose a new LLaVA from a CLIP vision model and a causal language model given separately.

Stage 1 of the paper starts here: the `<image>` token is added to the language model's tokenizer,
its embeddings are resized, a fresh two-layer GELU projector joins the two, and the result is an
ordinary `LlavaForConditionalGeneration` + `LlavaProcessor` that saves and loads like any LLaVA
checkpoint.
"""

from __future__ import annotations

from llava_cli.errors import ModelLoadError
from llava_cli.model.chat_templates import LLAVA_VICUNA

IMAGE_TOKEN = "<image>"


def _load(what: str, flag: str, loader):
    try:
        return loader(what)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{flag} {what}: cannot load it ({first})") from exc


def _vision_model(path: str):
    """The CLIP vision tower of `path` (a CLIPVisionModel or a full CLIPModel checkpoint)."""
    from transformers import AutoConfig, CLIPModel, CLIPVisionModel

    config = AutoConfig.from_pretrained(path)
    if config.model_type == "clip":
        return CLIPModel.from_pretrained(path, dtype="float32").vision_model, config.vision_config
    return CLIPVisionModel.from_pretrained(path, dtype="float32"), config


def _image_processor(path: str, vision_config):
    from transformers import AutoImageProcessor, CLIPImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError):  # a bare vision checkpoint without preprocessor_config.json
        size = vision_config.image_size
        return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def compose_llava(vision_tower: str, language_model: str, *, seed: int = 0):
    """Build (model, processor) from a CLIP vision checkpoint and a causal LM checkpoint.

    Raises ModelLoadError when either cannot be loaded.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlavaProcessor

    vision, vision_config = _load(vision_tower, "--vision-tower", _vision_model)
    image_processor = _load(vision_tower, "--vision-tower", lambda p: _image_processor(p, vision_config))
    lm = _load(language_model, "--language-model", lambda p: AutoModelForCausalLM.from_pretrained(p, dtype="float32"))
    tokenizer = _load(language_model, "--language-model", AutoTokenizer.from_pretrained)
    _prepare_tokenizer(tokenizer)
    lm.resize_token_embeddings(len(tokenizer))
    model = _joined(vision, vision_config, lm, tokenizer, seed)
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=vision_config.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


def _prepare_tokenizer(tokenizer) -> None:
    """Add the `<image>` token and a pad token, and give it LLaVA-1.5's chat template."""
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # A composed model is a LLaVA-1.5: it gets llava-1.5-7b-hf's own template (conv_vicuna_v1),
    # not the language model's text-only one, which cannot place an image.
    tokenizer.chat_template = LLAVA_VICUNA


def _joined(vision, vision_config, lm, tokenizer, seed: int):
    """A LlavaForConditionalGeneration holding `vision` and `lm` (its embeddings already resized
    to `tokenizer`), joined by a fresh projector initialised from `seed`."""
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    text_config = lm.config
    text_config.pad_token_id = tokenizer.pad_token_id
    layers = vision_config.num_hidden_layers
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="default",
        vision_feature_layer=-2 if layers > 1 else -1,
        projector_hidden_act="gelu",
        image_seq_length=(vision_config.image_size // vision_config.patch_size) ** 2,
    )
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(vision.state_dict())
    backbone = lm.get_decoder() if hasattr(lm, "get_decoder") else lm.model
    model.model.language_model.load_state_dict(backbone.state_dict())
    model.lm_head.load_state_dict(lm.get_output_embeddings().state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
