"""A folder per class (`data/shooting/*.jpg`): the sub-folder's name is the label."""

from __future__ import annotations

from pathlib import Path

from llava_cli.media.inputs import natural_key
from llava_cli.media.video import IMAGE_EXTENSIONS

from .dataset import BadRow, Dataset, labelled_conversation
from .files import readable_image


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
            reason = readable_image(file)
            if reason:
                out.bad.append(BadRow(number, reason))
                continue
            out.conversations.append(labelled_conversation(file, name, fixed, prompt, number))
    return out
