"""The two decoding schedules of llava_cli.media.decode: overlapped (GPU model) and between batches (CPU model)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from llava_cli.media.decode import default_workers, iter_samples
from llava_cli.media.inputs import find_inputs
from llava_cli.media.video import FramePlan


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (20, 30 + i, 3), dtype=np.uint8)).save(tmp_path / f"img{i:02d}.png")
    (tmp_path / "img04.png").write_bytes(b"not a png")  # one unreadable input among them
    return tmp_path


class CountingPrepare:
    """A `prepare` that records how many images it has been called on (from the worker threads)."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, image):
        with self.lock:
            self.calls += 1
        return image.size


def _samples(folder, **kwargs):
    items = find_inputs([str(folder)])
    return iter_samples(items, FramePlan(fps=1.0), **kwargs)


def test_between_batches_decodes_nothing_while_the_caller_works(folder):
    prepare = CountingPrepare()
    seen = []
    for index, sample in enumerate(_samples(folder, prepare=prepare, workers=2, between_batches=4)):
        time.sleep(0.03)  # the "model": decoding of the next group must not start meanwhile
        readable_so_far = min(4 * (index // 4 + 1), 10) - (1 if index // 4 >= 1 else 0)  # img04 fails in group 2
        assert prepare.calls == readable_so_far, f"at sample {index}: {prepare.calls} decoded"
        seen.append(sample)
    assert prepare.calls == 9


def test_overlapped_schedule_decodes_ahead_of_the_caller(folder):
    prepare = CountingPrepare()
    samples = _samples(folder, prepare=prepare, workers=2, lookahead=8)
    next(samples)
    deadline = time.monotonic() + 5  # while the caller holds the first sample, the pool keeps decoding
    while prepare.calls <= 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prepare.calls > 4
    list(samples)


@pytest.mark.parametrize("between_batches", [None, 1, 3, 4, 32])
def test_both_schedules_give_the_same_samples_in_input_order(folder, between_batches):
    samples = list(_samples(folder, prepare=lambda im: im.size, workers=2, between_batches=between_batches))
    assert [s.source.rsplit("/", 1)[-1] for s in samples] == [f"img{i:02d}.png" for i in range(10)]
    assert [s.features for s in samples] == [None if i == 4 else (30 + i, 20) for i in range(10)]
    assert [s.error is not None for s in samples] == [i == 4 for i in range(10)]
    assert "img04.png" in samples[4].error


def test_default_workers_take_every_core_between_batches(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert default_workers() == 3  # one core left to the main thread feeding a GPU
    assert default_workers(between_batches=True) == 4
