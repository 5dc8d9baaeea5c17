"""--dedup: near-identical video frames copy the last scored frame's result instead of running the model."""

from __future__ import annotations

import numpy as np
import polars as pl
from PIL import Image

from factories import make_image, make_video
from llava_cli.classify.api import run_classify
from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig
from llava_cli.media.dedup import FrameDeduper, difference, thumbnail
from llava_cli.output import read_rows

LABELS = ["red", "blue"]


def _cfg(tiny_model_dir, paths, out, dedup=None, batch_size=4):
    return ClassifyConfig(
        labels=LABELS,
        model=ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32"),
        inputs=InputConfig(paths=[str(p) for p in paths], every=1),
        output=OutputConfig(out=str(out), overwrite=True, quiet=True),
        batch_size=batch_size,
        dedup=dedup,
    )


def test_thumbnail_difference_scale():
    black, white = Image.new("RGB", (640, 360)), Image.new("RGB", (640, 360), (255, 255, 255))
    assert thumbnail(black).shape == (32, 32)
    assert difference(thumbnail(black), thumbnail(white)) == 1.0
    assert difference(thumbnail(black), thumbnail(black)) == 0.0


def test_deduper_compares_with_last_reference_not_previous_frame():
    dedup = FrameDeduper(0.05)
    levels = [100, 104, 108, 112, 116]  # each step 4/255 < 0.05, but 16/255 > 0.05 from the first
    got = [dedup.duplicate_of("v.mp4", i, Image.new("RGB", (64, 48), (v, v, v))) for i, v in enumerate(levels)]
    assert got == [None, 0, 0, 0, None]
    assert dedup.duplicate_of("w.mp4", 0, Image.new("RGB", (64, 48), (116,) * 3)) is None  # new video


def test_dedup_copies_results_of_static_frames(tiny_model_dir, tiny_loaded, tmp_path):
    video = make_video(tmp_path / "static.mp4", frames=12, static=True)
    image = make_image(tmp_path / "still.png")
    base = run_classify(_cfg(tiny_model_dir, [video, image], tmp_path / "a.csv"), loaded=tiny_loaded).rows()
    run = run_classify(_cfg(tiny_model_dir, [video, image], tmp_path / "b.csv", dedup=0.02), loaded=tiny_loaded)
    rows = run.rows()
    assert base.columns[-1] == "error" and "duplicate_of" not in base.columns
    assert rows.columns == base.columns + ["duplicate_of"]
    frames = rows.filter(pl.col("frame").is_not_null())
    assert frames["duplicate_of"].to_list() == [None] + [0] * 11
    assert rows.filter(pl.col("frame").is_null())["duplicate_of"].to_list() == [None]
    assert run.stats.duplicates == 11
    assert rows["label"].to_list() == base["label"].to_list()
    for col in ["confidence", "p_red", "p_blue"]:  # identical frames: copying changes nothing
        np.testing.assert_allclose(rows[col].to_numpy(), base[col].to_numpy(), atol=1e-6)


def test_dedup_keeps_changing_frames(tiny_model_dir, tiny_loaded, tmp_path):
    video = make_video(tmp_path / "moving.mp4", frames=6)  # grey level steps by 8/255 per frame
    rows = run_classify(_cfg(tiny_model_dir, [video], tmp_path / "c.jsonl", dedup=0.01), loaded=tiny_loaded).rows()
    assert rows["duplicate_of"].null_count() == 6
    assert read_rows(tmp_path / "c.jsonl").height == 6


def test_dedup_flag_in_cli(cli_app, tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    video = make_video(tmp_path / "static.mp4", frames=5, static=True)
    out = tmp_path / "cli.csv"
    result = CliRunner().invoke(
        cli_app,
        ["classify", str(video), "-l", "red,blue", "-m", tiny_model_dir, "--device", "cpu", "--every", "1",
         "--dedup", "0.02", "-o", str(out), "-q"],
    )
    assert result.exit_code == 0, result.output
    assert read_rows(out)["duplicate_of"].to_list() == [None, 0, 0, 0, 0]
