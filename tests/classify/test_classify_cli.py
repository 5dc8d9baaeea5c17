"""`llava-cli classify` end to end on the tiny model, through typer's CliRunner."""

from __future__ import annotations

import json
import os
import shutil

import polars as pl
import pytest
from factories import make_image, make_video
from PIL import Image
from typer.testing import CliRunner

from llava_cli.errors import EXIT_PARTIAL, EXIT_USAGE

LABELS = "shooting,dribbling,passing"
COLUMNS = ["source", "frame", "timestamp_s", "label", "confidence", "p_shooting", "p_dribbling", "p_passing", "error"]


@pytest.fixture
def runner():
    return CliRunner()


def classify(cli_app, runner, tiny_model_dir, *args):
    argv = ["classify", *args, "--labels", LABELS, "--model", tiny_model_dir, "--dtype", "float32", "--quiet"]
    return runner.invoke(cli_app, argv)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    make_image(folder / "img10.jpg", seed=1)
    make_image(folder / "img2.png", seed=2)
    make_image(folder / "sub" / "IMG3.JPEG", seed=3)
    (folder / "notes.txt").write_text("not an image, and not picked up from a folder")
    return folder


def test_folder_and_video_rows(cli_app, runner, tiny_model_dir, photos, tmp_path):
    video = make_video(tmp_path / "game.mp4", frames=30, fps=10.0)
    out = tmp_path / "plays.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(photos), str(video), "--out", str(out), "--fps", "2")
    assert result.exit_code == 0, result.output
    df = pl.read_csv(out)
    assert df.columns == COLUMNS
    # natural order inside the folder, then the video's frames
    images = df.filter(pl.col("frame").is_null())["source"].to_list()
    assert images == [str(photos / "img2.png"), str(photos / "img10.jpg"), str(photos / "sub" / "IMG3.JPEG")]
    frames = df.filter(pl.col("frame").is_not_null())
    # 10 fps video sampled at 2 fps: every 5th frame of 30
    assert frames["frame"].to_list() == [0, 5, 10, 15, 20, 25]
    assert frames["timestamp_s"].to_list() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    probs = df.select("p_shooting", "p_dribbling", "p_passing").to_numpy()
    # written at 6 significant digits (llava_cli.columns): each off by <= 5e-7, so the sum by <= 1.5e-6
    assert probs.sum(1) == pytest.approx([1.0] * len(df), abs=1.5e-6)
    best = [LABELS.split(",")[i] for i in probs.argmax(1)]
    assert df["label"].to_list() == best
    assert df["confidence"].to_list() == pytest.approx(probs.max(1).tolist())
    assert df["error"].null_count() == len(df)
    sidecar = json.loads((tmp_path / "plays.csv.run.json").read_text())
    assert sidecar["labels"] == ["shooting", "dribbling", "passing"]
    assert sidecar["model"] == tiny_model_dir and sidecar["status"] == "finished"
    assert "shooting" in sidecar["prompt"] and sidecar["dtype"] == "float32"
    assert sidecar["versions"]["torch"] and sidecar["rows_written"] == 9
    assert sidecar["batch_size"] == 8 and sidecar["config"]["batch_size"] == 8  # the CPU default, resolved


def test_every_and_max_frames(cli_app, runner, tiny_model_dir, tmp_path):
    video = make_video(tmp_path / "clip.avi", frames=20, fps=25.0)
    out = tmp_path / "o.jsonl"
    result = classify(cli_app, runner, tiny_model_dir, str(video), "--out", str(out), "--every", "3", "--max-frames", "4")
    assert result.exit_code == 0, result.output
    df = pl.read_ndjson(out)
    assert df["frame"].to_list() == [0, 3, 6, 9]
    assert df["timestamp_s"].to_list() == pytest.approx([0, 0.12, 0.24, 0.36])


def test_resume_skips_written_rows_and_overwrite_restarts(cli_app, runner, tiny_model_dir, photos, tmp_path):
    out = tmp_path / "r.csv"
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out)).exit_code == 0
    full = out.read_text()
    lines = full.splitlines(keepends=True)
    # a run killed mid-write: header, one full row, half of the next
    out.write_text(lines[0] + lines[1] + lines[2][:15])
    result = classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == full
    sidecar = json.loads((tmp_path / "r.csv.run.json").read_text())
    assert sidecar["rows_written"] == 2 and sidecar["rows_resumed"] == 1
    # rerunning a finished output writes nothing new
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out)).exit_code == 0
    assert out.read_text() == full
    out.write_text(lines[0] + lines[1])
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out), "--overwrite").exit_code == 0
    assert json.loads((tmp_path / "r.csv.run.json").read_text())["rows_resumed"] == 0
    assert out.read_text() == full


def test_resume_refuses_other_labels(cli_app, runner, tiny_model_dir, photos, tmp_path):
    out = tmp_path / "r.csv"
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out)).exit_code == 0
    result = runner.invoke(
        cli_app, ["classify", str(photos), "--labels", "a,b", "--model", tiny_model_dir, "--out", str(out), "-q"]
    )
    assert result.exit_code == 1
    assert "--overwrite" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_other_formats_and_parquet_resume(cli_app, runner, tiny_model_dir, photos, tmp_path, suffix):
    csv_out = tmp_path / "ref.csv"
    out = tmp_path / f"o{suffix}"
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(csv_out)).exit_code == 0
    assert classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out)).exit_code == 0
    read = pl.read_ndjson if suffix == ".jsonl" else pl.read_parquet
    df = read(out)
    ref = pl.read_csv(csv_out)
    assert df.columns == COLUMNS
    assert df["source"].to_list() == ref["source"].to_list()
    assert df["p_passing"].to_list() == pytest.approx(ref["p_passing"].to_list(), abs=1e-9)
    assert not (tmp_path / f"o{suffix}.partial.jsonl").exists()
    # add an image and rerun: only the new one is scored, the rest is kept
    make_image(photos / "zzz.png", seed=9)
    result = classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out))
    assert result.exit_code == 0
    again = read(out)
    assert again["source"].to_list() == ref["source"].to_list() + [str(photos / "zzz.png")]
    assert json.loads((tmp_path / f"o{suffix}.run.json").read_text())["rows_written"] == 1


def test_multi_label_and_min_confidence(cli_app, runner, tiny_model_dir, photos, tmp_path):
    out = tmp_path / "m.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out), "--multi-label", "--threshold", "0.3")
    assert result.exit_code == 0, result.output
    df = pl.read_csv(out)
    for row in df.iter_rows(named=True):
        expected = ";".join(lab for lab in LABELS.split(",") if row[f"p_{lab}"] >= 0.3)
        assert (row["label"] or "") == expected
    out2 = tmp_path / "u.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(photos), "--out", str(out2), "--min-confidence", "0.99")
    assert result.exit_code == 0
    assert set(pl.read_csv(out2)["label"].to_list()) == {"unsure"}


def test_segments(cli_app, runner, tiny_model_dir, tmp_path):
    video = make_video(tmp_path / "v.mp4", frames=20, fps=10.0)
    out, seg = tmp_path / "v.csv", tmp_path / "seg.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(video), "--out", str(out), "--every", "2", "--segments", str(seg))
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(out)
    segs = pl.read_csv(seg)
    assert segs.columns == ["source", "label", "start_s", "end_s", "frames", "mean_confidence"]
    assert segs["frames"].sum() == len(rows)
    # segments tile the video's frames in order, each run one label
    labels = rows["label"].to_list()
    rebuilt = [lab for lab, n in zip(segs["label"], segs["frames"]) for _ in range(n)]
    assert rebuilt == labels
    assert segs["start_s"][0] == 0.0 and segs["end_s"][-1] == pytest.approx(2.0)


def test_from_list_and_glob(cli_app, runner, tiny_model_dir, photos, tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text("source,label\nphotos/img2.png,x\nphotos/missing.jpg,y\n")
    out = tmp_path / "l.csv"
    result = classify(cli_app, runner, tiny_model_dir, "--from-list", str(listing), "--out", str(out))
    assert result.exit_code == EXIT_PARTIAL, result.output
    df = pl.read_csv(out)
    assert df["source"].to_list() == [str(tmp_path / "photos/img2.png"), str(tmp_path / "photos/missing.jpg")]
    assert df["error"][0] is None and "file not found" in df["error"][1]
    out2 = tmp_path / "g.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(photos / "**" / "*.*"), "--out", str(out2))
    assert result.exit_code == 0, result.output
    assert len(pl.read_csv(out2)) == 3


def _bad_files(folder):
    """Eight kinds of broken input, by name -> bytes."""
    good_jpg = folder / "good1.jpg"
    data = good_jpg.read_bytes()
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": data[: len(data) // 3],
        "text.png": b"hello, I am not a png\n",
        "random.gif": os.urandom(300),
        "header_only.bmp": b"BM" + b"\x00" * 10,
        "garbage.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 garbage",
        "broken.tiff": b"II*\x00" + os.urandom(64),
        "empty.mp4": b"",
        "garbage.mov": os.urandom(2048),
    }
    for name, payload in bad.items():
        (folder / name).write_bytes(payload)
    return sorted(bad)


def test_bad_inputs_become_error_rows(cli_app, runner, tiny_model_dir, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_image(folder / "good1.jpg", seed=1, size=(200, 150))
    make_image(folder / "good2.png", seed=2)
    Image.new("L", (40, 30), 128).save(folder / "gray.png")
    Image.new("RGBA", (40, 30), (10, 20, 30, 0)).save(folder / "alpha.png")
    Image.new("CMYK", (40, 30), (1, 2, 3, 4)).save(folder / "cmyk.jpg")
    Image.new("I;16", (40, 30), 40000).save(folder / "deep.png")
    Image.new("P", (40, 30), 3).save(folder / "palette.gif")
    bad = _bad_files(folder)
    make_video(folder / "ok.mp4", frames=5, fps=5.0)
    out = tmp_path / "mixed.csv"
    result = classify(cli_app, runner, tiny_model_dir, str(folder), "--out", str(out))
    assert result.exit_code == EXIT_PARTIAL, result.output
    df = pl.read_csv(out)
    errors = df.filter(pl.col("error").is_not_null())
    assert sorted(os.path.basename(s) for s in errors["source"]) == bad
    for row in errors.iter_rows(named=True):
        assert row["source"] in row["error"] and row["label"] is None
    good = df.filter(pl.col("error").is_null())
    names = {os.path.basename(s) for s in good["source"]}
    assert names == {"good1.jpg", "good2.png", "gray.png", "alpha.png", "cmyk.jpg", "deep.png", "palette.gif", "ok.mp4"}
    assert good["label"].null_count() == 0
    assert len(df) == len(bad) + 8  # ok.mp4: one frame per second of a 1 s clip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["photos", "--labels", ""], "--labels needs at least two labels"),
        (["photos", "--labels", "a,b,a"], "--labels has duplicates: a"),
        (["nowhere", "--labels", "a,b"], "nothing found at nowhere"),
        (["photos", "--labels", "a,b", "--out", "x.xlsx"], "unknown output extension"),
        (["photos", "--labels", "a,b", "--multi-label", "--threshold", "1.5"], "--threshold must be between 0 and 1"),
        (["photos", "--labels", "a,b", "--fps", "1", "--every", "2"], "--fps and --every exclude each other"),
        (["photos", "--labels", "a,b", "--dtype", "float4"], "--dtype 'float4' is not one of"),
    ],
)
def test_bad_arguments_one_line(cli_app, runner, photos, tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli_app, ["classify", *args, "--model", "/nonexistent/model", "--dry-run"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert all(line.startswith("error: ") for line in result.output.strip().splitlines())


def test_missing_model_is_one_line(cli_app, runner, photos, tmp_path):
    result = runner.invoke(cli_app, ["classify", str(photos), "--labels", "a,b", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: no checkpoint folder at {tmp_path / 'nope'}; pass --model a hub id or an existing local folder"


def test_dry_run_loads_no_model(cli_app, runner, tiny_model_dir, photos, tmp_path):
    # a folder holding only the processor files: the dry run must not need the weights
    proc_only = tmp_path / "proc"
    shutil.copytree(tiny_model_dir, proc_only)
    (proc_only / "model.safetensors").unlink()
    result = runner.invoke(
        cli_app,
        ["classify", str(photos), "--labels", "pass,passing", "--model", str(proc_only), "--prompt", "Is it {labels_or}?", "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    assert "Is it pass or passing?" in result.output
    assert "pass: [" in result.output and "'</s>'" in result.output
    assert "inputs: 3 (3 images, 0 videos)" in result.output


def test_uncached_hub_id_offline_is_one_line(cli_app, runner, photos, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    result = runner.invoke(cli_app, ["classify", str(photos), "--labels", "a,b", "--model", "nobody/no-such-llava", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: nobody/no-such-llava is not in the local cache and HF_HUB_OFFLINE is set; pass --model PATH to a local checkpoint"
    )
