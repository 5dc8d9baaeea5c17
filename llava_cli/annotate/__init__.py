"""`llava-cli annotate`: free-form answers for every image or frame, as a resumable batch job."""

from ..lazy import lazy_exports

_EXPORTS = {"Annotator": "api", "AnnotateConfig": "api", "run_annotate": "api"}  # name -> submodule, imported on first use
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
