"""Image decoding: orientation, colour modes, draft decoding, and the errors bad files give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from llava_cli.errors import InputError
from llava_cli.media.inputs import find_inputs, natural_key
from llava_cli.media.video import FramePicker, FramePlan, load_image


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 40)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 200, (200, 200, 200)),
        ("I;16", 65535, (255, 255, 255)),
        ("RGBA", (0, 0, 255, 0), (255, 255, 255)),  # fully transparent -> white background
        ("RGBA", (0, 0, 255, 255), (0, 0, 255)),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, value, expected):
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    Image.new(mode, (8, 8), value).save(path)
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == expected


def test_jpeg_draft_decodes_smaller_but_not_below_min_side(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "big.jpg")
    assert load_image(tmp_path / "big.jpg").size == (1280, 720)
    small = load_image(tmp_path / "big.jpg", min_side=336)
    assert min(small.size) >= 336 and small.size[0] < 1280


def test_error_names_the_file(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=r"bad\.jpg: not a readable image"):
        load_image(tmp_path / "bad.jpg")
    with pytest.raises(InputError, match="empty file"):
        (tmp_path / "zero.png").write_bytes(b"")
        load_image(tmp_path / "zero.png")


def test_natural_order_and_hidden_files(tmp_path):
    for name in ["f10.jpg", "f2.jpg", "F1.JPG", ".hidden.jpg", "clip.MP4", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    items = find_inputs([str(tmp_path)])
    assert [Path(i.source).name for i in items] == ["clip.MP4", "F1.JPG", "f2.jpg", "f10.jpg"]
    assert [i.kind for i in items] == ["video", "image", "image", "image"]
    assert natural_key("a2") < natural_key("a10")


def picked(plan, times, average_fps):
    """Indices FramePicker keeps from frames shown at `times`."""
    picker, kept, previous = FramePicker(plan, average_fps), [], None
    for index, t in enumerate(times):
        if picker.done:
            break
        if picker.wants(index, t, previous):
            kept.append(index)
        previous = t
    return kept


def test_frame_plan():
    cfr30 = [i / 30 for i in range(100)]
    assert picked(FramePlan(fps=1.0, max_frames=3), cfr30, 30.0) == [0, 30, 60]
    assert picked(FramePlan(fps=1.0, max_frames=3), [t - 1e-5 * (i > 0) for i, t in enumerate(cfr30)], 30.0) == [0, 30, 60]
    assert picked(FramePlan(fps=1.0, max_frames=3), [i * 1001 / 30000 for i in range(100)], 29.97) == [0, 30, 60]
    assert picked(FramePlan(fps=None, every=4, max_frames=3), cfr30, 30.0) == [0, 4, 8]
    assert picked(FramePlan(fps=50.0, max_frames=3), [i / 25 for i in range(10)], 25.0) == [0, 1, 2]
    assert picked(FramePlan(fps=3.0), [i / 10 for i in range(11)], 10.0) == [0, 3, 7, 10]
    assert picked(FramePlan(fps=None, at=1.0, max_frames=1), cfr30, 30.0) == [30]
