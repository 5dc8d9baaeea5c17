"""Training data -> conversations, with every bad row reported by its row number.

Readers, one module per format:
- `llava_json`: LLaVA JSON (`id`, `image`, `conversations` of `from`/`value`, `<image>` in a human
  turn), as a .json list or .jsonl; relative image (and video) paths resolve under `--image-folder`
  and may not escape it; every sample's turns are checked before anything trains;
- `csv_readers`: a labelled CSV, a path column (`source` as classify writes it, or `image`/`path`)
  and `label` (rows labelled `unsure`, as `llava-cli review` marks them, are left out and counted);
  video-frame rows are decoded once into PNG files (`frames`); and an image-caption CSV
  (`image`/`path`/`source` and `caption`) for stage 1;
- `folders`: a folder per class (`data/shooting/*.jpg`), whose files may not link out of it.

`dataset` holds what they all produce; `files` the row checks they share (paths confined to
--image-folder, readable images, CSV text). Labelled rows become single-turn conversations asking
classify's own prompt for the label set, so what is trained is exactly what classify asks later.
Row numbers: CSV rows count as in a spreadsheet (the header is row 1, blank lines count, a quoted
newline does not); JSON list items count from 1; JSON Lines rows are line numbers.
"""

from __future__ import annotations

from pathlib import Path

from llava_cli.errors import UsageError

from .csv_readers import read_captions, read_labelled_csv
from .dataset import BadRow, Conversation, DataError, Dataset, Turn, as_plain, labelled_conversation, split
from .files import CAPTION_COLUMNS, pick_column, read_csv
from .folders import read_class_folders
from .llava_json import read_llava_json

__all__ = [
    "BadRow", "Conversation", "DataError", "Dataset", "Turn", "as_plain", "labelled_conversation", "read_data", "split",
]


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
        columns, _, _ = read_csv(path)
        if "label" in columns:
            return read_labelled_csv(path, labels, prompt, folder, Path(frame_dir) if frame_dir else None)
        if pick_column(columns, CAPTION_COLUMNS):
            return read_captions(path, folder)
        raise UsageError(f"{path}: a CSV needs a 'label' column (labelled data) or a 'caption' column (stage 1)")
    raise UsageError(f"{path}: unknown data format; use a LLaVA .json/.jsonl, a .csv, or a folder per class")
