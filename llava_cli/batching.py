"""Turn images + one prompt into model inputs, and collate them into left-padded batches."""

from __future__ import annotations

import torch


def encode(processor, image, prompt_text: str) -> dict[str, torch.Tensor]:
    """Processor output for one image and its rendered prompt (batch dimension 1)."""
    encoded = processor(images=[image], text=[prompt_text], return_tensors="pt")
    return {k: v for k, v in encoded.items() if isinstance(v, torch.Tensor)}


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
