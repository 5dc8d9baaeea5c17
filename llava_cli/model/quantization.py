"""`--load-in-4bit` / `--load-in-8bit`: the bitsandbytes settings, with the vision tower, the
projector and lm_head kept in full precision."""

from __future__ import annotations

from ..config import ModelConfig
from ..errors import ModelLoadError

# Modules kept in full precision when quantizing: bitsandbytes needs full module paths.
QUANT_SKIP_MODULES = ["model.vision_tower", "model.multi_modal_projector", "lm_head"]


def quantization_config(cfg: ModelConfig, dtype):
    """The BitsAndBytesConfig the flags ask for (None: no quantization). Raises ModelLoadError
    without bitsandbytes."""
    if not (cfg.load_in_4bit or cfg.load_in_8bit):
        return None
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelLoadError(f"--load-in-4bit/8bit needs bitsandbytes ({exc}); pip install bitsandbytes") from exc
    if cfg.load_in_4bit:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            llm_int8_skip_modules=QUANT_SKIP_MODULES,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=QUANT_SKIP_MODULES)
