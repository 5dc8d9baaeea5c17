"""Small input files for tests: random images and synthetic videos."""

from __future__ import annotations

import numpy as np


def make_image(path, size=(48, 40), seed=0, mode="RGB"):
    """Write a random image file and return its path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr).convert(mode) if mode != "RGB" else Image.fromarray(arr)
    img.save(path)
    return path


def make_video(path, frames=30, fps=10.0, size=(64, 48), static=False):
    """Write an mp4 with OpenCV; frame i is uniformly grey level (8*i) % 256 unless `static`."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        level = 100 if static else (8 * i) % 256
        frame = np.full((size[1], size[0], 3), level, dtype=np.uint8)
        writer.write(frame)
    writer.release()
    return path


def free_port() -> int:
    """A TCP port nobody listens on now, for a test's `accelerate launch --main_process_port`."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def camera_image(width: int, height: int, seed: int = 0):
    """An RGB PIL image that compresses and decodes like a photo: smooth lighting, a few hard-edged
    objects and sensor noise (random noise or flat colour would make JPEG decoding unrealistic)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3)[None, None, :] + 40 * np.sin(x[..., None] / rng.uniform(80, 300) + rng.uniform(0, 6, 3))
    base += 30 * np.cos(y[..., None] / rng.uniform(60, 200))
    for _ in range(8):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(10, height / 4)
        base[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    base += rng.normal(0, 6, base.shape)
    return Image.fromarray(base.clip(0, 255).astype(np.uint8))


def make_camera_video(path, frames=2, fps=10.0, size=(1920, 1080)):
    """An mp4 of camera-like frames (`camera_image`, one seed per frame), written with OpenCV."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(np.asarray(camera_image(*size, seed=100 + i))[..., ::-1].copy())
    writer.release()
    return path
