"""The model layer: loading a checkpoint (+ adapter, quantization, float8, image fit), device
choice, prompts and chat templates, batching, label scoring and generation."""

from ..lazy import lazy_exports

_EXPORTS = {"load_model": "loading", "LoadedModel": "loading"}  # name -> submodule, imported on first use
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
