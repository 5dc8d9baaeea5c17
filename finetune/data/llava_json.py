"""LLaVA's instruction format: `id`, `image`, `conversations` of `from`/`value`, `<image>` in a
human turn, as a .json list or .jsonl. Items count from 1; JSON Lines rows are line numbers."""

from __future__ import annotations

import json
from pathlib import Path

from llava_cli.errors import UsageError

from .dataset import BadRow, Conversation, Dataset, Turn
from .files import read_utf8, resolve_image

IMAGE_TAG = "<image>"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def turns_problem(messages: list) -> str | None:
    """What makes a LLaVA `conversations` list untrainable, or None: every turn an object with a
    known `from` and a text `value`; a system turn only first; then human and gpt turns taking
    turns, human first (what chat templates accept and the answer masking assumes)."""
    expected = "user"
    for k, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"turn {k + 1}: not an object with 'from' and 'value'"
        role = ROLES.get(str(message.get("from", "")).lower())
        if role is None:
            return f"turn {k + 1}: 'from' must be human or gpt"
        if not isinstance(message.get("value"), str):
            return f"turn {k + 1}: 'value' must be text (got {type(message.get('value')).__name__})"
        if role == "system":
            if k:
                return f"turn {k + 1}: a system turn may only come first"
            continue
        if role != expected:
            started = any(ROLES.get(str(m.get("from", "")).lower()) != "system" for m in messages[:k])
            return f"turn {k + 1}: " + ("human and gpt must take turns" if started else "the first turn must be human")
        expected = "assistant" if role == "user" else "user"
    return None


def llava_item(item, image_folder: Path | None, base: Path) -> tuple[Conversation | None, str | None]:
    """One item as a Conversation (row 0: the caller numbers it), or (None, why it is a bad row)."""
    if not isinstance(item, dict) or not isinstance(item.get("conversations"), list):
        return None, "not an object with a 'conversations' list"
    problem = turns_problem(item["conversations"])
    if problem:
        return None, problem
    turns = []
    has_tag = False
    for k, message in enumerate(item["conversations"]):
        role = ROLES[str(message["from"]).lower()]  # turns_problem checked every turn
        text = str(message.get("value", ""))
        has_tag |= IMAGE_TAG in text
        text = text.replace(IMAGE_TAG, "").strip() if role == "user" else text.strip()
        if role == "assistant" and not text:
            return None, f"turn {k + 1}: empty answer"
        turns.append(Turn(role, text))
    if not any(t.role == "assistant" for t in turns):
        return None, "no gpt answer to learn from"
    if turns and turns[-1].role != "assistant":
        turns = turns[:-1]
    image = None
    if item.get("image"):
        image, reason = resolve_image(str(item["image"]), base, image_folder)
        if reason:
            return None, reason
    elif has_tag:
        return None, "<image> in the text but no 'image' field"
    return Conversation(image, tuple(turns), 0), None


def _numbered_items(path: Path, text: str, out: Dataset) -> list[tuple[int, object]]:
    """(row number, item) for each item; JSON Lines lines that do not parse become bad rows in `out`.

    Raises UsageError when a .json file is not valid JSON or not a list."""
    if path.suffix.lower() != ".jsonl":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(items, list):
            raise UsageError(f"{path}: expected a JSON list of conversations")
        return list(enumerate(items, start=1))
    numbered: list[tuple[int, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            numbered.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.bad.append(BadRow(number, f"not valid JSON ({exc.msg})"))
    return numbered


def read_llava_json(path: Path, image_folder: Path | None) -> Dataset:
    """LLaVA's instruction format: a JSON list (or JSON lines) of {id, image, conversations}."""
    text = read_utf8(path, "line")
    out = Dataset(str(path), "llava-json")
    for number, item in _numbered_items(path, text, out):
        conversation, reason = llava_item(item, image_folder, path.parent)
        if reason:
            out.bad.append(BadRow(number, reason))
        else:
            out.conversations.append(Conversation(conversation.image, conversation.turns, number))
    out.bad.sort(key=lambda bad: bad.row)  # unparsable lines were found first
    return out
