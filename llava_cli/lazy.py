"""Public names of a package loaded on first use (PEP 562 `__getattr__`).

A command folder's `__init__.py` names its Python API (`from llava_cli.classify import Classifier`)
without importing it: importing a light module of the folder, or running `llava-cli --help`, must not
pull in torch and transformers.
"""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """A module `__getattr__` that imports `exports[name]` (a submodule of `package`) when `name` is asked for."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f".{exports[name]}", package), name)

    return __getattr__
