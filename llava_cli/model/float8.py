"""`--dtype float8`: the language model's linear layers in float8 (torchao), everything else in bf16.

Opt-in, because it changes the probabilities: the README's performance section gives how far they
move from bf16 (max and mean |Δp| on the benchmark images). Weights are stored as float8 e4m3
with one scale per output row; activations are scaled per row on the fly (torchao's
`Float8DynamicActivationFloat8WeightConfig(PerRow())`), and the products run on the GPU's float8
matrix units. The vision tower, the projector and lm_head stay in bf16: together they are a few
percent of the work, and the label probabilities are read from lm_head's logits.

Needs a CUDA GPU with float8 matrix units (compute capability 8.9 or later: L4, L40, RTX 4090,
H100, H200) and torchao (`pip install 'llava-cli[fp8]'`).
"""

from __future__ import annotations

from ..config import FLOAT8

__all__ = ["FLOAT8", "MIN_CAPABILITY", "float8_unavailable", "language_model", "to_float8"]

MIN_CAPABILITY = (8, 9)


def float8_unavailable(device) -> str | None:
    """Why `--dtype float8` cannot run on `device`, in one line with the fix (None: it can)."""
    import torch

    if device.type != "cuda":
        return (
            f"--dtype float8 needs a CUDA GPU with float8 units (compute capability 8.9+: L4, L40, RTX 4090, "
            f"H100, H200), not {device.type}; use --dtype bfloat16 (or auto) here"
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < MIN_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        return (
            f"--dtype float8: {name} (compute capability {capability[0]}.{capability[1]}) has no float8 "
            "matrix units; use --dtype bfloat16"
        )
    try:
        import torchao  # noqa: F401
    except ImportError:
        return "--dtype float8 needs torchao: pip install 'llava-cli[fp8]' (or pip install torchao)"
    return None


def language_model(model):
    """The decoder stack of a LLaVA-family model (without lm_head), through a peft wrapper too."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", base)
    found = getattr(inner, "language_model", None)
    if found is None:
        raise ValueError(f"{type(base).__name__} has no language_model to convert to float8")
    return found


def to_float8(model) -> None:
    """Convert the language model's linear layers to float8 in place."""
    import torch
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    quantize_(
        language_model(model),
        Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
        filter_fn=lambda module, _name: isinstance(module, torch.nn.Linear),
    )
