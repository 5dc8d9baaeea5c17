"""`llava-cli chat`: flags -> ChatConfig -> a ChatSession, answered once (-p) or interactively.

--temperature and --max-new-tokens default to None here and take ChatConfig's defaults (chat.py
imports torch, too slow to load just to print the help).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..config import ModelConfig
from ..errors import UsageError
from ._errors import translate_errors
from .options import (
    PROMPT,
    AdapterOpt,
    DeviceOpt,
    DtypeOpt,
    ImageFitOpt,
    Load4bitOpt,
    Load8bitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    RevisionOpt,
    SystemOpt,
    TemperatureOpt,
    TrustRemoteCodeOpt,
    examples,
    given,
    model_config,
)

EXIT_STOPPED = 130  # a one-shot answer cut short by Ctrl-C
EXAMPLES = examples(
    "llava-cli chat photo.jpg",
    'llava-cli chat photo.jpg -p "How many people are in the picture?"',
    "echo 'What happens here?' | llava-cli chat game.mp4 --at 12.5 -p -",
)


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
        Optional[str],
        typer.Option(
            "--prompt", "-p", help="Ask one question, print the answer and exit; '-' reads it from stdin.", rich_help_panel=PROMPT
        ),
    ] = None,
    at: Annotated[
        Optional[float],
        typer.Option("--at", help="For a video: the frame at this many seconds (default: the middle).", rich_help_panel=PROMPT),
    ] = None,
    system: SystemOpt = None,
    model: ModelOpt = ModelConfig.model,
    adapter: AdapterOpt = ModelConfig.adapter,
    revision: RevisionOpt = ModelConfig.revision,
    device: DeviceOpt = ModelConfig.device,
    dtype: DtypeOpt = ModelConfig.dtype,
    load_in_4bit: Load4bitOpt = ModelConfig.load_in_4bit,
    load_in_8bit: Load8bitOpt = ModelConfig.load_in_8bit,
    trust_remote_code: TrustRemoteCodeOpt = ModelConfig.trust_remote_code,
    image_fit: ImageFitOpt = ModelConfig.image_fit,
    temperature: TemperatureOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
) -> None:
    """Talk to the model about an image: interactive and multi-turn, or one answer with -p.

    In the chat: /image PATH, /clear, /save FILE (.json or .md), /help, /quit. Ctrl-C stops a
    long answer; Ctrl-D or Ctrl-C at the prompt leaves.
    """
    options = dict(locals())  # the parsed flags, by name: the configs take the ones they own
    from ..chat.session import ChatConfig, open_session
    from ..chat.repl import ChatRepl

    cfg = ChatConfig(
        **given(ChatConfig, options, exclude=["image", "model", "prompt"]),
        image=image,
        model=model_config(options),
        prompt=read_question(prompt),
    ).validate()
    session = open_session(cfg)
    if cfg.prompt is None:
        raise typer.Exit(ChatRepl(session).run())
    ChatRepl(session).answer(cfg.prompt)
    raise typer.Exit(EXIT_STOPPED if session.stopped else 0)


def register(app: typer.Typer) -> None:
    app.command("chat", epilog=EXAMPLES)(translate_errors(chat))
