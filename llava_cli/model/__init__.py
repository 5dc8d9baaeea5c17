"""The model layer: loading a checkpoint (+ adapter, quantization, float8, image fit), device
choice, prompts and chat templates, batching, label scoring and generation."""

# The public names are loaded on first use (PEP 562), so importing a light module of this package
# (or `llava-cli --help`) does not import torch and transformers.
_EXPORTS = {"load_model": "loading", "LoadedModel": "loading"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
