"""The error table: which exceptions become one `error: ...` line on stderr, with which exit code.

A leaf module (it imports only `llava_cli.errors` and typer), so every command module can import
`translate_errors` without importing the app that registers it. Anything not in the table is a
bug and keeps its traceback. Set LLAVA_CLI_DEBUG=1 (or pass --debug) to see tracebacks for the
table's errors too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps

import typer

from ..errors import EXIT_FAILURE, EXIT_USAGE, LlavaCliError, UsageError, is_out_of_memory
from ..quiet import debug_enabled

EXIT_INTERRUPTED = 130  # Ctrl-C


def fail(message: str, code: int) -> None:
    """Print `error: message` on stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def out_of_memory_hint(flags: set[str]) -> str:
    """What to lower when the accelerator runs out of memory, naming only the command's own flags."""
    fixes = []
    if "batch_size" in flags:
        fixes.append("lower --batch-size")
    if "load_in_4bit" in flags:
        fixes.append("use --load-in-4bit")
    if "gradient_checkpointing" in flags:
        fixes.append("use --gradient-checkpointing")
    if "max_new_tokens" in flags and "batch_size" not in flags:
        fixes.append("lower --max-new-tokens")
    return " or ".join(fixes) or "use a smaller model"


def describe(exc: BaseException, flags: set[str]) -> tuple[list[str], int] | None:
    """The table: (lines, exit code) for an error the user can fix, None for anything else.

    `flags` are the command's parameter names, so a hint only names flags the command has.
    """
    if isinstance(exc, UsageError):
        return list(exc.problems), EXIT_USAGE
    if isinstance(exc, LlavaCliError):
        return [str(exc)], exc.exit_code
    if isinstance(exc, MemoryError):
        return ["out of memory; lower --batch-size or use --load-in-4bit"], EXIT_FAILURE
    if is_out_of_memory(exc):
        return [f"out of GPU memory; {out_of_memory_hint(flags)}"], EXIT_FAILURE
    return None


def translate_errors(fn: Callable) -> Callable:
    """Run a command; turn the table's errors into `error: ...` lines and documented exit codes."""
    flags = set(inspect.signature(fn).parameters)

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted; rerun the same command to resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # MemoryError included: it derives from Exception
            known = describe(exc, flags)
            if known is None or debug_enabled():
                raise
            lines, code = known
            for line in lines:
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(code) from None

    return wrapper
