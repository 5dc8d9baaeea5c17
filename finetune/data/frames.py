"""Video frames named by labelled CSV rows (`source` + `frame`, as classify writes them), decoded
once into PNG files that training then reads like images."""

from __future__ import annotations

import hashlib
from pathlib import Path

from llava_cli.errors import InputError
from llava_cli.media.video import FramePlan, iter_video_frames

from .files import locate


def video_frames(
    rows: list[dict[str, str]], numbers: list[int], column: str, base: Path, image_folder: Path | None,
    frame_dir: Path | None,
) -> dict[int, tuple[Path | None, str | None]]:
    """(PNG path, None) or (None, reason) for every video-frame row, each video decoded once.

    Videos are confined to --image-folder exactly like images (`locate`)."""
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


def extract_frames(path: str | Path, indices: set[int], folder: str | Path) -> dict[int, Path]:
    """Decode the frames `indices` of a video in one sequential pass and save them as PNG files.

    Training reads the same frames every epoch; decoding a video from its start for each one would
    cost O(length) per sample. Files are named by the video's resolved path hash and the frame
    index, so videos with the same name do not collide and a rerun reuses them. Returns the frames
    found (an index past the end is absent). Raises InputError when the video cannot be read.
    """
    path, folder = Path(path), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    target = {i: folder / f"{path.stem}-{tag}-f{i:07d}.png" for i in sorted(indices)}
    missing = {i for i, file in target.items() if not file.is_file()}
    if missing:
        plan = FramePlan(fps=None, every=1, max_frames=max(missing) + 1)
        for frame in iter_video_frames(path, plan):
            if frame.index in missing:
                frame.image.save(target[frame.index])
    return {i: file for i, file in target.items() if file.is_file()}
