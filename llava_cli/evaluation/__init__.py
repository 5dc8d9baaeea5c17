"""`llava-cli eval`: how right a classify output is, where it confuses classes, and whether its
probabilities can be trusted. `run_eval(EvalConfig(...))` is the Python API."""

from .report import DEFAULT_LEVELS, EvalConfig, EvalReport, run_eval
from .text import format_text

__all__ = ["DEFAULT_LEVELS", "EvalConfig", "EvalReport", "format_text", "run_eval"]
