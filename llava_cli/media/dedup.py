"""Skip video frames that look like the last frame the model saw, and copy its result instead.

A sampled frame is compared with the *reference* frame of its video, the last one that went to
the model, by the mean absolute difference of 32x32 grayscale thumbnails (0 = identical, 1 = black
vs white). Comparing with the reference rather than with the frame just before keeps a slow pan
from drifting away unnoticed through a chain of small steps. The check runs in the producer
thread, in input order, so a skipped frame is neither preprocessed nor scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

THUMB_SIDE = 32


def thumbnail(image) -> np.ndarray:
    """[32, 32] float32 grayscale in 0..1; cheap (a box reduce first, then a tiny resize)."""
    from PIL import Image

    small = image.reduce(max(1, min(image.size) // (4 * THUMB_SIDE)))
    gray = small.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.BILINEAR)
    return np.asarray(gray, dtype=np.float32) / 255.0


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@dataclass
class FrameDeduper:
    """Producer side: decides, frame by frame of one video after another, which ones to skip."""

    threshold: float
    _source: str | None = None
    _ref_frame: int | None = None
    _ref_thumb: np.ndarray | None = None

    def duplicate_of(self, source: str, frame: int, image) -> int | None:
        """The reference frame's index if `image` is within the threshold of it; else None, and
        `image` becomes the new reference."""
        thumb = thumbnail(image)
        if source == self._source and self._ref_thumb is not None:
            if difference(thumb, self._ref_thumb) < self.threshold:
                return self._ref_frame
        self._source, self._ref_frame, self._ref_thumb = source, frame, thumb
        return None

    def forget(self) -> None:
        """No reference (e.g. the last frame was already written by a resumed run)."""
        self._source = self._ref_frame = self._ref_thumb = None


@dataclass
class ReferenceRows:
    """Consumer side: the row of each video's last scored frame, to copy into its duplicates."""

    _rows: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def has(self, source: str, frame: int) -> bool:
        return (source, frame) in self._rows

    def remember(self, source: str, frame: int, row: dict[str, Any]) -> None:
        # Only the latest reference of the latest video can still be referred to: keep one.
        self._rows = {(source, frame): row}

    def copy(self, source: str, frame: int, reference: int, timestamp_s) -> dict[str, Any]:
        row = dict(self._rows[(source, reference)])
        row.update(frame=frame, timestamp_s=timestamp_s, duplicate_of=reference)
        return row
