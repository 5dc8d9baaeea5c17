"""What each training stage does to each component, declared once, and applied in one function.

A stage is data: for each component of a LLaVA model (vision tower, projector, language model)
it says "frozen", "full" or "lora", plus whether the base is loaded in 4-bit. `apply_stage` is the
only place that turns that declaration into `requires_grad` flags and peft wrappers; nothing else
branches on the stage name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

FROZEN, FULL, LORA = "frozen", "full", "lora"
MODES = (FROZEN, FULL, LORA)
COMPONENTS = ("vision_tower", "projector", "language_model")

# Parameter-name patterns (matched with re.match on the LlavaForConditionalGeneration names).
COMPONENT_PATTERNS = MappingProxyType(
    {
        "vision_tower": r"(model\.)?vision_tower\.",
        # LLaVA-NeXT's image_newline (the learned row separator of tiled images) trains with the
        # projector, as in LLaVA-NeXT's own mm_mlp_adapter stage. Under LoRA, peft leaves it frozen
        # (only adapters and modules_to_save train), so an adapter never needs to carry it.
        "projector": r"(model\.)?(multi_modal_projector\.|image_newline$)",
        "language_model": r"((model\.)?language_model\.|lm_head\.)",
    }
)
# LoRA goes on the language model's linear layers only: q_proj etc. also exist in the CLIP tower.
LORA_TARGET_REGEX = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
PROJECTOR_MODULE = "multi_modal_projector"


@dataclass(frozen=True)
class TrainableParams:
    """How each component trains in one stage."""

    vision_tower: str = FROZEN
    projector: str = FULL
    language_model: str = FROZEN
    load_in_4bit: bool = False
    description: str = ""

    def __post_init__(self):
        for name in COMPONENTS:
            if getattr(self, name) not in MODES:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not one of {MODES}")
        if self.projector == LORA or self.vision_tower == LORA:
            raise ValueError("only the language model takes LoRA adapters")

    @property
    def uses_lora(self) -> bool:
        return self.language_model == LORA

    def modes(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in COMPONENTS}


STAGES = MappingProxyType(
    {
        "pretrain": TrainableParams(FROZEN, FULL, FROZEN, description="stage 1: feature alignment (projector only)"),
        "instruct": TrainableParams(FROZEN, FULL, FULL, description="stage 2: projector + language model end to end"),
        "lora": TrainableParams(FROZEN, FULL, LORA, description="LoRA on the language model, projector trainable"),
        "qlora": TrainableParams(FROZEN, FULL, LORA, load_in_4bit=True, description="LoRA on a 4-bit NF4 base"),
    }
)


def component_of(param_name: str) -> str | None:
    """Which component a (base-model) parameter name belongs to; None for anything else."""
    name = param_name.removeprefix("base_model.model.")
    for component, pattern in COMPONENT_PATTERNS.items():
        if re.match(pattern, name):
            return component
    return None


@dataclass(frozen=True)
class LoraSettings:
    r: int = 128
    alpha: int = 256
    dropout: float = 0.05


def apply_stage(model, plan: TrainableParams, lora: LoraSettings | None = None):
    """Set what trains in `model` according to `plan`; returns the model (peft-wrapped for LoRA).

    Raises ValueError when a parameter belongs to no known component (an unsupported architecture).
    """
    for name, param in model.named_parameters():
        component = component_of(name)
        if component is None:
            raise ValueError(f"parameter {name} belongs to no LLaVA component (vision tower, projector, language model)")
        param.requires_grad_(getattr(plan, component) == FULL)
    if not plan.uses_lora:
        return model
    from peft import LoraConfig, get_peft_model

    lora = lora or LoraSettings()
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=LORA_TARGET_REGEX,
        # The projector rides along in the adapter folder, so `--adapter` restores it too.
        modules_to_save=[PROJECTOR_MODULE] if plan.projector == FULL else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, peft_config)


def trainable_summary(model) -> dict[str, int]:
    """Number of trainable parameters per component (LoRA weights count under language_model)."""
    out = {name: 0 for name in COMPONENTS}
    for name, param in model.named_parameters():
        if param.requires_grad:
            component = component_of(name.replace(".modules_to_save.default", "")) or "language_model"
            out[component] += param.numel()
    return out
