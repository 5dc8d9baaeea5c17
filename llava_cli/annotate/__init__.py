"""`llava-cli annotate`: free-form answers for every image or frame, as a resumable batch job."""

# The public names are loaded on first use (PEP 562), so importing a light module of this package
# (or `llava-cli --help`) does not import torch and transformers.
_EXPORTS = {"Annotator": "api", "AnnotateConfig": "api", "run_annotate": "api"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
