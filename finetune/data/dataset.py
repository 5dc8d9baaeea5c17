"""What every reader produces: conversations, bad rows by row number, and the label set.

Also the two views training takes of a data set: stage 1's `plain` format (`as_plain`) and the
deterministic train/validation `split`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llava_cli.errors import UsageError
from llava_cli.model.prompts import render_prompt


class DataError(UsageError):
    """The training data has bad rows (one problem line each) and --skip-bad-rows was not given."""


@dataclass(frozen=True)
class Turn:
    role: str  # "user", "assistant" or "system"
    text: str


@dataclass(frozen=True)
class Conversation:
    """One training example: an optional image and its turns; `label` is set for labelled data."""

    image: Path | None
    turns: tuple[Turn, ...]
    row: int  # where it came from, for messages
    label: str | None = None
    template: str = "chat"  # "chat": the model's chat template; "plain": image then the answer


@dataclass(frozen=True)
class BadRow:
    row: int
    reason: str


@dataclass
class Dataset:
    """What a reader made of one file: good conversations, bad rows, and the label set."""

    source: str
    kind: str  # llava-json | labelled-csv | folders | captions
    conversations: list[Conversation] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    unsure: int = 0  # labelled rows marked `unsure`, left out (unless `unsure` is one of the labels)

    def report(self, limit: int = 20) -> list[str]:
        lines = [f"{self.source} row {b.row}: {b.reason}" for b in self.bad[:limit]]
        if len(self.bad) > limit:
            lines.append(f"{self.source}: {len(self.bad) - limit} more bad rows")
        return lines

    def require_clean(self, skip_bad_rows: bool) -> None:
        """Raise DataError listing the bad rows unless `skip_bad_rows`; raise it too when nothing is left."""
        if self.bad and not skip_bad_rows:
            raise DataError(
                self.report()
                + [f"{len(self.bad)} bad rows in {self.source}, nothing was trained: fix them or pass --skip-bad-rows"]
            )
        if not self.conversations:
            raise DataError(f"{self.source}: no usable rows to train on")


def labelled_conversation(image: Path, label: str, labels: list[str], prompt: str | None, row: int) -> Conversation:
    """The single-turn conversation classify would ask about `image`, answered with `label`."""
    turns = (Turn("user", render_prompt(prompt, labels)), Turn("assistant", label))
    return Conversation(image=image, turns=turns, row=row, label=label)


def as_plain(conv: Conversation) -> Conversation:
    """Stage 1's view of a conversation: LLaVA's `plain` format drops the question (wherever its
    `<image>` stood) and keeps the image and the first answer, the caption."""
    caption = next(t for t in conv.turns if t.role == "assistant")
    return Conversation(conv.image, (caption,), conv.row, conv.label, template="plain")


def split(conversations: list[Conversation], fraction: float, seed: int) -> tuple[list[Conversation], list[Conversation]]:
    """Deterministic train/validation split; the validation part has at least one item when fraction > 0."""
    import random

    if fraction <= 0 or len(conversations) < 2:
        return list(conversations), []
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * fraction))
    val = set(order[:n_val])
    return [c for i, c in enumerate(conversations) if i not in val], [c for i, c in enumerate(conversations) if i in val]
