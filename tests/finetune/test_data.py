import json

import pytest

from llava_cli.finetune.data import DataError, read_data, split
from llava_cli.model.prompts import render_prompt


def make_image(path, seed=0):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(path)
    return path


def test_labelled_csv_bad_rows_by_row_number(tmp_path):
    make_image(tmp_path / "a.png")
    make_image(tmp_path / "b.png", seed=1)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "source,frame,timestamp_s,label,confidence\n"
        "a.png,,,cat,0.9\n"          # row 2: fine
        "missing.png,,,cat,0.5\n"    # row 3: missing image
        "b.png,,,unsure,0.4\n"       # row 4: marked unsure: left out, counted
        "b.png,,,,0.4\n"             # row 5: empty label
        "broken.png,,,dog,0.3\n"     # row 6: unreadable
        "b.png,,,dog,0.8\n"          # row 7: fine
    )
    data = read_data(csv, labels=["cat", "dog"], prompt=None, image_folder=None)
    assert [b.row for b in data.bad] == [3, 5, 6]
    assert [c.row for c in data.conversations] == [2, 7] and data.unsure == 1
    with pytest.raises(DataError) as info:
        data.require_clean(skip_bad_rows=False)
    assert "row 3" in str(info.value) and "--skip-bad-rows" in str(info.value)
    data.require_clean(skip_bad_rows=True)  # trains on the rest
    conv = data.conversations[0]
    assert conv.turns[0].text == render_prompt(None, ["cat", "dog"]) and conv.turns[1].text == "cat"


def test_class_folders_and_label_order(tmp_path):
    for name in ("shooting", "passing"):
        (tmp_path / name).mkdir()
        make_image(tmp_path / name / "1.jpg")
    data = read_data(tmp_path, labels=[], prompt="Is it {labels_or}?", image_folder=None)
    assert data.labels == ["passing", "shooting"] and not data.bad
    assert data.conversations[0].turns[0].text == "Is it passing or shooting?"
    fixed = read_data(tmp_path, labels=["shooting", "passing", "dribbling"], prompt=None, image_folder=None)
    assert fixed.labels == ["shooting", "passing", "dribbling"]


def test_llava_json_image_folder_may_not_be_escaped(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    make_image(root / "ok.png")
    make_image(tmp_path / "outside.png")
    items = [
        {"id": "1", "image": "ok.png", "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A dog."}]},
        {"id": "2", "image": "../outside.png", "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "x"}]},
        {"id": "3", "image": "ok.png", "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": " "}]},
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(items))
    data = read_data(path, labels=[], prompt=None, image_folder=str(root))
    assert [(b.row, "escapes" in b.reason or "empty answer" in b.reason) for b in data.bad] == [(2, True), (3, True)]
    (conv,) = data.conversations
    assert [t.role for t in conv.turns] == ["user", "assistant"] and conv.turns[0].text == "What?"


def test_caption_csv_and_split(tmp_path):
    make_image(tmp_path / "a.png")
    csv = tmp_path / "captions.csv"
    csv.write_text("image,caption\na.png,a red circle\na.png,\n")
    data = read_data(csv, labels=[], prompt=None, image_folder=None)
    assert data.kind == "captions" and [b.row for b in data.bad] == [3]
    assert data.conversations[0].template == "plain"
    train, val = split(list(range(10)), 0.2, seed=0)
    assert len(val) == 2 and sorted(train + val) == list(range(10))


def test_classify_csv_with_video_frames_trains_on_those_frames(tmp_path):
    """A corrected classify CSV with video rows: each named frame is decoded once into frame_dir,
    exactly as classify saw it; a frame past the end is a bad row with its row number."""
    import numpy as np
    from PIL import Image

    from factories import make_video
    from llava_cli.finetune.data import read_data
    from llava_cli.media.video import FramePlan, iter_video_frames

    video = make_video(tmp_path / "game.mp4", frames=20, fps=10.0)
    csv = tmp_path / "plays.csv"
    csv.write_text(
        "source,frame,timestamp_s,label,confidence,p_red,p_blue,error\n"
        f"{video},0,0.0,red,0.6,0.6,0.4,\n"
        f"{video},10,1.0,blue,0.7,0.3,0.7,\n"
        f"{video},99,9.9,blue,0.7,0.3,0.7,\n"
    )
    data = read_data(csv, labels=["red", "blue"], prompt=None, image_folder=None, frame_dir=tmp_path / "frames")
    assert [c.label for c in data.conversations] == ["red", "blue"]
    assert [(b.row, "no frame 99" in b.reason) for b in data.bad] == [(4, True)]
    decoded = {f.index: np.asarray(f.image) for f in iter_video_frames(video, FramePlan(fps=None, every=1))}
    for conv, index in zip(data.conversations, (0, 10)):
        assert conv.image.parent == tmp_path / "frames"
        assert np.array_equal(np.asarray(Image.open(conv.image).convert("RGB")), decoded[index])
    without = read_data(csv, labels=["red", "blue"], prompt=None, image_folder=None)
    assert not without.conversations and len(without.bad) == 3
