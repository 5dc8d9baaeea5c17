"""Issue 12, item 14: video frames are sampled by their own presentation times.

Variable-frame-rate files are made here with PyAV (explicit timestamps), and every time the tool
writes is checked against the container's own timestamps read back with PyAV.
"""

from __future__ import annotations

import fractions

import numpy as np
import polars as pl
import pytest
from PIL import Image
from typer.testing import CliRunner

from llava_cli.chat.session import load_chat_image
from llava_cli.errors import InputError
from llava_cli.media.video import FramePlan, frame_at, iter_video_frames
from llava_cli.output import read_rows

av = pytest.importorskip("av")

# The phone video: 50 frames at 10 fps, then 250 at 50 fps (10 s, 300 frames).
VFR_TIMES = [i * 0.1 for i in range(50)] + [5.0 + i * 0.02 for i in range(250)]


def write_video(path, times, time_base=fractions.Fraction(1, 90000), size=(64, 48)):
    """An H.264 mp4 whose frame i is shown at times[i] seconds (grey level 8*i, a frame-number stripe)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.time_base = stream.codec_context.time_base = time_base
    for i, t in enumerate(times):
        arr = np.full((size[1], size[0], 3), (8 * i) % 256, np.uint8)
        arr[:8, : (i % size[0])] = 255
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
        frame.pts, frame.time_base = round(t / time_base), time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def container_times(path) -> list[float]:
    """Each frame's presentation time from the container, in seconds from the stream's start."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        return [float((frame.pts - start) * stream.time_base) for frame in container.decode(stream)]


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("vfr") / "phone.mp4", VFR_TIMES)


def classify_rows(cli_app, model, video, out, *flags):
    result = CliRunner().invoke(cli_app, ["classify", str(video), "--labels", "cat,dog", "--model", model,
                                          "--dtype", "float32", "--out", str(out), "--quiet", *flags])
    assert result.exit_code == 0, result.output
    return read_rows(out)


def test_vfr_classify_writes_each_frames_own_time(cli_app, tiny_model_dir, vfr, tmp_path):
    truth = container_times(vfr)
    assert len(truth) == 300 and truth[24] == pytest.approx(2.4) and truth[100] == pytest.approx(6.0)
    rows = classify_rows(cli_app, tiny_model_dir, vfr, tmp_path / "fps.csv", "--fps", "1", "--segments", str(tmp_path / "seg.csv"))
    # the frames shown at 0, 1, ..., 9 s, not index / average fps
    assert rows["frame"].to_list() == [0, 10, 20, 30, 40, 50, 100, 150, 200, 250]
    assert rows["timestamp_s"].to_list() == pytest.approx([truth[i] for i in rows["frame"]], abs=1e-6)
    assert rows["timestamp_s"].to_list() == pytest.approx(list(range(10)), abs=1e-6)
    segments = pl.read_csv(tmp_path / "seg.csv")
    assert segments["start_s"][0] == 0.0 and segments["end_s"][-1] == pytest.approx(10.0)
    starts = set(segments["start_s"].to_list())
    assert starts <= set(rows["timestamp_s"].to_list())
    # --every keeps counting frames, and still writes their real times
    every = classify_rows(cli_app, tiny_model_dir, vfr, tmp_path / "every.csv", "--every", "60")
    assert every["frame"].to_list() == [0, 60, 120, 180, 240]
    assert every["timestamp_s"].to_list() == pytest.approx([truth[i] for i in (0, 60, 120, 180, 240)], abs=1e-6)


def test_constant_2997_fps_keeps_frames_0_30_60(cli_app, tiny_model_dir, tmp_path):
    video = write_video(tmp_path / "ntsc.mp4", [i * 1001 / 30000 for i in range(75)], time_base=fractions.Fraction(1, 30000))
    rows = classify_rows(cli_app, tiny_model_dir, video, tmp_path / "ntsc.csv", "--fps", "1")
    assert rows["frame"].to_list() == [0, 30, 60]
    assert rows["timestamp_s"].to_list() == pytest.approx([0.0, 1.001, 2.002], abs=1e-6)
    assert rows["timestamp_s"].to_list() == pytest.approx([container_times(video)[i] for i in (0, 30, 60)], abs=1e-6)


def test_annotate_samples_the_same_frames(tiny_loaded, tiny_model_dir, vfr, tmp_path):
    from llava_cli.annotate.api import AnnotateConfig, run_annotate
    from llava_cli.config import InputConfig, ModelConfig, OutputConfig

    cfg = AnnotateConfig(prompt="What is it?", model=ModelConfig(model=tiny_model_dir), max_new_tokens=2,
                         inputs=InputConfig(paths=[str(vfr)], fps=0.5), output=OutputConfig(out=str(tmp_path / "a.csv"), quiet=True))
    rows = run_annotate(cfg, loaded=tiny_loaded).rows()
    assert rows["frame"].to_list() == [0, 20, 40, 100, 200]
    assert rows["timestamp_s"].to_list() == pytest.approx([0, 2, 4, 6, 8], abs=1e-6)


def test_chat_at_picks_the_frame_shown_then(vfr):
    truth = container_times(vfr)
    for seconds, index in ((0.0, 0), (2.3, 23), (2.34, 23), (6.0, 100), (6.011, 101), (9.98, 299)):
        image = load_chat_image(str(vfr), seconds)
        assert (image.frame, image.timestamp_s) == (index, pytest.approx(truth[index], abs=1e-6)), seconds
    for bad in (float("nan"), float("inf"), 1e308, -1.0, 11.0):
        with pytest.raises(InputError, match="--at"):
            frame_at(vfr, bad)


def test_finetune_frame_rows_train_on_the_frames_classify_saw(cli_app, tiny_model_dir, vfr, tmp_path):
    from llava_cli.finetune.data import read_data

    rows = classify_rows(cli_app, tiny_model_dir, vfr, tmp_path / "c.csv", "--fps", "1", "--max-frames", "8")
    data = read_data(tmp_path / "c.csv", labels=["cat", "dog"], prompt=None, image_folder=None, frame_dir=tmp_path / "frames")
    assert not data.bad and len(data.conversations) == 8
    decoded = {f.index: np.asarray(f.image) for f in iter_video_frames(vfr, FramePlan(fps=None, every=1))}
    for conv, index in zip(data.conversations, rows["frame"]):
        assert np.array_equal(np.asarray(Image.open(conv.image).convert("RGB")), decoded[index])
