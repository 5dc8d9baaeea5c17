"""Decode images and sample video frames into RGB PIL images.

Every input becomes RGB the same way whatever its mode (grayscale, palette, RGBA, CMYK, 16-bit),
upright according to its EXIF orientation. Decoding failures raise InputError with a message that
names the file, so batch commands can turn them into error rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def to_rgb(img):
    """Convert any PIL mode to 8-bit RGB; transparency is composited on white, 16-bit is rescaled."""
    import numpy as np
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if img.mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        return Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(path: str | Path, *, min_side: int | None = None):
    """Open `path` as an upright RGB image, fully decoded. Raises InputError naming the file on any
    decode failure. Every command decodes images here, so they all give the model the same pixels.

    `min_side` (classify --fast-decode only) lets JPEG decoding use draft mode (DCT scaling) to
    decode straight to a smaller size that still has at least that many pixels on its short side:
    a 1280x720 frame decodes ~4x faster, but the pixels the processor then makes differ from those
    of the full image (probabilities moved by up to 0.24 on a 336-px model; see the README).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (0 bytes); remove it or re-export the image")
        with Image.open(path) as img:
            if min_side and img.format == "JPEG":
                w, h = img.size
                scale = min_side / min(w, h)
                if scale < 1:
                    img.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(f"{path}: file not found") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied; check the file's read permissions") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not a readable image (unknown or corrupt format)") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot decode image ({reason}); re-export or remove it") from exc


def shrink(img, min_side: int | None):
    """Box-downscale an already decoded image by an integer factor, keeping its short side >= min_side.

    The decoded-frame counterpart of JPEG draft mode (classify --fast-decode only): a 1920x1080
    video frame becomes 960x540 before the processor's (much slower) bicubic resize, which then has
    4x fewer pixels to read. Approximate: two downscales are not the processor's one.
    """
    if not min_side:
        return img
    factor = min(img.size) // min_side
    return img.reduce(factor) if factor >= 2 else img


@dataclass(frozen=True)
class FramePlan:
    """How to sample a video: every `every` frames, or at `fps` frames per second, at most `max_frames`."""

    fps: float | None = 1.0
    every: int | None = None
    max_frames: int | None = None

    def wanted_indices(self, video_fps: float) -> Iterator[int]:
        """Frame indices to keep, in order (unbounded; the reader stops at the end of the video)."""
        k = 0
        while self.max_frames is None or k < self.max_frames:
            if self.every:
                yield k * self.every
            else:
                step = video_fps / self.fps if video_fps > 0 else 1.0
                yield int(round(k * max(step, 1.0)))
            k += 1


@dataclass
class VideoFrame:
    index: int
    timestamp_s: float
    image: object  # PIL.Image


def video_fps(path: str | Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()


def iter_video_frames(path: str | Path, plan: FramePlan) -> Iterator[VideoFrame]:
    """Decode `path` sequentially and yield the planned frames as RGB images.

    Frames are read in order with grab() and only the wanted ones are decoded to RGB: seeking by
    frame number is not exact in many containers, sequential reading is. Raises InputError if the
    video cannot be opened or holds no frame at all.
    """
    import cv2
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); remove it or re-export the video")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: cannot open video (unknown codec or corrupt container)")
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        wanted = plan.wanted_indices(fps)
        target = next(wanted, None)
        index = 0
        yielded = 0
        while target is not None:
            if not cap.grab():
                break
            if index == target:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise InputError(f"{path}: frame {index} cannot be decoded (truncated video?)")
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield VideoFrame(index=index, timestamp_s=index / fps if fps > 0 else 0.0, image=Image.fromarray(rgb))
                yielded += 1
                target = next(wanted, None)
                # Rounded fps steps can repeat an index at high sampling rates: skip repeats.
                while target is not None and target <= index:
                    target = next(wanted, None)
            index += 1
        if yielded == 0:
            raise InputError(f"{path}: no decodable frame (empty or corrupt video)")
    finally:
        cap.release()


def frame_at(path: str | Path, seconds: float | None = None) -> VideoFrame:
    """The frame shown at `seconds` into the video (None: the middle frame), as an RGB image.

    Reads sequentially (exact in every container, like `iter_video_frames`). Without a frame count
    in the metadata the middle is found by counting frames first. Raises InputError when the video
    cannot be read, or `seconds` is negative or past its end.
    """
    if seconds is not None and seconds < 0:
        raise InputError(f"--at {seconds}: must be >= 0 seconds")
    fps = video_fps(path)
    if seconds is None:
        target = _frame_count(path) // 2
    else:
        target = int(round(seconds * fps)) if fps > 0 else 0
    # Frames 0 and `target` are the only ones converted to RGB; the others are just grabbed.
    plan = FramePlan(fps=None, every=max(target, 1), max_frames=1 if target == 0 else 2)
    for frame in iter_video_frames(path, plan):
        if frame.index == target:
            return frame
    count = _frame_count(path)
    length = f"{count / fps:.2f} s" if fps > 0 else f"{count} frames"
    raise InputError(f"{path}: --at {seconds} is past the end of the video ({length} long)")


def _frame_count(path: str | Path) -> int:
    """Frames in the video: from the metadata, else counted by reading (0 if unreadable)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if count > 0:
            return count
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


def extract_frames(path: str | Path, indices: set[int], folder: str | Path) -> dict[int, Path]:
    """Decode the frames `indices` of a video in one sequential pass and save them as PNG files.

    Training reads the same frames every epoch; decoding a video from its start for each one would
    cost O(length) per sample. Files are named by the video's resolved path hash and the frame
    index, so videos with the same name do not collide and a rerun reuses them. Returns the frames
    found (an index past the end is absent). Raises InputError when the video cannot be read.
    """
    import hashlib

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
