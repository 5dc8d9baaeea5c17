"""The two CSV formats: labelled rows (classify's output after correction, or review's file) and
image-caption rows for stage 1."""

from __future__ import annotations

import logging
from pathlib import Path

from llava_cli.columns import UNSURE
from llava_cli.errors import UsageError

from .dataset import BadRow, Conversation, Dataset, Turn, labelled_conversation
from .files import CAPTION_COLUMNS, PATH_COLUMNS, pick_column, read_csv, resolve_image
from .frames import video_frames

# Label cells that are an empty value exported by a spreadsheet or pandas, not a class (unless --labels names one).
MISSING_LABELS = frozenset({"nan", "<na>", "n/a", "null"})

log = logging.getLogger(__name__)


def read_labelled_csv(
    path: Path, labels: list[str], prompt: str | None, image_folder: Path | None, frame_dir: Path | None = None
) -> Dataset:
    """A CSV with a path column and a `label` column (e.g. classify's output after correction).

    Rows with a `frame` (video frames, as classify writes them) are decoded once into `frame_dir`
    as PNG files and trained on like images; without a `frame_dir` they are bad rows.
    """
    columns, rows, numbers = read_csv(path)
    column = pick_column(columns, PATH_COLUMNS)
    if column is None:
        raise UsageError(f"{path}: no path column; name one of {', '.join(PATH_COLUMNS)}")
    found = {r["label"].strip() for r in rows if r.get("label", "").strip()}
    fixed = list(labels) or sorted(label for label in found if not _missing(label, labels) and label != UNSURE)
    out = Dataset(str(path), "labelled-csv", labels=fixed)
    frames = video_frames(rows, numbers, column, path.parent, image_folder, frame_dir)
    for number, row in zip(numbers, rows):
        label = row.get("label", "").strip()
        if label == UNSURE and UNSURE not in fixed:
            out.unsure += 1
            continue
        problem = _label_problem(label, fixed, labels)
        if problem is None:
            if row.get("frame", "").strip():
                image, problem = frames.get(number, (None, "video frame rows need an output folder to extract frames into"))
            else:
                image, problem = resolve_image(row.get(column, ""), path.parent, image_folder)
        if problem:
            out.bad.append(BadRow(number, problem))
            continue
        out.conversations.append(labelled_conversation(image, label, fixed, prompt, number))
    if out.unsure:
        log.warning("%s: %d rows marked %r left out of training", path, out.unsure, UNSURE)
    return out


def _missing(label: str, labels: list[str]) -> bool:
    """Whether a label cell is a missing value exported as text (`nan`...), unless --labels names it."""
    return label.lower() in MISSING_LABELS and label not in labels


def _label_problem(label: str, fixed: list[str], labels: list[str]) -> str | None:
    """Why a row's label cannot be trained on, or None."""
    if not label:
        return "empty label"
    if _missing(label, labels):
        return f"label {label!r} is a missing value (an empty cell exported as {label}), not a class"
    if label not in fixed:
        return f"unknown label {label!r}; --labels is {','.join(fixed)}"
    return None


def read_captions(path: Path, image_folder: Path | None) -> Dataset:
    """Image-caption CSV for stage 1: the plain template, the caption is the answer."""
    columns, rows, numbers = read_csv(path)
    column, caption_col = pick_column(columns, PATH_COLUMNS), pick_column(columns, CAPTION_COLUMNS)
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
