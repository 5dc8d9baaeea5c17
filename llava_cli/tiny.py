"""Build small random LLaVA checkpoints offline.

Tests, the benchmark and the shapes example need a real LLaVA checkpoint (config, safetensors
weights, tokenizer, processor, chat template) without network access. `build_tiny_llava` makes
one in well under a second: a byte-level BPE tokenizer trained on a few sentences, a CLIP vision
tower and a Llama language model, saved with `save_pretrained` so it loads exactly like a hub
checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# llava-1.5 style template: "USER: <image>\n{text} ASSISTANT: {answer}</s>".
LLAVA15_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] if message['content'] is string "
    "else message['content'][0]['text'] }}{{ ' ' }}"
    "{% else %}{{ message['role'].upper() + ': ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ ' ' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_CORPUS = [
    "You are looking at a picture of a basketball player, identify if they are shooting, dribbling or passing.",
    "Answer with a single classification of shooting, dribbling, passing, pass.",
    "USER: ASSISTANT: Describe the scene in one sentence. What is the player doing?",
    "red green blue yellow circle square triangle cross star shape colour color image photo frame",
    "A person is walking on the street with a dog. The sky is blue and the grass is green.",
    "yes no maybe unsure cat dog bird car truck ball court game video",
]


@dataclass
class TinyLlavaSpec:
    """Sizes of a random LLaVA. Defaults give a ~1M-parameter model that loads in milliseconds."""

    image_size: int = 32
    patch_size: int = 8
    vision_hidden: int = 32
    vision_layers: int = 2
    vision_heads: int = 4
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    intermediate: int = 128
    vocab_size: int = 512
    # 0.02 (the usual default) gives logits too flat to learn from in a few steps; 0.2 trains fast.
    initializer_range: float = 0.02
    seed: int = 0
    extra_corpus: list[str] = field(default_factory=list)


def _train_tokenizer(spec: TinyLlavaSpec):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS + list(spec.extra_corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
    )
    return fast


def _vision_config(spec: TinyLlavaSpec):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=spec.vision_hidden,
        intermediate_size=spec.vision_hidden * 2,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=spec.vision_heads,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
        projection_dim=spec.vision_hidden,
        initializer_range=spec.initializer_range,
    )


def _text_config(spec: TinyLlavaSpec, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=spec.text_hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.text_heads,
        num_key_value_heads=spec.text_kv_heads,
        vocab_size=len(tokenizer),
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=False,
    )


def _processor_parts(spec: TinyLlavaSpec, tokenizer) -> dict:
    """Processor settings shared by the LLaVA and LLaVA-NeXT builders (CLS token dropped, 1.5 template)."""
    return dict(
        tokenizer=tokenizer,
        patch_size=spec.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA15_CHAT_TEMPLATE,
    )


def build_tiny_llava(path: str | Path, spec: TinyLlavaSpec | None = None) -> Path:
    """Write a random LLaVA checkpoint (model, tokenizer, processor) to `path` and return it."""
    import torch
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    spec = spec or TinyLlavaSpec()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(spec)

    config = LlavaConfig(
        vision_config=_vision_config(spec),
        text_config=_text_config(spec, tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-2 if spec.vision_layers > 1 else -1,
        projector_hidden_act="gelu",
        initializer_range=spec.initializer_range,
    )
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(spec.seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(path, safe_serialization=True)

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": spec.image_size},
        crop_size={"height": spec.image_size, "width": spec.image_size},
    )
    LlavaProcessor(image_processor=image_processor, **_processor_parts(spec, tokenizer)).save_pretrained(path)
    return path


def build_tiny_llava_next(path: str | Path, spec: TinyLlavaSpec | None = None) -> Path:
    """Write a random LLaVA-NeXT checkpoint (any-resolution tiling: images of different shapes give
    different numbers of image tokens) to `path` and return it."""
    import torch
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    spec = spec or TinyLlavaSpec()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(spec)
    side = spec.image_size
    pinpoints = [[side, 2 * side], [2 * side, side], [2 * side, 2 * side]]
    config = LlavaNextConfig(
        vision_config=_vision_config(spec),
        text_config=_text_config(spec, tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2 if spec.vision_layers > 1 else -1,
    )
    torch.manual_seed(spec.seed)
    model = LlavaNextForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}, image_grid_pinpoints=pinpoints
    )
    LlavaNextProcessor(image_processor=image_processor, **_processor_parts(spec, tokenizer)).save_pretrained(path)
    return path
