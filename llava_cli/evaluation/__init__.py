"""`llava-cli eval`: how right a classify output is, where it confuses classes, and whether its
probabilities can be trusted. `run_eval(EvalConfig(...))` is the Python API.

EvalConfig and DEFAULT_LEVELS are light; run_eval, EvalReport and format_text load numpy,
polars, scikit-learn and matplotlib, so they are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .config import DEFAULT_LEVELS, EvalConfig

__all__ = ["DEFAULT_LEVELS", "EvalConfig", "EvalReport", "format_text", "run_eval"]


def __getattr__(name: str) -> Any:
    if name in ("EvalReport", "run_eval"):
        from . import report

        return getattr(report, name)
    if name == "format_text":
        from .text import format_text

        return format_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
