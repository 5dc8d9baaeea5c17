"""Turn images + one prompt into model inputs, and collate them into left-padded batches."""

from __future__ import annotations

import threading

import torch

from .preprocess import ANYRES, prepad, processor_view

# Processors whose text expansion (how many <image> tokens a prompt becomes) depends only on the
# processed image's height and width, so the tokenized prompt can be reused across images.
_FIXED_EXPANSION_PROCESSORS = frozenset({"LlavaProcessor"})


def encode(processor, image, prompt_text: str) -> dict[str, torch.Tensor]:
    """Processor output for one image and its rendered prompt (batch dimension 1)."""
    encoded = processor(images=[prepad(processor.image_processor, image)], text=[prompt_text], return_tensors="pt")
    return {k: v for k, v in encoded.items() if isinstance(v, torch.Tensor)}


class PromptEncoder:
    """`encode(processor, image, prompt_text)` for many images and one prompt, tokenizing it once.

    The full processor call expands `<image>` into hundreds of tokens and tokenizes the result for
    every image, which costs as much as resizing the image. For LLaVA-1.5 processors the tokens
    depend only on the processed image size, so they are computed once per size and reused; the
    image processor alone runs per image. Other processors (LLaVA-NeXT tiles images into a varying
    number of patches) take the full path. Thread-safe: the decode workers call it concurrently.
    """

    def __init__(self, processor, prompt_text: str):
        self.processor = processor
        self.prompt_text = prompt_text
        self.reuse_text = type(processor).__name__ in _FIXED_EXPANSION_PROCESSORS
        self._text: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def __call__(self, image) -> dict[str, torch.Tensor]:
        image = prepad(self.processor.image_processor, image)
        if not self.reuse_text:
            return encode(self.processor, image, self.prompt_text)
        pixels = self.processor.image_processor(images=[image], return_tensors="pt")
        if set(pixels) != {"pixel_values"}:  # an image processor with extra outputs: no shortcut
            return encode(self.processor, image, self.prompt_text)
        size = tuple(pixels["pixel_values"].shape[-2:])
        with self._lock:
            text = self._text.get(size)
        if text is None:
            full = encode(self.processor, image, self.prompt_text)
            text = {k: v for k, v in full.items() if k != "pixel_values"}
            with self._lock:
                self._text[size] = text
        return {**text, "pixel_values": pixels["pixel_values"]}


def target_min_side(image_processor) -> int | None:
    """The short side `--fast-decode` decodes an image down to (JPEG draft mode, box reduce).

    CLIP-style processors resize the short side to `size["shortest_edge"]` (then crop), others to a
    fixed height x width; any-resolution tiling (LLaVA-NeXT) up to its largest grid pinpoint. With
    pad-to-square the long side is what reaches that size, so this short-side bound is generous
    there. Not lossless even so: downscaling twice (DCT scaling or box filter, then the processor's
    bicubic resize) gives other pixels than one resize (README, --fast-decode). None when unknown.
    """
    if processor_view(image_processor) == ANYRES:
        return int(max(max(point) for point in image_processor.image_grid_pinpoints))
    size = getattr(image_processor, "size", None)

    def field(name: str):  # a plain dict in older transformers, a SizeDict dataclass in 5.x
        return size.get(name) if isinstance(size, dict) else getattr(size, name, None)

    if size is None:
        return None
    if field("shortest_edge"):
        return int(field("shortest_edge"))
    if field("height") and field("width"):
        return int(max(field("height"), field("width")))
    return None


def collate(features: list[dict[str, torch.Tensor]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Left-pad input_ids/attention_mask, concatenate the image tensors (padding patch counts)."""
    longest = max(f["input_ids"].shape[-1] for f in features)
    ids, masks = [], []
    for f in features:
        pad = longest - f["input_ids"].shape[-1]
        ids.append(torch.nn.functional.pad(f["input_ids"], (pad, 0), value=pad_token_id))
        masks.append(torch.nn.functional.pad(f["attention_mask"], (pad, 0), value=0))
    batch = {"input_ids": torch.cat(ids), "attention_mask": torch.cat(masks)}
    for key in features[0]:
        if key in batch:
            continue
        tensors = [f[key] for f in features]
        if tensors[0].dim() >= 2 and len({t.shape[1:] for t in tensors}) > 1:
            # LLaVA-NeXT: images tile into different numbers of patches; pad dim 1 with zeros.
            most = max(t.shape[1] for t in tensors)
            tensors = [
                torch.cat([t, t.new_zeros((t.shape[0], most - t.shape[1], *t.shape[2:]))], dim=1) for t in tensors
            ]
        batch[key] = torch.cat(tensors)
    return batch
