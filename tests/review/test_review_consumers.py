"""The review file is read as it is by `finetune --data` (unsure rows left out, video frames
decoded) and by `eval --truth` (unsure rows are no truth)."""

from __future__ import annotations

import json
import logging

from typer.testing import CliRunner

from llava_cli.review import ReviewSession


def reviewed(output) -> ReviewSession:
    s = ReviewSession(output)
    s.decide(2, "blue")  # img2: the model said red
    s.accept(1)  # img1: blue
    s.decide(0, "blue")
    s.decide(0, "red")  # changed her mind: still one row for img0
    s.decide(5, "blue")  # video frame 10
    s.mark_unsure(3)  # img3: left out
    s.mark_unsure(6)  # video frame 20: left out
    return s


def test_finetune_reads_the_review_file_and_leaves_unsure_rows_out(output, tmp_path, caplog):
    from llava_cli.finetune.data import read_data

    s = reviewed(output)
    with caplog.at_level(logging.WARNING, logger="llava_cli.finetune.data"):
        data = read_data(s.review_path, labels=["red", "blue"], prompt=None, image_folder=None, frame_dir=tmp_path / "frames")
    assert data.kind == "labelled-csv" and not data.bad and data.unsure == 2
    assert [(c.image.name, c.label) for c in data.conversations] == [
        ("img0.png", "red"), ("img1.png", "blue"), ("img2.png", "blue"), (data.conversations[3].image.name, "blue")]
    assert data.conversations[3].image.parent == tmp_path / "frames"  # frame 10 of clip.mp4, decoded once
    assert "2 rows marked 'unsure' left out of training" in caplog.text
    inferred = read_data(s.review_path, labels=[], prompt=None, image_folder=None, frame_dir=tmp_path / "frames")
    assert inferred.labels == ["blue", "red"]  # 'unsure' is not a class


def test_finetune_command_trains_on_the_review_file(cli_app, tiny_model_dir, output, tmp_path):
    s = reviewed(output)
    result = CliRunner().invoke(cli_app, [
        "finetune", "--stage", "lora", "--model", tiny_model_dir, "--data", str(s.review_path),
        "--labels", "red,blue", "--output", str(tmp_path / "adapter"), "--max-steps", "2", "--batch-size", "2",
        "--lora-r", "4", "--lora-alpha", "8", "--device", "cpu", "--dtype", "float32", "--quiet"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "adapter" / "finetune_meta.json").read_text())
    assert meta["steps"] == 2


def test_eval_takes_the_review_file_as_truth(cli_app, output):
    s = reviewed(output)
    result = CliRunner().invoke(cli_app, ["eval", str(output), "--truth", str(s.review_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["evaluated"] == 4  # img0, img1, img2, frame 10
    assert report["counts"]["predictions_without_truth"] == 3  # 2 unsure + 1 not reviewed
    assert report["counts"]["truth_without_predictions"] == 0
    assert report["metrics"]["accuracy"] == s.summary().accuracy == 0.5
