"""Row checks shared by the readers: where a row's file is (confined to --image-folder), whether it
is a readable image, and the CSV text itself read into rows numbered as a spreadsheet shows them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from llava_cli.errors import UsageError

PATH_COLUMNS = ("source", "image", "path")
CAPTION_COLUMNS = ("caption", "text")


def require_regular(path: Path) -> None:
    """Raise UsageError unless `path` is a regular file (a FIFO would block reading forever)."""
    if not path.is_file():
        raise UsageError(f"{path}: " + ("not a regular file" if path.exists() else "no such file"))


def readable_image(path: Path) -> str | None:
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
    reason = reason or readable_image(path)
    return (None, reason) if reason else (path, None)


def read_utf8(path: Path, unit: str, encoding: str = "utf-8") -> str:
    """The text of a regular file; UsageError naming the `unit` ("row", "line") where it stops
    being UTF-8, so the user can find the bad bytes."""
    require_regular(path)
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        where = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} {unit} {where}: not UTF-8 text; save the file as UTF-8") from None


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """(lowercased header, rows as dicts, each row's number as a spreadsheet shows it).

    Blank lines count as rows (a spreadsheet shows them) and a quoted newline does not start one.
    Cells are unescaped as classify escapes them against formula injection (llava_cli.output).
    Raises UsageError for text that is not UTF-8 or not CSV, naming the row.
    """
    from llava_cli.output import unescape_cell

    text = read_utf8(path, "row", encoding="utf-8-sig")
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


def pick_column(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    """The first of `wanted` that is among `columns`, or None."""
    return next((c for c in wanted if c in columns), None)
