"""The batch pipeline shared by classify and annotate: inputs -> decoded samples -> batches -> rows.

A producer thread walks the inputs in order (decoding video frames as it goes) and hands image
decoding plus preprocessing to a small thread pool; a bounded queue keeps only a few batches in
flight, so memory depends on the batch size, never on the number of inputs. The consumer (the
model) takes samples in input order, so outputs are deterministic whatever the worker count.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .dedup import FrameDeduper
from .errors import InputError
from .inputs import InputItem
from .media import FramePlan, is_regular_file, iter_video_frames, load_image, shrink
from .output import Key, RowWriter, row_key


@dataclass
class Sample:
    """One row's worth of input: an image or a video frame, decoded (or the reason it failed)."""

    source: str
    frame: int | None = None
    timestamp_s: float | None = None
    image: Any = None
    features: Any = None  # what `prepare` returned for the image (model inputs)
    error: str | None = None
    duplicate_of: int | None = None  # --dedup: the frame whose result this one copies (not prepared)

    @property
    def needs_model(self) -> bool:
        return self.error is None and self.duplicate_of is None


def default_workers() -> int:
    """Decode threads: leave the model the cores it needs, but always overlap decoding a little."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _decode_image(source: str, prepare: Callable | None, min_side: int | None):
    # min_side None (the default): the full image, exactly what chat and finetune decode.
    # With --fast-decode: JPEG draft mode, then a box reduce for other formats (approximate).
    image = shrink(load_image(source, min_side=min_side), min_side)
    return image, (prepare(image) if prepare else None)


def _prepare_frame(image, prepare: Callable | None, min_side: int | None):
    image = shrink(image, min_side)
    return image, (prepare(image) if prepare else None)


_DONE = object()


def iter_samples(
    items: list[InputItem],
    plan: FramePlan,
    *,
    skip: set[Key] | frozenset = frozenset(),
    prepare: Callable | None = None,
    workers: int | None = None,
    lookahead: int = 32,
    min_side: int | None = None,
    dedup: float | None = None,
) -> Iterator[Sample]:
    """Yield decoded samples in input order, skipping keys in `skip` (rows already written).

    Images are decoded in full and `prepare` (the processor) runs in the worker threads, overlapping
    the model; `min_side` (classify --fast-decode) decodes them approximately, down to that short side.

    With `dedup`, a video frame whose thumbnail differs from its video's last prepared frame by
    less than `dedup` (see dedup.py) comes with `duplicate_of` set, its image kept but not prepared.

    Failures never raise: an unreadable image or video becomes a Sample with `error` set (a video
    that fails midway keeps the frames it yielded and adds an error sample with frame=None).
    """
    workers = default_workers() if workers is None else workers
    slots: queue.Queue = queue.Queue(maxsize=max(2, lookahead))
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="llava-decode")

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    deduper = FrameDeduper(dedup) if dedup is not None else None

    def produce() -> None:
        try:
            for item in items:
                if item.kind == "image":
                    if row_key(item.source, None) in skip:
                        continue
                    fut = pool.submit(_decode_image, item.source, prepare, min_side)
                    if not put((Sample(item.source), fut)):
                        return
                    continue
                try:
                    for frame in iter_video_frames(item.source, plan):
                        if row_key(item.source, frame.index) in skip:
                            if deduper is not None:
                                deduper.forget()
                            continue
                        sample = Sample(item.source, frame.index, round(frame.timestamp_s, 6))
                        if deduper is not None:
                            sample.duplicate_of = deduper.duplicate_of(item.source, frame.index, frame.image)
                        if sample.duplicate_of is not None:
                            sample.image = frame.image  # kept in case its reference fails
                            entry = (sample, None)
                        else:
                            entry = (sample, pool.submit(_prepare_frame, frame.image, prepare, min_side))
                        if not put(entry):
                            return
                except InputError as exc:
                    if row_key(item.source, None) not in skip and not put((Sample(item.source, error=str(exc)), None)):
                        return
        except BaseException as exc:  # surface producer bugs in the consumer, never hang
            put((None, exc))
        finally:
            put((_DONE, None))

    thread = threading.Thread(target=produce, name="llava-inputs", daemon=True)
    thread.start()
    try:
        while True:
            sample, fut = slots.get()
            if sample is _DONE:
                break
            if sample is None:
                raise fut
            if isinstance(fut, Future):
                try:
                    sample.image, sample.features = fut.result()
                except InputError as exc:
                    sample.error = str(exc)
                except Exception as exc:  # a preprocessor failing on an odd image: that row only
                    where = sample.source if sample.frame is None else f"{sample.source} frame {sample.frame}"
                    sample.error = f"{where}: cannot preprocess ({type(exc).__name__}: {exc})"
            yield sample
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        thread.join(timeout=5)


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


@dataclass
class RunStats:
    """What a batch run did, for the summary line and the sidecar."""

    written: int = 0
    errors: int = 0
    resumed: int = 0
    duplicates: int = 0  # --dedup: rows copied from a similar earlier frame, not scored
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def progress_bar(total: int, quiet: bool, unit: str = "img"):
    """tqdm on stderr when it is a terminal and not --quiet; a no-op object otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True, smoothing=0.1)


def run_batches(
    samples: Iterator[Sample],
    batch_size: int,
    handle: Callable[[list[Sample]], list[dict]],
    error_row: Callable[[Sample], dict],
    writer: RowWriter,
    bar=None,
) -> RunStats:
    """Feed good samples to `handle` in batches; write its rows and error rows in input order."""
    stats = RunStats(resumed=len(writer.done_keys))
    start = time.perf_counter()
    pending: list[Sample] = []

    def handle_isolated(good: list[Sample]) -> list[dict]:
        # One sample that breaks the model (an odd size, say) must not take its batch down:
        # retry one by one and turn only the failing sample into an error row.
        try:
            return handle(good)
        except (RuntimeError, ValueError, IndexError) as exc:
            if len(good) == 1:
                where = good[0].source if good[0].frame is None else f"{good[0].source} frame {good[0].frame}"
                good[0].error = f"{where}: model failed on this input ({type(exc).__name__}: {str(exc)[:200]})"
                return []
            return [row for s in good for row in handle_isolated([s])]

    def flush() -> None:
        good = [s for s in pending if s.error is None]
        results = iter(handle_isolated(good)) if good else iter(())
        rows = [error_row(s) if s.error is not None else next(results) for s in pending]
        writer.write(rows)
        stats.written += len(rows)
        stats.errors += sum(1 for s in pending if s.error is not None)
        stats.duplicates += sum(1 for s in pending if s.error is None and s.duplicate_of is not None)
        if bar is not None:
            bar.update(len(rows))
        pending.clear()

    for sample in samples:
        pending.append(sample)
        # Error rows and --dedup copies cost the model nothing, so they don't fill a batch; the
        # length cap keeps a long static stretch of video from piling up frames in memory.
        if sum(1 for s in pending if s.needs_model) >= batch_size or len(pending) >= 4 * batch_size:
            flush()
    if pending:
        flush()
    stats.seconds = time.perf_counter() - start
    return stats
