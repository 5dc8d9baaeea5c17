"""What the terminal shows besides the tool's own lines: tracebacks only when asked, and no
library chatter. A leaf module (no package imports), so scripts and the Python API can use it
without loading the command line.
"""

from __future__ import annotations

import os


def debug_enabled() -> bool:
    """Whether --debug / LLAVA_CLI_DEBUG asks for tracebacks instead of one-line errors."""
    return os.environ.get("LLAVA_CLI_DEBUG", "") not in ("", "0")


def quiet_libraries() -> None:
    """Keep library chatter (weight-loading bars, backend notices) off the user's terminal."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if debug_enabled():
        return
    import logging
    import warnings

    # transformers imports torchao (the float8 extra) when it is installed; its notices about
    # CUDA-only kernels it could not load, and torch's about its enums, mean nothing to a user.
    logging.getLogger("torchao").setLevel(logging.ERROR)
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)

    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # Deprecation notices and optional-kernel notices are for library developers, not users.
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    # Pillow warns about one input file at a time (DecompressionBombWarning for a large but
    # allowed image, "Corrupt EXIF data", odd palettes). Each such file either decodes, and its
    # row is right, or fails and becomes an error row that says why; a warning in between only
    # garbles the progress bar. (Images past twice the bomb limit raise and become error rows.)
    warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
