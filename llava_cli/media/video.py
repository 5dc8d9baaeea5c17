"""Media files: which are images and videos, and sampling video frames into RGB PIL images.

Images are decoded in llava_cli.media.images (its names are importable from here too); frames go through
the same RGB conversion. Decoding failures raise InputError with a message that names the file, so
batch commands can turn them into error rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .images import is_regular_file, load_image, require_regular_file, shrink, to_rgb

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FramePicker", "FramePlan", "VideoFrame", "frame_at", "is_regular_file",
    "is_video", "iter_video_frames", "load_image", "require_regular_file", "shrink", "to_rgb", "video_fps",
]  # fmt: skip

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class FramePlan:
    """How to sample a video: `fps` frames per second of its own timeline, or every `every`-th
    decoded frame, at most `max_frames`; or (`at`) the one frame shown at that many seconds."""

    fps: float | None = 1.0
    every: int | None = None
    max_frames: int | None = None
    at: float | None = None


class FramePicker:
    """Decides frame by frame, in decoding order, which frames a FramePlan keeps.

    By time (fps, at), sampling time T goes to the frame shown nearest to it: the first frame
    whose time t satisfies t + h >= T, where h is half the interval before it (standing in for
    the interval after it: the next frame is not decoded yet). So a 29.97 fps video at --fps 1
    gives frames 0, 30, 60 at 0, 1.001, 2.002 s; a 30 fps one whose timestamps round to 0.99999 s
    still gives frame 30; a variable-rate video gives the frames shown at 0, 1, 2 s, whatever
    their indices. Each frame is kept at most once, however many times fall nearest to it.
    """

    def __init__(self, plan: FramePlan, average_fps: float):
        self.plan = plan
        self.first_half_interval = 0.5 / average_fps if average_fps > 0 else 0.0
        self.kept = 0
        self._k = 0
        self._target: float | None = plan.at if plan.at is not None else (0.0 if not plan.every else None)

    @property
    def done(self) -> bool:
        if self.plan.max_frames is not None and self.kept >= self.plan.max_frames:
            return True
        return self.plan.at is not None and self.kept > 0

    def wants(self, index: int, t: float, previous: float | None) -> bool:
        """Whether to keep frame `index`, shown at `t` seconds, after a frame at `previous` (None: first)."""
        if self.plan.every:
            keep = index % self.plan.every == 0
        else:
            half = (t - previous) / 2 if previous is not None else self.first_half_interval
            keep = self._target is not None and t + half >= self._target
            if keep and self.plan.at is None:
                self._k += 1  # this time is served (the frame may be shown a hair before it)
                while self._k / self.plan.fps <= t:  # and so are the times up to the frame's own
                    self._k += 1
                self._target = self._k / self.plan.fps
        self.kept += keep
        return keep


@dataclass
class VideoFrame:
    index: int
    timestamp_s: float  # the frame's presentation time, from the start of the video
    image: object  # PIL.Image


def video_fps(path: str | Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()


def _frame_time(cap, index: int, fps: float, previous: float | None) -> float:
    """When the frame just grabbed is shown, in seconds from the start of the video: its own
    presentation timestamp as the decoder reports it (OpenCV subtracts the stream's start time).
    A backend or file without usable timestamps (missing, or not increasing) falls back on the
    frame's index over the average rate."""
    import cv2

    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    t = ms / 1000.0 if math.isfinite(ms) and ms >= 0 else -1.0
    if t < 0 or (previous is not None and t <= previous):
        t = index / fps if fps > 0 else float(index)
        t = max(t, previous) if previous is not None else t
    return t


def iter_video_frames(path: str | Path, plan: FramePlan) -> Iterator[VideoFrame]:
    """Decode `path` sequentially and yield the planned frames as RGB images, with their times.

    Frames are read in order with grab() and only the kept ones are converted to RGB: seeking is
    not exact in many containers, sequential reading is. Raises InputError if the path is not a
    regular file or the video cannot be opened or holds no frame at all.
    """
    import cv2
    from PIL import Image

    path = Path(path)
    require_regular_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); remove it or re-export the video")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: cannot open video (unknown codec or corrupt container)")
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        picker = FramePicker(plan, fps)
        index, previous = 0, None
        while not picker.done and cap.grab():
            t = _frame_time(cap, index, fps, previous)
            if picker.wants(index, t, previous):
                ok, bgr = cap.retrieve()
                if not ok:
                    raise InputError(f"{path}: frame {index} cannot be decoded (truncated video?)")
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield VideoFrame(index=index, timestamp_s=t, image=Image.fromarray(rgb))
            previous = t
            index += 1
        if index == 0:
            raise InputError(f"{path}: no decodable frame (empty or corrupt video)")
    finally:
        cap.release()


def frame_at(path: str | Path, seconds: float | None = None) -> VideoFrame:
    """The frame shown at `seconds` into the video (None: the middle frame), as an RGB image.

    `seconds` picks a frame by the frames' own timestamps, exactly as classify's sampling does
    (FramePicker), so `--at` with a row's timestamp_s gives that row's frame. Reads sequentially.
    Raises InputError when the video cannot be read, or `seconds` is not a number >= 0 or is past
    its end.
    """
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise InputError(f"--at {seconds}: must be a number of seconds >= 0")
    require_regular_file(path)
    fps = video_fps(path)

    def past_end() -> InputError:
        count = _frame_count(path)
        length = f"{count / fps:.2f} s" if fps > 0 else f"{count} frames"
        return InputError(f"{path}: --at {seconds} is past the end of the video ({length} long)")

    if seconds is None:
        target = _frame_count(path) // 2
        # Frames 0 and `target` are the only ones converted to RGB; the others are just grabbed.
        plan = FramePlan(fps=None, every=max(target, 1), max_frames=1 if target == 0 else 2)
    else:
        listed = _frame_count(path, read_if_missing=False)
        if fps > 0 and listed > 0 and seconds > 2 * listed / fps + 1:
            raise past_end()  # far beyond what the metadata says: no need to decode it all to know
        plan, target = FramePlan(fps=None, at=seconds, max_frames=1), None
    for frame in iter_video_frames(path, plan):
        if target is None or frame.index == target:
            return frame
    raise past_end()


def _frame_count(path: str | Path, *, read_if_missing: bool = True) -> int:
    """Frames in the video: from the metadata, else counted by reading (0 if unreadable, or
    missing from the metadata and not `read_if_missing`)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if count > 0 or not read_if_missing:
            return count
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()

