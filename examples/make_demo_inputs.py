"""Make demo inputs for the quick start: a tiny random LLaVA, a folder of frames and a short mp4."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from llava_cli.quiet import quiet_libraries
from llava_cli.testing.tiny import build_tiny_llava


def main(work: Path) -> None:
    quiet_libraries()  # the same quiet terminal as llava-cli's own commands
    build_tiny_llava(work / "tiny-llava")
    frames = work / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)).save(frames / f"frame{i}.jpg")
    writer = cv2.VideoWriter(str(work / "game.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 180))
    for i in range(30):
        writer.write(np.full((180, 320, 3), (8 * i) % 256, dtype=np.uint8))
    writer.release()
    print(f"demo inputs in {work}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/llava-cli-quickstart"))
