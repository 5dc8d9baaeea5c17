"""Errors the tool reports as one line, and the exit codes they map to.

Library code raises these; only the command line (`llava_cli.commands._errors`, the error table)
turns them into messages and exit codes, so the Python API gives callers real exceptions while the
command line never shows a traceback (unless `--debug` / LLAVA_CLI_DEBUG=1 asks for one). This
module imports nothing from the package: every other module may import it.
"""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FAILURE = 1  # the run could not do its job (model would not load, output not writable, ...)
EXIT_USAGE = 2  # bad arguments: nothing was run
EXIT_PARTIAL = 3  # the run finished but some inputs became error rows


class LlavaCliError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = EXIT_FAILURE


class UsageError(LlavaCliError):
    """Bad arguments or configuration; raised before any work starts."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class ModelLoadError(LlavaCliError):
    """The model, processor or adapter could not be loaded."""


class InputError(LlavaCliError):
    """An input file could not be read (becomes an error row in batch commands)."""


class OutputError(LlavaCliError):
    """The output file cannot be written or resumed."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is an accelerator running out of memory (torch.OutOfMemoryError, or the
    RuntimeError older builds and other backends raise with "out of memory" in its text).

    Such an error is about the run's settings (--batch-size, quantization), not about one input:
    batch loops re-raise it instead of writing error rows, and the command line says what to lower.
    Needs no torch import: checked by name, so this module stays a leaf.
    """
    if not isinstance(exc, RuntimeError):
        return False
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    return "out of memory" in str(exc).lower()
