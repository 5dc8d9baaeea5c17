"""Synthetic camera-like JPEG files and a mostly static video clip, written once per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def camera_frame(width: int, height: int, seed: int) -> np.ndarray:
    """[H, W, 3] uint8: smooth lighting, a few objects and sensor noise, so JPEG sizes and decode
    times look like a real frame's (pure noise would decode far slower, flat colour far faster)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3)[None, None, :] + 40 * np.sin(x[..., None] / rng.uniform(80, 300) + rng.uniform(0, 6, 3))
    base += 30 * np.cos(y[..., None] / rng.uniform(60, 200))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, height / 4)
        base[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    base += rng.normal(0, 6, base.shape)
    return base.clip(0, 255).astype(np.uint8)


def write_jpegs(folder: Path, count: int, width: int, height: int, distinct: int = 8) -> list[Path]:
    """`count` JPEG files (quality 90); `distinct` different frames, cycled, keep writing fast."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    frames = [Image.fromarray(camera_frame(width, height, seed)) for seed in range(min(distinct, count))]
    paths = []
    for i in range(count):
        path = folder / f"img_{i:05d}.jpg"
        frames[i % len(frames)].save(path, quality=90)
        paths.append(path)
    return paths


def write_static_clip(path: Path, frames: int, width: int, height: int, fps: float = 10.0) -> list[int]:
    """An mp4 of one scene where a large object moves only during two short stretches (~20% of frames).

    Returns the indices of frames that differ from the one before (the ones dedup must keep).
    """
    import cv2

    scene = camera_frame(width, height, seed=99)[..., ::-1].copy()  # OpenCV writes BGR
    moving = set(range(frames // 5, frames // 5 + frames // 10)) | set(range(frames // 2, frames // 2 + frames // 10))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    changed = [0]
    x = width // 10
    for i in range(frames):
        if i in moving:
            x += width // 6
            changed.append(i)
        frame = scene.copy()
        left = x % width
        cv2.rectangle(frame, (left, height // 4), (left + width // 4, 3 * height // 4), (245, 245, 245), -1)
        writer.write(frame)
    writer.release()
    return changed


def write_camera_clip(path: Path, seconds: float, width: int = 1920, height: int = 1080, fps: float = 30.0) -> Path:
    """An mp4 (MPEG-4 part 2, which every OpenCV build writes) of a camera-like scene with a moving bar,
    `seconds` long at `fps`: what a phone or broadcast clip costs to read frame by frame."""
    import cv2

    scenes = [camera_frame(width, height, seed=40 + s)[..., ::-1].copy() for s in range(4)]  # BGR
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for i in range(round(seconds * fps)):
        frame = scenes[(i // round(fps)) % len(scenes)].copy()
        x = (i * 11) % max(1, width - 80)
        frame[:, x : x + 80] = 255
        writer.write(frame)
    writer.release()
    return path
