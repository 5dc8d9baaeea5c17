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
