"""Find the images and videos a batch command works on.

Inputs are files, folders (searched recursively, by extension), glob patterns and list files
(one path a line, or a CSV with a path column). The result is deterministic: folder contents in
natural order (frame2 before frame10), duplicates dropped, command-line order kept otherwise.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video

LIST_PATH_COLUMNS = ("source", "path", "image", "file", "filename")


@dataclass(frozen=True)
class InputItem:
    """One file to process: an image (one row) or a video (one row per sampled frame)."""

    source: str  # the path as the user will see it in the output
    kind: str  # "image" or "video"


def natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _is_media_entry(path: Path) -> bool:
    """A media file name that is not a folder. Broken links, FIFOs and devices count: they become
    error rows rather than vanish (they are never opened)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS and not path.is_dir()


def _media_in_folder(folder: Path) -> list[Path]:
    found = [p for p in folder.rglob("*") if _is_media_entry(p)]
    hidden = lambda p: any(part.startswith(".") for part in p.relative_to(folder).parts)  # noqa: E731
    return sorted((p for p in found if not hidden(p)), key=lambda p: natural_key(p.relative_to(folder).as_posix()))


def read_list_file(list_file: str | Path) -> list[str]:
    """Paths from a list file: one per line exactly as written (blank lines skipped; a leading `#`
    or space is part of the name), or a CSV whose header has a path column (quoted cells may hold
    commas and newlines; cells escaped by classify against formula injection are unescaped).

    Relative paths are taken relative to the working directory when they exist there, else
    relative to the list file's folder. Raises UsageError for a CSV without a path column, or a
    file that is not UTF-8 text.
    """
    from ..output import unescape_cell

    list_file = Path(list_file)
    if not list_file.is_file():  # a FIFO would block reading forever
        raise UsageError(f"--from-list {list_file}: " + ("not a regular file" if list_file.exists() else "no such file"))
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = list_file.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"--from-list {list_file} line {line}: not UTF-8 text; save the list as UTF-8") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    first = [cell.strip().lower() for cell in next(csv.reader([lines[0]]))]
    if list_file.suffix.lower() == ".csv" or (len(first) > 1 and any(c in LIST_PATH_COLUMNS for c in first)):
        column = next((c for c in LIST_PATH_COLUMNS if c in first), None)
        if column is None:
            raise UsageError(
                f"--from-list {list_file}: CSV header has no path column; name one of {', '.join(LIST_PATH_COLUMNS)}"
            )
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            records = list(reader)
        except csv.Error as exc:
            raise UsageError(f"--from-list {list_file} line {reader.line_num}: not valid CSV ({exc})") from None
        header = [cell.strip().lower() for cell in records[0]]
        at = header.index(column)
        raw = [unescape_cell(r[at]) for r in records[1:] if len(r) > at and r[at].strip()]
    else:
        raw = [line for line in text.splitlines() if line.strip()]
    resolved = []
    for entry in raw:
        path = Path(entry).expanduser()
        if not path.is_absolute() and not path.exists():
            path = list_file.parent / path
        resolved.append(str(path))
    return resolved


def find_inputs(paths: list[str], from_list: str | None = None) -> list[InputItem]:
    """Expand command-line paths (and a list file) into InputItems.

    Raises UsageError naming every command-line path that matches nothing. Paths read from a list
    file are kept even when missing: they become error rows, so one stale line does not stop a run.
    Files named explicitly are kept whatever their extension (a wrong one becomes an error row).
    """
    items: list[InputItem] = []
    seen: set[str] = set()
    missing: list[str] = []

    def add(path: Path | str) -> None:
        source = str(path)
        key = os.path.realpath(source)  # one file named two ways (a.jpg, /abs/a.jpg, via a link) is one input
        if key in seen:
            return
        seen.add(key)
        items.append(InputItem(source=source, kind="video" if is_video(source) else "image"))

    for arg in paths:
        path = Path(arg).expanduser()
        if path.is_dir():
            for media in _media_in_folder(path):
                add(media)
        elif os.path.lexists(path):
            add(path)  # a file (even one named like a pattern), a broken link or a FIFO: the last two become error rows
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True), key=natural_key)
            media = [m for m in matches if _is_media_entry(Path(m))]
            for m in media:
                add(m)
            if not media:
                missing.append(arg)
        else:
            missing.append(arg)
    if missing:
        raise UsageError([f"nothing found at {m}: check the path, or quote a glob pattern" for m in missing])
    if from_list:
        for entry in read_list_file(from_list):
            add(entry)
    if not items:
        where = ", ".join(paths + ([f"--from-list {from_list}"] if from_list else []))
        raise UsageError(f"no images or videos found in {where}; supported: {', '.join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))}")
    return items
