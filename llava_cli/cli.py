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
from .quiet import quiet_libraries

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


def main() -> None:
    """Console-script entry point."""
    quiet_libraries()
    app(prog_name="llava-cli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
