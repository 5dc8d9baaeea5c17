"""`llava-cli chat`: flags -> ChatConfig -> a ChatSession, answered once (-p) or interactively."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ._errors import translate_errors
from ..config import DEFAULT_MODEL
from ..errors import UsageError
from .options import (
    AdapterOpt,
    DeviceOpt,
    DtypeOpt,
    ImageFitOpt,
    Load4bitOpt,
    Load8bitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    SystemOpt,
    TemperatureOpt,
    TrustRemoteCodeOpt,
    model_config,
)

EXIT_STOPPED = 130  # a one-shot answer cut short by Ctrl-C


def read_question(prompt: str | None) -> str | None:
    """-p TEXT, or stdin for `-p -`. Raises UsageError when stdin gives nothing."""
    if prompt != "-":
        return prompt
    text = sys.stdin.read().strip()
    if not text:
        raise UsageError("-p -: stdin was empty; pipe a question in, e.g. echo 'Describe it' | llava-cli chat img.jpg -p -")
    return text


def chat(
    image: Annotated[str, typer.Argument(help="The image (or video) to talk about.", show_default=False)],
    prompt: Annotated[
        Optional[str], typer.Option("--prompt", "-p", help="Ask one question, print the answer and exit; '-' reads it from stdin.")
    ] = None,
    at: Annotated[Optional[float], typer.Option("--at", help="For a video: the frame at this many seconds (default: the middle).")] = None,
    system: SystemOpt = None,
    temperature: TemperatureOpt = 0.0,
    max_new_tokens: MaxNewTokensOpt = 512,
    model: ModelOpt = DEFAULT_MODEL,
    adapter: AdapterOpt = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    load_in_4bit: Load4bitOpt = False,
    load_in_8bit: Load8bitOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    image_fit: ImageFitOpt = None,
) -> None:
    """Talk to the model about an image: interactive and multi-turn, or one answer with -p.

    In the chat: /image PATH, /clear, /save FILE (.json or .md), /help, /quit. Ctrl-C stops a
    long answer; Ctrl-D or Ctrl-C at the prompt leaves.
    """
    from ..chat import ChatConfig, open_session
    from ..chat_repl import ChatRepl

    cfg = ChatConfig(
        image=image,
        model=model_config(model, adapter, device, dtype, load_in_4bit, load_in_8bit, trust_remote_code, image_fit),
        prompt=read_question(prompt),
        at=at,
        system=system,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
    ).validate()
    session = open_session(cfg)
    if cfg.prompt is None:
        raise typer.Exit(ChatRepl(session).run())
    ChatRepl(session).answer(cfg.prompt)
    raise typer.Exit(EXIT_STOPPED if session.stopped else 0)


def register(app: typer.Typer) -> None:
    app.command("chat")(translate_errors(chat))
