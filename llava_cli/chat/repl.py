"""The interactive loop of `llava-cli chat`: read a line, answer it or run an in-chat command.

Answers stream to stdout; notices and errors go to stderr, so `llava-cli chat img.jpg < questions.txt
> answers.txt` keeps only the answers. Works on a terminal (with line editing) and on piped stdin.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import TextIO

from .session import ChatSession
from ..errors import LlavaCliError, UsageError

HELP = """\
Type a question about the image, or one of:
  /image PATH   talk about another image or video (a new conversation)
  /clear        forget the conversation, keep the image
  /save FILE    save the conversation (.json or .md)
  /help         this text
  /quit         leave (Ctrl-D works too); Ctrl-C stops a long answer
Start a line with // to send text that begins with /."""


def read_line_from(stream: TextIO, prompt: str) -> Callable[[], str | None]:
    """A line reader: `input()` with a prompt on a terminal, plain readline otherwise.

    Returns None at end of input (Ctrl-D) or on Ctrl-C at the prompt.
    """

    def read() -> str | None:
        interactive = stream is sys.stdin and stream.isatty()
        try:
            if interactive:
                return input(prompt)
            line = stream.readline()
            return None if line == "" else line.rstrip("\r\n")
        except (EOFError, KeyboardInterrupt):
            if interactive:
                print(file=sys.stderr)  # leave the terminal on a fresh line
            return None

    return read


class ChatRepl:
    """Drive a ChatSession from lines of text; `run()` returns when the user leaves."""

    def __init__(self, session: ChatSession, *, stdin: TextIO | None = None, out: TextIO | None = None,
                 err: TextIO | None = None):
        self.session = session
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.read = read_line_from(stdin or sys.stdin, "> ")

    def note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def run(self) -> int:
        """Read and answer lines until /quit or end of input; returns the exit code (0)."""
        self.note(f"chatting about {self.session.image.describe()}; /help for commands, Ctrl-D to leave")
        while True:
            line = self.read()
            if line is None:
                return 0
            line = line.strip()
            if not line:
                continue
            if line.startswith("/") and not line.startswith("//"):
                if not self.command(line):
                    return 0
                continue
            self.answer(line[1:] if line.startswith("//") else line)

    def answer(self, text: str) -> str:
        """Ask the session, streaming the answer to stdout."""

        def emit(piece: str) -> None:
            self.out.write(piece)
            self.out.flush()

        try:
            answer = self.session.ask(text, stream=emit)
        except LlavaCliError as exc:
            self.note(f"error: {exc}")
            return ""
        print(file=self.out, flush=True)
        if self.session.stopped:
            self.note("(answer stopped)")
        return answer

    def command(self, line: str) -> bool:
        """Run an in-chat command; False means leave. Errors are printed, the session goes on."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        try:
            if name in ("/quit", "/exit", "/q"):
                return False
            if name == "/help":
                self.note(HELP)
            elif name == "/clear":
                self.session.clear()
                self.note("history cleared")
            elif name == "/image":
                self.session.set_image(self._path(name, arg))
                self.note(f"new conversation about {self.session.image.describe()}")
            elif name == "/save":
                self.note(f"saved the conversation to {self.session.save(self._path(name, arg))}")
            else:
                self.note(f"error: unknown command {name}; /help lists them")
        except LlavaCliError as exc:
            self.note(f"error: {exc}")
        return True

    def _path(self, name: str, arg: str) -> str:
        if not arg:
            raise UsageError(f"{name} needs a path, e.g. {name} {'photo.jpg' if name == '/image' else 'chat.md'}")
        try:
            parts = shlex.split(arg)
        except ValueError:
            parts = [arg]
        return parts[0] if len(parts) == 1 else arg
