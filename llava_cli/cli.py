"""The `llava-cli` command line: registers commands and translates errors, nothing else.

Each command's logic lives in its own module with a Python API; here flags become a config
dataclass, the API is called, and LlavaCliError becomes one line on stderr plus an exit code.
Set LLAVA_CLI_DEBUG=1 (or pass --debug) to see tracebacks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps

import typer

from .errors import EXIT_FAILURE, EXIT_USAGE, LlavaCliError, UsageError

app = typer.Typer(
    name="llava-cli",
    help="Label images and video frames with a LLaVA vision-language model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _debug() -> bool:
    return os.environ.get("LLAVA_CLI_DEBUG", "") not in ("", "0")


def fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def translate_errors(fn: Callable) -> Callable:
    """Run a command; turn known errors into `error: ...` lines and documented exit codes."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except UsageError as exc:
            if _debug():
                raise
            for problem in exc.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except LlavaCliError as exc:
            if _debug():
                raise
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted; rerun the same command to resume", err=True)
            raise typer.Exit(130) from None
        except MemoryError:
            if _debug():
                raise
            fail("out of memory; lower --batch-size or use --load-in-4bit", EXIT_FAILURE)

    return wrapper


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    if debug:
        os.environ["LLAVA_CLI_DEBUG"] = "1"


def quiet_libraries() -> None:
    """Keep library chatter (weight-loading bars, backend notices) off the user's terminal."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if _debug():
        return
    import logging
    import warnings

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
    from .commands import register_all

    quiet_libraries()
    register_all(app)
    app(prog_name="llava-cli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
