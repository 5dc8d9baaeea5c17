"""Training data -> conversations, with every bad row reported by its row number.

Readers:
- LLaVA JSON (`id`, `image`, `conversations` of `from`/`value`, `<image>` in a human turn),
  as a .json list or .jsonl; relative image paths resolve under `--image-folder` and may not escape it;
- a labelled CSV: a path column (`source` as classify writes it, or `image`/`path`) and `label`
  (rows labelled `unsure`, as `llava-cli review` marks them, are left out and counted);
- a folder per class (`data/shooting/*.jpg`);
- an image-caption CSV (`image`/`path`/`source` and `caption`) for stage 1.

Labelled rows become single-turn conversations asking classify's own prompt for the label set,
so what is trained is exactly what classify asks later. Row numbers: CSV rows count as in a
spreadsheet (the header is row 1); JSON items count from 1.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from llava_cli.columns import UNSURE  # the label `llava-cli review` writes for a row marked unsure (skipped, not a class)
from llava_cli.errors import UsageError
from llava_cli.inputs import natural_key
from llava_cli.media import IMAGE_EXTENSIONS
from llava_cli.prompts import render_prompt

PATH_COLUMNS = ("source", "image", "path")
CAPTION_COLUMNS = ("caption", "text")
IMAGE_TAG = "<image>"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
# Label cells that are an empty value exported by a spreadsheet or pandas, not a class (unless --labels names one).
MISSING_LABELS = frozenset({"nan", "<na>", "n/a", "null"})

log = logging.getLogger(__name__)


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


def _readable_image(path: Path) -> str | None:
    """None if `path` is a readable image, else the reason it is not."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        # is_file() is False for a FIFO or device too: never opened, it could block forever
        return f"not a regular file: {path}" if path.exists() else f"image not found: {path}"
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"unreadable image {path} ({type(exc).__name__})"
    return None


def locate(value: str, base: Path, image_folder: Path | None, what: str = "image") -> tuple[Path | None, str | None]:
    """The file a row names (image or video): relative to --image-folder, which it may not escape
    (symlinks resolved), else to `base`. Returns (path, None) or (None, reason)."""
    raw = Path(value.strip())
    if image_folder is not None:
        root = image_folder.resolve()
        path = (root / raw).resolve() if not raw.is_absolute() else raw.resolve()
        if not path.is_relative_to(root):
            return None, f"{what} path {value} escapes --image-folder {image_folder}"
    elif raw.is_absolute() or raw.exists():
        path = raw
    else:
        path = base / raw
    return path, None


def resolve_image(value: str, base: Path, image_folder: Path | None) -> tuple[Path | None, str | None]:
    """The readable image a row names (see `locate`). Returns (path, None) or (None, reason)."""
    path, reason = locate(value, base, image_folder)
    reason = reason or _readable_image(path)
    return (None, reason) if reason else (path, None)


def labelled_conversation(image: Path, label: str, labels: list[str], prompt: str | None, row: int) -> Conversation:
    """The single-turn conversation classify would ask about `image`, answered with `label`."""
    turns = (Turn("user", render_prompt(prompt, labels)), Turn("assistant", label))
    return Conversation(image=image, turns=turns, row=row, label=label)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """(lowercased header, rows as dicts, each row's number as a spreadsheet shows it).

    Blank lines count as rows (a spreadsheet shows them) and a quoted newline does not start one.
    Cells are unescaped as classify escapes them against formula injection (llava_cli.output).
    Raises UsageError for text that is not UTF-8 or not CSV, naming the row.
    """
    from llava_cli.output import unescape_cell

    require_regular(path, "--data")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        row = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} row {row}: not UTF-8 text; save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as exc:
        raise UsageError(f"{path} line {reader.line_num}: not valid CSV ({exc})") from None
    if not records:
        return [], [], []
    columns = [c.strip().lower() for c in records[0]]
    rows, numbers = [], []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank row: nothing to train on, but it keeps the numbering
        cells = [unescape_cell(cell) for cell in record] + [""] * (len(columns) - len(record))
        rows.append({name: cell for name, cell in zip(columns, cells) if name})
        numbers.append(number)
    return columns, rows, numbers


def require_regular(path: Path, flag: str) -> None:
    """Raise UsageError unless `path` is a regular file (a FIFO would block reading forever)."""
    if not path.is_file():
        raise UsageError(f"{flag} {path}: " + ("not a regular file" if path.exists() else "no such file"))


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((c for c in wanted if c in columns), None)


def read_labelled_csv(
    path: Path, labels: list[str], prompt: str | None, image_folder: Path | None, frame_dir: Path | None = None
) -> Dataset:
    """A CSV with a path column and a `label` column (e.g. classify's output after correction).

    Rows with a `frame` (video frames, as classify writes them) are decoded once into `frame_dir`
    as PNG files and trained on like images; without a `frame_dir` they are bad rows.
    """
    columns, rows, numbers = _read_csv(path)
    column = _pick(columns, PATH_COLUMNS)
    if column is None:
        raise UsageError(f"{path}: no path column; name one of {', '.join(PATH_COLUMNS)}")
    missing = lambda label: label.lower() in MISSING_LABELS and label not in labels  # noqa: E731
    found = {r["label"].strip() for r in rows if r.get("label", "").strip()}
    fixed = list(labels) or sorted(label for label in found if not missing(label) and label != UNSURE)
    out = Dataset(str(path), "labelled-csv", labels=fixed)
    frames = _video_frames(rows, numbers, column, path.parent, image_folder, frame_dir)
    for number, row in zip(numbers, rows):
        label = row.get("label", "").strip()
        if label == UNSURE and UNSURE not in fixed:
            out.unsure += 1
            continue
        if not label:
            out.bad.append(BadRow(number, "empty label"))
            continue
        if missing(label):
            out.bad.append(BadRow(number, f"label {label!r} is a missing value (an empty cell exported as {label}), not a class"))
            continue
        if label not in fixed:
            out.bad.append(BadRow(number, f"unknown label {label!r}; --labels is {','.join(fixed)}"))
            continue
        if row.get("frame", "").strip():
            image, reason = frames.get(number, (None, "video frame rows need an output folder to extract frames into"))
        else:
            image, reason = resolve_image(row.get(column, ""), path.parent, image_folder)
        if reason:
            out.bad.append(BadRow(number, reason))
            continue
        out.conversations.append(labelled_conversation(image, label, fixed, prompt, number))
    if out.unsure:
        log.warning("%s: %d rows marked %r left out of training", path, out.unsure, UNSURE)
    return out


def _video_frames(
    rows: list[dict[str, str]], numbers: list[int], column: str, base: Path, image_folder: Path | None,
    frame_dir: Path | None,
) -> dict[int, tuple[Path | None, str | None]]:
    """(PNG path, None) or (None, reason) for every video-frame row, each video decoded once.

    Videos are confined to --image-folder exactly like images (`locate`)."""
    from llava_cli.errors import InputError
    from llava_cli.media import extract_frames

    wanted: dict[str, dict[int, int]] = {}  # video -> {frame index: row number}
    out: dict[int, tuple[Path | None, str | None]] = {}
    for number, row in zip(numbers, rows):
        frame = row.get("frame", "").strip()
        if not frame or frame_dir is None:
            continue
        try:
            index = int(float(frame))
        except ValueError:
            out[number] = (None, f"frame {frame!r} is not a frame number")
            continue
        wanted.setdefault(row.get(column, "").strip(), {})[index] = number
    for video, by_index in wanted.items():
        path, error = locate(video, base, image_folder, "video")
        found = {}
        if error is None:
            try:
                found = extract_frames(path, set(by_index), frame_dir)
            except InputError as exc:
                error = str(exc)
        for index, number in by_index.items():
            out[number] = (found[index], None) if index in found else (None, error or f"{video} has no frame {index}")
    return out


def read_class_folders(folder: Path, labels: list[str], prompt: str | None) -> Dataset:
    """`folder/<label>/*.jpg`: one class per sub-folder. Row numbers count images in sorted order."""
    classes = sorted((d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), key=natural_key)
    fixed = list(labels) or classes
    out = Dataset(str(folder), "folders", labels=fixed)
    root = folder.resolve()
    number = 0
    for name in classes:
        files = sorted((p for p in (folder / name).rglob("*") if p.is_file()), key=lambda p: natural_key(p.name))
        for file in files:
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            number += 1
            if not file.resolve().is_relative_to(root):  # a symlink (of the file or a folder) leading out
                out.bad.append(BadRow(number, f"{file} links to {file.resolve()}, outside {folder}; copy the file in instead"))
                continue
            if name not in fixed:
                out.bad.append(BadRow(number, f"{file}: folder {name!r} is not one of --labels {','.join(fixed)}"))
                continue
            reason = _readable_image(file)
            if reason:
                out.bad.append(BadRow(number, reason))
                continue
            out.conversations.append(labelled_conversation(file, name, fixed, prompt, number))
    return out


def read_captions(path: Path, image_folder: Path | None) -> Dataset:
    """Image-caption CSV for stage 1: the plain template, the caption is the answer."""
    columns, rows, numbers = _read_csv(path)
    column, caption_col = _pick(columns, PATH_COLUMNS), _pick(columns, CAPTION_COLUMNS)
    out = Dataset(str(path), "captions")
    for number, row in zip(numbers, rows):
        row = {k.strip().lower(): (v or "") for k, v in row.items() if k}
        caption = row.get(caption_col, "").strip()
        if not caption:
            out.bad.append(BadRow(number, "empty caption"))
            continue
        image, reason = resolve_image(row.get(column, ""), path.parent, image_folder)
        if reason:
            out.bad.append(BadRow(number, reason))
            continue
        out.conversations.append(Conversation(image, (Turn("assistant", caption),), number, template="plain"))
    return out


def _turns_problem(messages: list) -> str | None:
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


def _llava_item(item, image_folder: Path | None, base: Path) -> tuple[Conversation | None, str | None, Path | None]:
    if not isinstance(item, dict) or not isinstance(item.get("conversations"), list):
        return None, "not an object with a 'conversations' list", None
    problem = _turns_problem(item["conversations"])
    if problem:
        return None, problem, None
    turns = []
    has_tag = False
    for k, message in enumerate(item["conversations"]):
        role = ROLES.get(str(message.get("from", "")).lower()) if isinstance(message, dict) else None
        if role is None:
            return None, f"turn {k + 1}: 'from' must be human or gpt", None
        text = str(message.get("value", ""))
        has_tag |= IMAGE_TAG in text
        text = text.replace(IMAGE_TAG, "").strip() if role == "user" else text.strip()
        if role == "assistant" and not text:
            return None, f"turn {k + 1}: empty answer", None
        turns.append(Turn(role, text))
    if not any(t.role == "assistant" for t in turns):
        return None, "no gpt answer to learn from", None
    if turns and turns[-1].role != "assistant":
        turns = turns[:-1]
    image = None
    if item.get("image"):
        image, reason = resolve_image(str(item["image"]), base, image_folder)
        if reason:
            return None, reason, None
    elif has_tag:
        return None, "<image> in the text but no 'image' field", None
    return Conversation(image, tuple(turns), 0), None, image


def read_llava_json(path: Path, image_folder: Path | None) -> Dataset:
    """LLaVA's instruction format: a JSON list (or JSON lines) of {id, image, conversations}."""
    require_regular(path, "--data")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} line {line}: not UTF-8 text; save the file as UTF-8") from None
    out = Dataset(str(path), "llava-json")
    numbered: list[tuple[int, object]] = []  # (row number, item): JSON Lines rows are line numbers
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                out.bad.append(BadRow(number, f"not valid JSON ({exc.msg})"))
    else:
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(items, list):
            raise UsageError(f"{path}: expected a JSON list of conversations")
        numbered = list(enumerate(items, start=1))
    for number, item in numbered:
        conversation, reason, _ = _llava_item(item, image_folder, path.parent)
        if reason:
            out.bad.append(BadRow(number, reason))
        else:
            out.conversations.append(Conversation(conversation.image, conversation.turns, number))
    out.bad.sort(key=lambda bad: bad.row)  # unparsable lines were found first
    return out


def read_data(
    path: str | Path, *, labels: list[str], prompt: str | None, image_folder: str | None, frame_dir: str | Path | None = None
) -> Dataset:
    """Read any supported format, chosen from what `path` is; video-frame rows of a labelled CSV are
    extracted into `frame_dir`. Raises UsageError for an unknown format."""
    path = Path(path)
    folder = Path(image_folder) if image_folder else None
    if path.is_dir():
        return read_class_folders(path, labels, prompt)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return read_llava_json(path, folder)
    if suffix == ".csv":
        columns, _, _ = _read_csv(path)
        if "label" in columns:
            return read_labelled_csv(path, labels, prompt, folder, Path(frame_dir) if frame_dir else None)
        if _pick(columns, CAPTION_COLUMNS):
            return read_captions(path, folder)
        raise UsageError(f"{path}: a CSV needs a 'label' column (labelled data) or a 'caption' column (stage 1)")
    raise UsageError(f"{path}: unknown data format; use a LLaVA .json/.jsonl, a .csv, or a folder per class")


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
