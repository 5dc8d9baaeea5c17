"""Talk to the model about one image: a multi-turn conversation, usable without the command line.

>>> session = ChatSession(load_model(ModelConfig(model="llava-hf/llava-1.5-7b-hf")), "photo.jpg")
>>> session.ask("What is the player doing?", stream=print)
>>> session.ask("And the crowd?")          # sees the first question and answer
>>> session.save("talk.md")

The whole conversation goes back through the model's chat template on every turn. The image goes
into the first user turn only (LLaVA-1.5 takes one image per conversation); `set_image` starts a
new conversation, `clear` forgets the history but keeps the image.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ..config import ModelConfig
from ..errors import InputError, OutputError, UsageError
from ..model.generation import AnswerStreamer, generate_answer, stop_token_ids
from ..media.video import frame_at, is_video, load_image
from ..model.loading import LoadedModel, load_model, with_image_fit
from ..model.preprocess import image_fit
from ..model.prompts import assistant_message, check_system_supported, render, system_message, user_message

__all__ = ["ChatConfig", "ChatSession", "ChatImage", "generate_answer", "open_session", "load_chat_image"]

TRANSCRIPT_SUFFIXES = (".json", ".md")


@dataclass
class ChatConfig:
    """Everything `chat` needs, validated once by `validate()`."""

    image: str
    model: ModelConfig = field(default_factory=ModelConfig)
    prompt: str | None = None  # one question, answered once; None: interactive
    at: float | None = None  # seconds into a video; None: the middle frame
    system: str | None = None
    temperature: float = 0.0
    max_new_tokens: int = 512

    def validate(self) -> "ChatConfig":
        """Return self, or raise UsageError listing every problem with the flag to fix it."""
        problems = self.model.problems()
        if not self.image:
            problems.append("no image: pass an image or video path")
        if self.at is not None and not (math.isfinite(self.at) and self.at >= 0):
            problems.append(f"--at must be a number of seconds >= 0 (got {self.at})")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            problems.append(f"--temperature must be a number >= 0 (got {self.temperature}); 0 is greedy")
        if self.max_new_tokens < 1:
            problems.append(f"--max-new-tokens must be >= 1 (got {self.max_new_tokens})")
        if self.prompt is not None and not self.prompt.strip():
            problems.append("--prompt is empty: write a question, or leave it out to chat")
        if self.system is not None and not self.system.strip():
            problems.append("--system is empty: write a system message, or leave it out")
        if problems:
            raise UsageError(problems)
        return self


@dataclass
class ChatImage:
    """The image a conversation is about, and where it came from."""

    image: Any  # PIL.Image
    source: str
    frame: int | None = None
    timestamp_s: float | None = None

    def describe(self) -> str:
        if self.frame is None:
            return self.source
        return f"{self.source} (frame {self.frame}, {self.timestamp_s:.2f} s)"


def load_chat_image(image, at: float | None = None) -> ChatImage:
    """A ChatImage from a PIL image, an image path, or a video path (the frame at `at` seconds,
    default the middle). Raises InputError for a missing or unreadable file."""
    if not isinstance(image, (str, Path)):
        return ChatImage(image=image, source=str(getattr(image, "filename", "") or "<image>"))
    path = Path(image).expanduser()
    if is_video(path):
        frame = frame_at(path, at)
        return ChatImage(frame.image, str(image), frame.index, round(frame.timestamp_s, 6))
    if path.is_dir():
        raise InputError(f"{image}: is a folder; chat takes one image or video")
    return ChatImage(load_image(path), str(image))


class StopOnFlag(StoppingCriteria):
    """Stops generation (every row) once `event` is set, e.g. by a Ctrl-C handler."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


@contextmanager
def ctrl_c_sets(event: threading.Event) -> Iterator[None]:
    """While inside, Ctrl-C (SIGINT) sets `event` instead of raising KeyboardInterrupt.

    Only the main thread can install signal handlers; elsewhere this does nothing (Ctrl-C then
    raises KeyboardInterrupt as usual, which `ChatSession.ask` also treats as "stop this answer").
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield
    finally:
        # None: the old handler was not installed from Python; restore Python's default then.
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


class ChatSession:
    """A conversation with a loaded model about one image (see the module docstring).

    Attributes: `messages` (the history, as chat-template messages), `image` (a ChatImage),
    `stopped` (True when the last answer was cut short by Ctrl-C).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        image,
        *,
        system: str | None = None,
        at: float | None = None,
        temperature: float = 0.0,
        max_new_tokens: int = 512,
    ):
        self.loaded = loaded
        self.system = system
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.at = at
        self.image: ChatImage = image if isinstance(image, ChatImage) else load_chat_image(image, at)
        self.messages: list[dict] = []
        self.stopped = False
        self.clear()

    # -- conversation --------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the history (keep the image and the system message)."""
        self.messages = [system_message(self.system)] if self.system else []

    def set_image(self, image, at: float | None = None) -> None:
        """Start a new conversation about `image` (path, video path or PIL image).

        Raises InputError for a missing or unreadable file; the current image and history are
        then kept unchanged.
        """
        self.image = load_chat_image(image, self.at if at is None else at)
        self.clear()

    def ask(self, text: str, stream: Callable[[str], None] | None = None) -> str:
        """The model's answer to `text` after the history so far; both are added to the history.

        `stream` gets the answer piece by piece as it is generated (the pieces join to the return
        value). Ctrl-C during generation stops this answer: what was generated so far is returned
        and kept, and `self.stopped` is set. Raises UsageError for an empty question.
        """
        if not text.strip():
            raise UsageError("empty question: type something to ask about the image")
        has_image_turn = any(m["role"] == "user" for m in self.messages)
        turn = self.messages + [user_message(text, with_image=not has_image_turn)]
        tok = self.loaded.tokenizer
        streamer = AnswerStreamer(tok, stream or (lambda piece: None), stop_token_ids(self.loaded.processor))
        interrupted = threading.Event()
        try:
            with ctrl_c_sets(interrupted):
                answer = generate_answer(
                    self.loaded,
                    turn,
                    self.image.image,
                    max_new_tokens=self.max_new_tokens,
                    temperature=self.temperature,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([StopOnFlag(interrupted)]),
                )
        except KeyboardInterrupt:  # Ctrl-C outside the handler (another thread, or before it was set)
            interrupted.set()
            answer = streamer.text
        self.stopped = interrupted.is_set()
        if self.stopped:  # keep what was shown: not a byte run that the next token would have finished
            answer = streamer.text
        self.messages = turn + [assistant_message(answer)]
        return answer

    def rendered_prompt(self, text: str | None = None) -> str:
        """What the model would read for the next turn (with `text` as the question, if given)."""
        has_image_turn = any(m["role"] == "user" for m in self.messages)
        turn = self.messages + ([user_message(text, with_image=not has_image_turn)] if text else [])
        return render(self.loaded.processor, turn, add_generation_prompt=True)

    # -- transcript ----------------------------------------------------------------------------
    def transcript(self) -> dict[str, Any]:
        """The current conversation as plain data: model, image, settings and turns."""
        turns = []
        for message in self.messages:
            text = "".join(part.get("text", "") for part in message["content"] if part.get("type") == "text")
            turns.append({"role": message["role"], "text": text})
        return {
            "model": self.loaded.config.model,
            "adapter": self.loaded.config.adapter,
            "image_fit": image_fit(self.loaded.processor),
            "image": self.image.source,
            "frame": self.image.frame,
            "timestamp_s": self.image.timestamp_s,
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "messages": turns,
        }

    def save(self, path: str | Path) -> Path:
        """Write the current conversation as JSON (.json) or Markdown (.md) and return the path.

        Raises UsageError for another extension, OutputError when the file cannot be written.
        """
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        if suffix not in TRANSCRIPT_SUFFIXES:
            raise UsageError(f"/save {path}: use a .json or .md file name")
        if path.exists() and not path.is_file():  # opening a FIFO for writing blocks until someone reads it
            raise OutputError(f"/save {path}: not a regular file; name a .json or .md file")
        data = self.transcript()
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if suffix == ".json" else transcript_markdown(data)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"/save {path}: cannot write ({exc.strerror})") from exc
        return path


def transcript_markdown(data: dict[str, Any]) -> str:
    """A transcript (ChatSession.transcript()) as Markdown."""
    image = data["image"] if data["frame"] is None else f"{data['image']} (frame {data['frame']}, {data['timestamp_s']:.2f} s)"
    lines = [f"# Chat about {image}", "", f"Model: `{data['model']}`" + (f" + adapter `{data['adapter']}`" if data["adapter"] else ""), ""]
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    for turn in data["messages"]:
        lines += [f"**{names.get(turn['role'], turn['role'])}:** {turn['text']}", ""]
    return "\n".join(lines)


def open_session(cfg: ChatConfig, *, loaded: LoadedModel | None = None) -> ChatSession:
    """Validate `cfg`, read the image (before the slow model load), load the model, start a session.

    Raises UsageError (bad settings, --system the template cannot take), InputError (missing or
    unreadable image), ModelLoadError.
    """
    cfg.validate()
    image = load_chat_image(cfg.image, cfg.at)
    loaded = with_image_fit(loaded, cfg.model.image_fit) if loaded else load_model(cfg.model)
    if cfg.system:
        check_system_supported(loaded.processor, cfg.system)
    return ChatSession(
        loaded,
        image,
        system=cfg.system,
        at=cfg.at,
        temperature=cfg.temperature,
        max_new_tokens=cfg.max_new_tokens,
    )
