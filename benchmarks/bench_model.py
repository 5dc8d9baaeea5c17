"""The bench models (random weights, real LLaVA-1.5 geometry where it costs time) and their FLOPs.

Shapes:
- tiny: a seconds-long smoke test (CI).
- cpu: 336-pixel input, 14-pixel patches (576 image tokens), the real prompt; a 14M-parameter
  Llama and a 3.8M-parameter CLIP ViT so that it runs on 2 CPU cores.
- llava-1.5-7b: the true shape (CLIP ViT-L/14-336 + Llama-2-7B, 32064-token vocabulary), built
  directly on the GPU in memory: writing and reloading 14 GB would take longer than the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llava_cli.testing.tiny import TinyLlavaSpec, build_tiny_llava

SHAPES: dict[str, TinyLlavaSpec] = {
    "tiny": TinyLlavaSpec(image_size=56, patch_size=14),
    "cpu": TinyLlavaSpec(
        image_size=336, patch_size=14, vision_hidden=192, vision_layers=12, vision_heads=3,
        text_hidden=384, text_layers=6, text_heads=6, text_kv_heads=6, intermediate=1536, vocab_size=2048,
    ),
    # The processor/tokenizer half of the 7b shape (its weights are built in memory, see below).
    "llava-1.5-7b": TinyLlavaSpec(image_size=336, patch_size=14, vocab_size=2048),
}

LLAVA15_7B_VISION = dict(
    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
    image_size=336, patch_size=14, projection_dim=768,
)
LLAVA15_7B_TEXT = dict(
    hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096,
)


def build_checkpoint(shape: str, folder: Path) -> Path:
    """Write the shape's checkpoint (for 7b: the tokenizer/processor, with a tiny LM) to `folder`."""
    return build_tiny_llava(folder, SHAPES[shape])


def build_7b_in_memory(folder: Path, device: str, dtype):
    """A random llava-1.5-7b-shaped model on `device`, with the processor of `folder`'s checkpoint."""
    import torch
    from transformers import AutoConfig, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    small = AutoConfig.from_pretrained(folder)
    text = LlamaConfig(
        **LLAVA15_7B_TEXT,
        bos_token_id=small.text_config.bos_token_id,
        eos_token_id=small.text_config.eos_token_id,
        pad_token_id=small.text_config.pad_token_id,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**LLAVA15_7B_VISION),
        text_config=text,
        image_token_id=small.image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        projector_hidden_act="gelu",
    )
    config.pad_token_id = small.text_config.pad_token_id
    torch.manual_seed(0)
    with torch.device(device):  # allocate and initialise on the GPU: seconds instead of minutes
        model = LlavaForConditionalGeneration._from_config(config, dtype=dtype).eval()
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.eos_token_id = text.eos_token_id
    return model


@dataclass
class Flops:
    """Matrix-product FLOPs of one classified image (multiply-add = 2 FLOPs)."""

    vit: float  # patch embedding + encoder layers up to the feature layer + projector
    vit_attention: float
    llm: float  # decoder linear layers over the prefix + the label continuation, lm_head where used
    llm_attention: float

    @property
    def total(self) -> float:
        return self.vit + self.vit_attention + self.llm + self.llm_attention


def flops_per_image(config, prefix_tokens: int, label_tokens_fed: int, num_labels: int) -> Flops:
    """Analytic FLOPs from the config, counting only work the answer depends on.

    ViT: all layers up to `vision_feature_layer` (LLaVA-1.5 reads layer -2, so the last layer's
    work is wasted and not counted), full (bidirectional) attention 4*T^2*d per layer.
    LLM: 2 * (linear parameters per token) per token; causal attention counted at half the full
    square, 2*T^2*d per layer; lm_head only at the positions whose logits are used (the prefix's
    last position and each fed label token), as in the scorer.
    """
    v, t = config.vision_config, config.text_config
    patches = (v.image_size // v.patch_size) ** 2
    tv = patches + 1  # + class token
    layer = config.vision_feature_layer
    vit_layers = v.num_hidden_layers + 1 + layer if layer < 0 else layer
    dv, fv = v.hidden_size, v.intermediate_size
    vit = 2 * patches * 3 * v.patch_size**2 * dv + vit_layers * 2 * tv * (4 * dv * dv + 2 * dv * fv)
    d, f = t.hidden_size, t.intermediate_size
    vit += 2 * patches * (dv * d + d * d)  # projector
    vit_attention = vit_layers * 4 * tv * tv * dv
    head_dim = getattr(t, "head_dim", None) or d // t.num_attention_heads
    kv = t.num_key_value_heads * head_dim
    per_token = 2 * d * d + 2 * d * kv + 3 * d * f
    tokens = prefix_tokens + label_tokens_fed
    llm = t.num_hidden_layers * 2 * tokens * per_token + 2 * d * t.vocab_size * (1 + label_tokens_fed)
    llm_attention = t.num_hidden_layers * (2 * prefix_tokens**2 * d + 4 * label_tokens_fed * prefix_tokens * d)
    return Flops(vit=vit, vit_attention=vit_attention, llm=llm, llm_attention=llm_attention)


def parameter_counts(model) -> dict[str, float]:
    """Millions of parameters of the language model (without embeddings) and of the vision tower."""
    llm = vit = 0
    for name, p in model.named_parameters():
        if "vision_tower" in name:
            vit += p.numel()
        elif "language_model" in name and "embed_tokens" not in name:
            llm += p.numel()
    return {"llm_m": llm / 1e6, "vit_m": vit / 1e6}
