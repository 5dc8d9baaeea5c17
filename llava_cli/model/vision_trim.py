"""Drop the vision encoder layers whose output LLaVA never reads (inference only; exact).

LLaVA reads the vision tower's hidden states at `vision_feature_layer` (llava-1.5 and LLaVA-NeXT:
-2, the second-to-last layer; VipLLaVA: several layers, the deepest -2), yet transformers runs
the whole tower and discards what comes after. Those layers cost compute and change nothing:
one of CLIP ViT-L's 24 layers per image (per crop for LLaVA-NeXT). With them removed and the
feature layer counted from the front, the model computes the same features, bit for bit.

Only for loaded-for-inference models: a trimmed model must never be saved (its checkpoint would
lack those layers), which is why `load_model(for_training=True)` and `load_model(keep_all_layers=True)` (merge)
leave the tower whole.
"""

from __future__ import annotations

from dataclasses import dataclass


def _encoder_layers(vision_tower):
    """The ModuleList of a CLIP/SigLIP-style tower's encoder layers (None: another structure)."""
    import torch

    # transformers 5 puts the encoder on the tower itself; 4.x behind `.vision_model`.
    encoder = getattr(getattr(vision_tower, "vision_model", vision_tower), "encoder", None)
    layers = getattr(encoder, "layers", None)
    return layers if isinstance(layers, torch.nn.ModuleList) else None


def _core(model):
    """The module holding `vision_tower` (LlavaModel and kin), through a peft wrapper too."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, "model", base)


@dataclass
class DroppedLayers:
    """What `drop_unread_vision_layers` took out, so that `restore_vision_layers` can put it back."""

    layers: list
    feature_layer: int | list[int]  # the config's value before
    num_hidden_layers: int | None


def drop_unread_vision_layers(model) -> DroppedLayers | None:
    """Remove the encoder layers after the deepest one `vision_feature_layer` reads, in place.

    Returns what was removed (None when every layer is read, or for towers of another
    structure). The config's feature layer index(es) become counted from the front, so the
    hidden state the model selects is the same one.
    """
    config = getattr(model, "config", None)
    layers = _encoder_layers(getattr(_core(model), "vision_tower", None))
    feature_layer = getattr(config, "vision_feature_layer", None)
    if layers is None or feature_layer is None:
        return None
    count = len(layers)
    # hidden_states[0] is the embedding output, hidden_states[i] the output of layer i.
    wanted = [feature_layer] if isinstance(feature_layer, int) else list(feature_layer)
    from_front = [index if index >= 0 else count + 1 + index for index in wanted]
    keep = max(from_front)
    if keep >= count or min(from_front) < 0:
        return None
    vision_config = getattr(config, "vision_config", None)
    dropped = DroppedLayers(list(layers[keep:]), feature_layer, getattr(vision_config, "num_hidden_layers", None))
    del layers[keep:]
    config.vision_feature_layer = from_front[0] if isinstance(feature_layer, int) else from_front
    if dropped.num_hidden_layers is not None:
        vision_config.num_hidden_layers = keep
    return dropped


def restore_vision_layers(model, dropped: DroppedLayers | None) -> None:
    """Undo `drop_unread_vision_layers` (the benchmark runs transformers' own routes on the whole model)."""
    if dropped is None:
        return
    config = model.config
    layers = _encoder_layers(_core(model).vision_tower)
    # transformers 5 records hidden states with forward hooks, installed once, on the layers present
    # at the first forward: layers put back after that need the same hooks to be counted.
    for layer in dropped.layers:
        if not layer._forward_hooks:
            for hook in layers[0]._forward_hooks.values():
                layer.register_forward_hook(hook)
    layers.extend(dropped.layers)
    config.vision_feature_layer = dropped.feature_layer
    if dropped.num_hidden_layers is not None:
        config.vision_config.num_hidden_layers = dropped.num_hidden_layers
