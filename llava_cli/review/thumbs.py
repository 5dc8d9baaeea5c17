"""Pictures of the rows for the page: thumbnails and a large view, cached as JPEG files on disk.

Images are decoded with `llava_cli.media.video.load_image` and video frames with
`llava_cli.media.video.iter_video_frames`, the decoders classify uses, so the page shows what the model
saw. A video's thumbnails are made in one sequential pass over all of its frames that the output
lists (requests for other frames of that video wait for the pass and are answered as soon as their
frame is written). Cache files are named by a hash of the file's path, size, mtime, frame and
picture size, so a changed file gets new pictures.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from functools import reduce
from pathlib import Path

from ..errors import InputError

SIZES = {"thumb": 256, "large": 1280}  # longest side in pixels
QUALITY = 85


def resolve_media(source: str, output_dir: Path) -> Path | None:
    """The file a row's `source` names: as written (absolute, or from the working folder), else
    relative to the output's folder; None when neither exists."""
    raw = Path(source)
    if raw.is_absolute():
        return raw if raw.is_file() else None
    for candidate in (raw, output_dir / raw):
        if candidate.is_file():
            return candidate
    return None


class _VideoPass:
    def __init__(self):
        self.cond = threading.Condition()
        self.running = False
        self.tried: set[int] = set()  # frames a finished pass looked for
        self.error: str | None = None


class ThumbCache:
    """JPEG renditions of images and video frames in `folder`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._guard = threading.Lock()
        self._passes: dict[str, _VideoPass] = {}
        self._image_locks: dict[str, threading.Lock] = {}

    def _target(self, path: Path, frame: int | None, size: str) -> Path:
        st = path.stat()
        tag = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{frame}|{SIZES[size]}"
        digest = hashlib.sha1(tag.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return self.folder / f"{digest}-{size}.jpg"

    def _save(self, image, target: Path, size: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        image = image.copy()
        image.thumbnail((SIZES[size], SIZES[size]))
        tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
        if size == "large":  # looked at closely: full chroma, fewer artefacts
            image.save(tmp, "JPEG", quality=92, subsampling=0)
        else:
            image.save(tmp, "JPEG", quality=QUALITY)
        os.replace(tmp, target)

    def image(self, path: Path, size: str = "thumb") -> Path:
        """The cached rendition of an image file. Raises InputError when it cannot be decoded."""
        from ..media.video import load_image

        target = self._target(path, None, size)
        if target.is_file():
            return target
        with self._guard:
            lock = self._image_locks.setdefault(str(target), threading.Lock())
        with lock:
            if not target.is_file():
                self._save(load_image(path, min_side=SIZES[size]), target, size)
        return target

    def video_frame(self, path: Path, index: int, all_indices: list[int], size: str = "thumb") -> Path:
        """The cached rendition of frame `index` of a video. Thumbnails of all `all_indices` are made
        in the same pass; a large view decodes only up to its frame. Raises InputError when the
        video cannot be read or has no such frame."""
        target = self._target(path, index, size)
        if target.is_file():
            return target
        if size != "thumb":
            self._large_frame(path, index, target, size)
        else:
            self._thumb_pass(path, index, sorted(set(all_indices) | {index}), target, size)
        if not target.is_file():
            raise InputError(f"{path}: no frame {index}")
        return target

    def _large_frame(self, path: Path, index: int, target: Path, size: str) -> None:
        """Decode the video up to frame `index` only and save it (one thread per target)."""
        from ..media.video import FramePlan, iter_video_frames

        with self._guard:
            lock = self._image_locks.setdefault(str(target), threading.Lock())
        with lock:
            if not target.is_file():
                plan = FramePlan(fps=None, every=max(index, 1), max_frames=1 if index == 0 else 2)
                for frame in iter_video_frames(path, plan):
                    if frame.index == index:
                        self._save(frame.image, target, size)

    def _thumb_pass(self, path: Path, index: int, wanted: list[int], target: Path, size: str) -> None:
        """Wait for `target` while another thread's pass over this video runs, or run the pass."""
        st = path.stat()
        with self._guard:  # one pass per version of the file
            state = self._passes.setdefault(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}", _VideoPass())
        with state.cond:
            while not target.is_file():
                if index in state.tried and not state.running:
                    raise InputError(state.error or f"{path}: no frame {index}")
                if not state.running:
                    state.running = True
                    break
                state.cond.wait(timeout=1.0)
            else:
                return
        try:
            self._decode_thumbs(path, wanted, size, state)
        finally:
            with state.cond:
                state.tried.update(wanted)
                state.running = False
                state.cond.notify_all()
        if not target.is_file():
            raise InputError(state.error or f"{path}: no frame {index}")

    def _decode_thumbs(self, path: Path, wanted: list[int], size: str, state: _VideoPass) -> None:
        """Decode the video once, writing every wanted thumbnail as it comes (waiters are woken)."""
        from ..media.video import FramePlan, iter_video_frames

        step = reduce(math.gcd, wanted) or 1
        plan = FramePlan(fps=None, every=step, max_frames=wanted[-1] // step + 1)
        targets = {i: self._target(path, i, size) for i in wanted}
        try:
            for frame in iter_video_frames(path, plan):
                t = targets.get(frame.index)
                if t is not None and not t.is_file():
                    self._save(frame.image, t, size)
                    with state.cond:
                        state.cond.notify_all()
        except InputError as exc:
            state.error = str(exc)
