"""Tiny random checkpoints, one per published llava-hf family, built offline.

Each carries the family's real chat template (llava_cli/model/chat_templates.py), a tokenizer that behaves
like the real one (llava_cli/testing/tokenizers.py) with the same added tokens in the same order,
the real processor class and settings, and the real architecture at toy width. Geometry is scaled:
32-px images with 8-px patches by default (the real 336/14 or 384/14 on request).

Where the real settings come from: each llava-hf checkpoint's config.json, preprocessor_config.json,
processor_config.json and generation_config.json, and transformers' conversion scripts
(models/llava/convert_llava_weights_to_hf.py, llava_next/convert_llava_next_weights_to_hf.py,
llava_onevision/convert_llava_onevision_weights_to_hf.py): `<image>` (and `<pad>`) are added
after the text model's vocabulary, and the embeddings are resized to a multiple of 64, so the
model's vocab_size is larger than len(tokenizer) (llava-1.5-7b-hf: 32064 vs 32002).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llava_cli.model import chat_templates as T
from llava_cli.model.loading import image_only_onevision_processor
from llava_cli.testing.tokenizers import DEFAULT_CORPUS, family_tokenizer


@dataclass(frozen=True)
class FamilySpec:
    """What distinguishes one published checkpoint family (real values, toy widths aside)."""

    checkpoint: str  # the llava-hf repo this family imitates
    arch: str  # "llava" | "llava_next" | "llava_onevision"
    text: str  # "llama" | "mistral" | "qwen2": the text config class
    tokenizer: str  # a kind of tokenizers.family_tokenizer
    chat_template: str
    eos: str = "</s>"  # generation_config eos: the token that ends an assistant turn
    pad: str = "<pad>"
    image_token: str = "<image>"
    vision: str = "clip"  # "clip" (ViT-L/14-336) | "siglip" (so400m-patch14-384)
    real_image_size: int = 336  # pass as build_family(image_size=..., patch_size=14) for geometry tests
    kv_heads: int = 2  # grouped-query attention except Llama-2 (multi-head)
    tie_word_embeddings: bool = False  # Qwen2-0.5B ties lm_head to the embeddings


_VICUNA = dict(arch="llava_next", text="llama", tokenizer="vicuna", chat_template=T.LLAVA_VICUNA, kv_heads=4)
FAMILIES: dict[str, FamilySpec] = {
    "llava-1.5": FamilySpec("llava-hf/llava-1.5-7b-hf", **{**_VICUNA, "arch": "llava"}),
    "llava-v1.6-vicuna": FamilySpec("llava-hf/llava-v1.6-vicuna-7b-hf", **_VICUNA),
    "llava-v1.6-mistral": FamilySpec(
        "llava-hf/llava-v1.6-mistral-7b-hf", arch="llava_next", text="mistral", tokenizer="mistral",
        chat_template=T.LLAVA_MISTRAL,
    ),
    "llava-v1.6-34b": FamilySpec(
        "llava-hf/llava-v1.6-34b-hf", arch="llava_next", text="llama", tokenizer="yi",
        chat_template=T.LLAVA_CHATML_YI, eos="<|im_end|>",
    ),
    "llama3-llava-next": FamilySpec(
        "llava-hf/llama3-llava-next-8b-hf", arch="llava_next", text="llama", tokenizer="llama3",
        chat_template=T.LLAVA_LLAMA3, eos="<|eot_id|>",
    ),
    "llava-onevision-qwen2": FamilySpec(
        "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", arch="llava_onevision", text="qwen2", tokenizer="qwen2",
        chat_template=T.LLAVA_ONEVISION_QWEN2, eos="<|im_end|>", pad="<|endoftext|>",
        vision="siglip", real_image_size=384, tie_word_embeddings=True,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """Toy widths (the real geometry only where asked: image_size 336 + patch_size 14)."""

    image_size: int = 32
    patch_size: int = 8
    initializer_range: float = 0.02
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int | None = None  # None: the family's (multi-head for Llama-2, grouped otherwise)
    intermediate: int | None = None  # None: 2 x hidden
    vision_hidden: int = 32
    vision_layers: int | None = None  # None: layers
    vision_heads: int | None = None  # None: heads
    min_model_vocab: int = 0  # the embedding rows at least (a benchmark's lm_head cost)




def _vision_config(spec: FamilySpec, s: Sizes):
    from transformers import CLIPVisionConfig, SiglipVisionConfig

    common = dict(
        hidden_size=s.vision_hidden, intermediate_size=2 * s.vision_hidden,
        num_hidden_layers=s.vision_layers or s.layers, num_attention_heads=s.vision_heads or s.heads,
        image_size=s.image_size, patch_size=s.patch_size,
    )  # fmt: skip
    if spec.vision == "siglip":
        # OneVision uses SigLIP's patch features only: no pooling head, no CLS token.
        return SiglipVisionConfig(vision_use_head=False, **common)
    return CLIPVisionConfig(projection_dim=s.vision_hidden, initializer_range=s.initializer_range, **common)


def _text_config(spec: FamilySpec, s: Sizes, tokenizer, vocab_size: int):
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[spec.text]
    return cls(
        hidden_size=s.hidden, intermediate_size=s.intermediate or 2 * s.hidden, num_hidden_layers=s.layers,
        num_attention_heads=s.heads, num_key_value_heads=s.kv_heads or spec.kv_heads, vocab_size=vocab_size,
        max_position_embeddings=4096, initializer_range=s.initializer_range,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.convert_tokens_to_ids(spec.eos),
        pad_token_id=tokenizer.convert_tokens_to_ids(spec.pad), tie_word_embeddings=spec.tie_word_embeddings,
    )  # fmt: skip


def _pinpoints(spec: FamilySpec, side: int) -> list[list[int]]:
    """The real anyres grids scaled to `side`: LLaVA-NeXT's five (336x672 ... 336x1008), OneVision's
    6x6 (384..2304 in both directions)."""
    if spec.arch == "llava_onevision":
        return [[side * i, side * j] for i in range(1, 7) for j in range(1, 7)]
    return [[side, 2 * side], [2 * side, side], [2 * side, 2 * side], [3 * side, side], [side, 3 * side]]


def _model_config(spec: FamilySpec, s: Sizes, tokenizer, vocab_size: int):
    from transformers import LlavaConfig, LlavaNextConfig, LlavaOnevisionConfig

    common = dict(
        vision_config=_vision_config(spec, s),
        text_config=_text_config(spec, s, tokenizer, vocab_size),
        image_token_index=tokenizer.convert_tokens_to_ids(spec.image_token),
        tie_word_embeddings=spec.tie_word_embeddings,
    )
    if spec.arch == "llava":
        return LlavaConfig(
            vision_feature_layer=-2, vision_feature_select_strategy="default",
            image_seq_length=(s.image_size // s.patch_size) ** 2, **common,
        )  # fmt: skip
    if spec.arch == "llava_next":
        return LlavaNextConfig(
            vision_feature_layer=-2, vision_feature_select_strategy="default",
            image_grid_pinpoints=_pinpoints(spec, s.image_size), **common,
        )  # fmt: skip
    return LlavaOnevisionConfig(
        vision_feature_layer=-1, vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9",
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=_pinpoints(spec, s.image_size), **common,
    )  # fmt: skip


def _processor(spec: FamilySpec, s: Sizes, tokenizer):
    """The real processor with its real settings (PIL image-processor backends: no torchvision)."""
    import transformers as tf

    side, crop = {"shortest_edge": s.image_size}, {"height": s.image_size, "width": s.image_size}
    if spec.arch == "llava":
        # llava-1.5-7b-hf: CLIPImageProcessor, resize shortest edge then center-crop to a square.
        images = tf.CLIPImageProcessorPil(size=side, crop_size=crop, do_center_crop=True)
        return tf.LlavaProcessor(images, tokenizer, **_llava_processor_kwargs(spec, s))
    if spec.arch == "llava_next":
        images = tf.LlavaNextImageProcessorPil(
            size=side, crop_size=crop, do_center_crop=True, do_pad=True,
            image_grid_pinpoints=_pinpoints(spec, s.image_size),
        )  # fmt: skip
        return tf.LlavaNextProcessor(images, tokenizer, **_llava_processor_kwargs(spec, s))
    # OneVision: square resize, SigLIP's 0.5 mean/std.
    images = tf.LlavaOnevisionImageProcessorPil(
        size=crop, do_pad=True, image_grid_pinpoints=_pinpoints(spec, s.image_size),
        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )  # fmt: skip
    return _image_only_onevision()(
        image_processor=images, tokenizer=tokenizer,
        num_image_tokens=(s.image_size // s.patch_size) ** 2, vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9", chat_template=spec.chat_template,
    )  # fmt: skip


_image_only_onevision = image_only_onevision_processor  # the production loader's class


def _add_video_processor_config(path: Path, s: Sizes) -> None:
    """The video processor entry the real processor_config.json has (LlavaOnevisionVideoProcessor's
    defaults at this image size), written by hand because the class cannot be built without torchvision."""
    import json

    file = path / "processor_config.json"
    config = json.loads(file.read_text())
    config["video_processor"] = {
        "video_processor_type": "LlavaOnevisionVideoProcessor",
        "size": {"height": s.image_size, "width": s.image_size},
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 3, "do_resize": True,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "do_convert_rgb": True,
        "do_sample_frames": False,
    }  # fmt: skip
    file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_processor(path: str | Path):
    """AutoProcessor.from_pretrained, except that without torchvision a OneVision checkpoint loads
    image-only (see _image_only_onevision) instead of raising."""
    import json

    from transformers import AutoProcessor
    from transformers.utils import is_torchvision_available

    config = json.loads((Path(path) / "processor_config.json").read_text())
    if config.get("processor_class") == "LlavaOnevisionProcessor" and not is_torchvision_available():
        return _image_only_onevision().from_pretrained(path)
    return AutoProcessor.from_pretrained(path)


def _llava_processor_kwargs(spec: FamilySpec, s: Sizes) -> dict:
    # processor_config.json of llava-1.5 / v1.6: CLIP's CLS token is counted, then dropped ("default").
    return dict(
        patch_size=s.patch_size, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=spec.chat_template, image_token=spec.image_token,
    )  # fmt: skip


def _model(spec: FamilySpec, config, tokenizer, seed: int):
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config).eval()
    gen = model.generation_config
    gen.bos_token_id = tokenizer.bos_token_id
    gen.eos_token_id = tokenizer.convert_tokens_to_ids(spec.eos)
    gen.pad_token_id = tokenizer.convert_tokens_to_ids(spec.pad)
    return model


def build_family(
    name: str,
    path: str | Path,
    *,
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 8,
    initializer_range: float = 0.02,
    corpus: Sequence[str] = DEFAULT_CORPUS,
    vocab_size: int = 800,
    sizes: Sizes | None = None,
) -> Path:
    """Write a random checkpoint of family `name` (a key of FAMILIES) to `path` and return it.

    Loads back with AutoProcessor / AutoModelForImageTextToText. Same arguments, same bytes.
    `initializer_range` 0.02 is the real configs' value; tests that train for a few steps may want
    0.2 (sharper random logits learn faster)."""
    spec = FAMILIES[name]
    sizes = sizes or Sizes(image_size, patch_size, initializer_range)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = family_tokenizer(spec.tokenizer, corpus, vocab_size)
    # The conversion scripts resize the embeddings to a multiple of 64 after adding tokens.
    model_vocab = -(-max(len(tokenizer), sizes.min_model_vocab) // 64) * 64
    model = _model(spec, _model_config(spec, sizes, tokenizer, model_vocab), tokenizer, seed)
    model.save_pretrained(path, safe_serialization=True)
    _processor(spec, sizes, tokenizer).save_pretrained(path)
    if spec.arch == "llava_onevision":
        _add_video_processor_config(path, sizes)
    return path
