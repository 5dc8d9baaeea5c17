"""`llava-cli chat`: the session (history, streaming, transcripts) and its terminal REPL."""

from ..lazy import lazy_exports

_EXPORTS = {"ChatSession": "session", "ChatConfig": "session"}  # name -> submodule, imported on first use
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
