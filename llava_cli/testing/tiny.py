"""The default tiny LLaVA of the tests, examples and benchmarks: the llava-1.5 family at chosen sizes.

`build_tiny_llava` writes a random LLaVA-1.5 (CLIP + Llama) that carries llava-1.5-7b-hf's real
chat template and a SentencePiece-style tokenizer (llava_cli.testing.families), at the widths of a
`TinyLlavaSpec`; `build_tiny_llava_next` writes the llava-v1.6-vicuna family likewise. Both load
back with `from_pretrained` exactly like a hub checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .families import Sizes, build_family
from .tokenizers import DEFAULT_CORPUS


@dataclass
class TinyLlavaSpec:
    """Sizes of a random LLaVA. Defaults give a small model that loads in milliseconds."""

    image_size: int = 32
    patch_size: int = 8
    vision_hidden: int = 32
    vision_layers: int = 2
    vision_heads: int = 4
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 4  # Llama-2 (llava-1.5's language model) is multi-head
    intermediate: int = 128
    vocab_size: int = 0  # the embedding rows at least (0: the tokenizer's size, rounded up to 64)
    # 0.02 is the real configs' value; 0.2 gives sharper random logits that learn in a few steps.
    initializer_range: float = 0.02
    seed: int = 0
    extra_corpus: list[str] = field(default_factory=list)

    def sizes(self) -> Sizes:
        return Sizes(
            image_size=self.image_size, patch_size=self.patch_size, initializer_range=self.initializer_range,
            hidden=self.text_hidden, layers=self.text_layers, heads=self.text_heads, kv_heads=self.text_kv_heads,
            intermediate=self.intermediate, vision_hidden=self.vision_hidden, vision_layers=self.vision_layers,
            vision_heads=self.vision_heads, min_model_vocab=self.vocab_size,
        )  # fmt: skip


def _build(family: str, path: str | Path, spec: TinyLlavaSpec | None) -> Path:
    spec = spec or TinyLlavaSpec()
    corpus = list(DEFAULT_CORPUS) + list(spec.extra_corpus)
    return build_family(family, path, seed=spec.seed, sizes=spec.sizes(), corpus=corpus)


def build_tiny_llava(path: str | Path, spec: TinyLlavaSpec | None = None) -> Path:
    """Write a random LLaVA-1.5 checkpoint (model, tokenizer, processor) to `path` and return it."""
    return _build("llava-1.5", path, spec)


def build_tiny_llava_next(path: str | Path, spec: TinyLlavaSpec | None = None) -> Path:
    """Write a random LLaVA-NeXT (llava-v1.6-vicuna) checkpoint: any-resolution tiling, so images of
    different shapes give different numbers of image tokens."""
    return _build("llava-v1.6-vicuna", path, spec)
