"""What the user sees of a batch run while it runs: the progress bar and the row estimate its ETA
rests on."""

from __future__ import annotations

import sys

from ..media.inputs import InputItem
from ..media.video import FramePlan, is_regular_file


def estimate_rows(items: list[InputItem], plan: FramePlan) -> int:
    """Rows a run will write (images + planned video frames from container metadata), for the ETA."""
    import cv2

    total = 0
    for item in items:
        if item.kind == "image" or not is_regular_file(item.source):  # never open a FIFO: it blocks
            total += 1
            continue
        cap = cv2.VideoCapture(item.source)
        try:
            frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        finally:
            cap.release()
        if frames <= 0:
            total += 1
            continue
        step = plan.every or (max(fps / plan.fps, 1.0) if plan.fps and fps > 0 else 1.0)
        planned = int((frames - 1) // step) + 1
        total += min(planned, plan.max_frames) if plan.max_frames else planned
    return total



def progress_bar(total: int, quiet: bool, unit: str = "img"):
    """tqdm on stderr when it is a terminal and not --quiet; a no-op object otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True, smoothing=0.1)
