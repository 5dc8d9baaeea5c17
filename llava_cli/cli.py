"""The `llava-cli` command line: builds the app and registers the commands, nothing else.

Each command's logic lives in its own module with a Python API; its `commands/*_cmd.py` module
turns flags into a config dataclass and calls the API, and `commands/_errors.py` (the error
table) turns LlavaCliError and out-of-memory into one line on stderr plus an exit code. Imports
go one way: this module imports the commands; no command imports this module.
Set LLAVA_CLI_DEBUG=1 (or pass --debug) to see tracebacks.
"""

from __future__ import annotations

import os
import sys

import typer

from .commands import annotate_cmd, chat_cmd, classify_cmd, eval_cmd, finetune_cmd, review_cmd
from .commands._errors import debug_enabled

COMMANDS = (classify_cmd, annotate_cmd, chat_cmd, finetune_cmd, eval_cmd, review_cmd)  # in --help order

app = typer.Typer(
    name="llava-cli",
    help="Label images and video frames with a LLaVA vision-language model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    if debug:
        os.environ["LLAVA_CLI_DEBUG"] = "1"


for _command in COMMANDS:
    _command.register(app)


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


def main() -> None:
    """Console-script entry point."""
    quiet_libraries()
    app(prog_name="llava-cli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
