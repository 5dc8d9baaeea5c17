"""Errors the tool reports as one line, and the exit codes they map to.

Library code raises these; only `llava_cli.cli` turns them into messages and exit codes, so the
Python API gives callers real exceptions while the command line never shows a traceback (unless
`--debug` / LLAVA_CLI_DEBUG=1 asks for one).
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
