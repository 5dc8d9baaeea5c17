"""Decoding inputs into samples: a producer thread walks the inputs in order, decoding video
frames as it goes, and hands image decoding plus preprocessing to a small thread pool; a bounded
queue keeps only a few batches in flight, so memory depends on the batch size, never on the
number of inputs. The consumer takes samples in input order, so outputs are deterministic
whatever the worker count.

Two schedules. With the model on a GPU, the pool decodes while the model runs (overlap). With
the model on the CPU, decoding and the model's threads would fight over the same cores (a
preempted OpenMP thread stalls every other one at the next barrier), so the pool decodes a whole
batch on all cores *between* the model's batches (`between_batches`): measured 10.3 vs 9.2
images/s on 2 cores (benchmarks/README.md).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .dedup import FrameDeduper
from ..errors import InputError
from .inputs import InputItem
from .video import FramePlan, iter_video_frames, load_image, shrink
from ..output import Key, row_key


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


def default_workers(between_batches: bool = False) -> int:
    """Decode threads. Overlapping a GPU model: leave a core for the main thread. Between a CPU
    model's batches: every core, since the model is waiting."""
    cores = os.cpu_count() or 2
    return max(1, min(8, cores if between_batches else cores - 1))


def _decode_image(source: str, prepare: Callable | None, min_side: int | None):
    # min_side None (the default): the full image, exactly what chat and finetune decode.
    # With --fast-decode: JPEG draft mode, then a box reduce for other formats (approximate).
    image = shrink(load_image(source, min_side=min_side), min_side)
    return image, (prepare(image) if prepare else None)


def _prepare_frame(image, prepare: Callable | None, min_side: int | None):
    image = shrink(image, min_side)
    return image, (prepare(image) if prepare else None)


_DONE = object()


class _Producer:
    """The producer thread's work: every input's samples into `slots`, each with the future of its
    decoding (None for a sample that needs none), then _DONE; a bug becomes (None, exception)."""

    def __init__(self, items, plan, skip, prepare, min_side, deduper, submit, slots, stop):
        self.items, self.plan, self.skip, self.prepare, self.min_side = items, plan, skip, prepare, min_side
        # submit(fn, *args): a Future from the pool (overlap), or the call deferred to the consumer
        self.deduper, self.submit, self.slots, self.stop = deduper, submit, slots, stop

    def put(self, entry) -> bool:
        """Queue an entry, waiting for room; False when the consumer has gone away."""
        while not self.stop.is_set():
            try:
                self.slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for item in self.items:
                ok = self.image(item) if item.kind == "image" else self.video(item)
                if not ok:
                    return
        except BaseException as exc:  # surface producer bugs in the consumer, never hang
            self.put((None, exc))
        finally:
            self.put((_DONE, None))

    def image(self, item: InputItem) -> bool:
        if row_key(item.source, None) in self.skip:
            return True
        fut = self.submit(_decode_image, item.source, self.prepare, self.min_side)
        return self.put((Sample(item.source), fut))

    def video(self, item: InputItem) -> bool:
        """The video's sampled frames; a video that fails midway keeps them and adds an error sample."""
        try:
            for frame in iter_video_frames(item.source, self.plan):
                if row_key(item.source, frame.index) in self.skip:
                    if self.deduper is not None:
                        self.deduper.forget()
                    continue
                if not self.put(self.frame_entry(item, frame)):
                    return False
        except InputError as exc:
            if row_key(item.source, None) not in self.skip:
                return self.put((Sample(item.source, error=str(exc)), None))
        return True

    def frame_entry(self, item: InputItem, frame) -> tuple:
        sample = Sample(item.source, frame.index, round(frame.timestamp_s, 6))
        if self.deduper is not None:
            sample.duplicate_of = self.deduper.duplicate_of(item.source, frame.index, frame.image)
        if sample.duplicate_of is not None:
            sample.image = frame.image  # kept in case its reference fails
            return (sample, None)
        return (sample, self.submit(_prepare_frame, frame.image, self.prepare, self.min_side))


def _finish(sample: Sample, fut: Future) -> None:
    """Put a sample's decoded image and features in place, or the reason they failed."""
    try:
        sample.image, sample.features = fut.result()
    except InputError as exc:
        sample.error = str(exc)
    except Exception as exc:  # a preprocessor failing on an odd image: that row only
        where = sample.source if sample.frame is None else f"{sample.source} frame {sample.frame}"
        sample.error = f"{where}: cannot preprocess ({type(exc).__name__}: {exc})"


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
    between_batches: int | None = None,
) -> Iterator[Sample]:
    """Yield decoded samples in input order, skipping keys in `skip` (rows already written).

    Images are decoded in full and `prepare` (the processor) runs in the worker threads, overlapping
    the model; `min_side` (classify --fast-decode) decodes them approximately, down to that short side.
    With `between_batches=N` nothing is decoded while the caller works: each group of N samples is
    decoded on all workers when the caller asks for its first sample (for a model on the CPU).

    With `dedup`, a video frame whose thumbnail differs from its video's last prepared frame by
    less than `dedup` (see dedup.py) comes with `duplicate_of` set, its image kept but not prepared.

    Failures never raise: an unreadable image or video becomes a Sample with `error` set (a video
    that fails midway keeps the frames it yielded and adds an error sample with frame=None).
    """
    workers = default_workers(bool(between_batches)) if workers is None else workers
    slots: queue.Queue = queue.Queue(maxsize=max(2, lookahead))
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="llava-decode")
    deduper = FrameDeduper(dedup) if dedup is not None else None
    submit = functools.partial if between_batches else pool.submit
    producer = _Producer(items, plan, skip, prepare, min_side, deduper, submit, slots, stop)
    thread = threading.Thread(target=producer.run, name="llava-inputs", daemon=True)
    thread.start()
    try:
        entries = _entries(slots)
        groups = _groups(entries, between_batches, pool) if between_batches else entries
        for sample, fut in groups:
            if isinstance(fut, Future):
                _finish(sample, fut)
            yield sample
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        thread.join(timeout=5)


def _entries(slots: queue.Queue) -> Iterator[tuple[Sample, Any]]:
    """The producer's (sample, decoding) entries until it is done; its bug re-raised here."""
    while True:
        sample, fut = slots.get()
        if sample is _DONE:
            return
        if sample is None:
            raise fut
        yield sample, fut


def _groups(entries: Iterator[tuple[Sample, Any]], size: int, pool: ThreadPoolExecutor) -> Iterator[tuple[Sample, Any]]:
    """Entries whose decoding was deferred, `size` at a time: the group's decodings all start on
    the pool before its first sample is handed over, and none runs while the caller holds one."""
    group: list[tuple[Sample, Any]] = []
    for entry in entries:
        group.append(entry)
        if len(group) == size:
            yield from _started(group, pool)
            group = []
    yield from _started(group, pool)


def _started(group: list[tuple[Sample, Any]], pool: ThreadPoolExecutor) -> list[tuple[Sample, Any]]:
    started = [(sample, pool.submit(call) if call is not None else None) for sample, call in group]
    wait([fut for _, fut in started if fut is not None])  # all of it: the model must not share the cores
    return started
