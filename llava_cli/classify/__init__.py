"""`llava-cli classify`: the Python API (`Classifier`, `run_classify`), its rows and sidecar, the
decision rule, video segments and `--dry-run`."""

from ..lazy import lazy_exports

_EXPORTS = {"Classifier": "api", "run_classify": "api"}  # name -> submodule, imported on first use
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
