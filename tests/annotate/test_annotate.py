"""annotate: batched == unbatched greedy answers, rows, resume, error rows, video frames, labels."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from factories import make_image, make_video
from llava_cli.annotate.api import AnnotateConfig, Annotator, nearest_label, run_annotate
from llava_cli.config import InputConfig, ModelConfig, OutputConfig
from llava_cli.errors import EXIT_PARTIAL, OutputError, UsageError
from llava_cli.media.video import load_image

PROMPT = "Describe the scene in one sentence."
MAX_NEW = 8


def images(tmp_path, n=6):
    folder = tmp_path / "photos"
    folder.mkdir()
    return [make_image(folder / f"im{i}.png", seed=i, size=(40 + 4 * i, 36 + 2 * i)) for i in range(n)]


def config(tiny_model_dir, paths, out, **kw) -> AnnotateConfig:
    return AnnotateConfig(
        prompt=kw.pop("prompt", PROMPT),
        model=ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32"),
        inputs=InputConfig(paths=[str(p) for p in paths], fps=kw.pop("fps", None)),
        output=OutputConfig(out=str(out), quiet=True),
        max_new_tokens=MAX_NEW,
        workers=1,
        **kw,
    )


def test_batched_answers_equal_unbatched(tiny_loaded, tmp_path):
    pics = [load_image(p) for p in images(tmp_path)]
    ann = Annotator(tiny_loaded, PROMPT, max_new_tokens=MAX_NEW)
    one_by_one = ann.annotate(pics, batch_size=1)
    assert ann.annotate(pics, batch_size=4) == one_by_one
    assert len(set(one_by_one)) > 1  # the images do lead to different answers

    # prompts of different lengths in one batch: real left padding
    prompts = ["Hi", PROMPT, "What is the player doing?", "red", "Describe it. " * 5, "Is it a cat or a dog?"]
    lengths = {ann.encode(p, q)["input_ids"].shape[-1] for p, q in zip(pics, prompts)}
    assert len(lengths) > 3
    single = [ann.annotate([p], prompts=[q])[0] for p, q in zip(pics, prompts)]
    assert ann.annotate(pics, prompts=prompts, batch_size=6) == single


def test_run_writes_rows_error_rows_and_video_frames(tiny_loaded, tiny_model_dir, tmp_path):
    pics = images(tmp_path, n=3)
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes(b"not an image")
    clip = make_video(tmp_path / "clip.mp4", frames=20, fps=10.0)
    out = tmp_path / "captions.csv"
    cfg = config(tiny_model_dir, [tmp_path / "photos", clip], out, batch_size=3, fps=5.0)
    run = run_annotate(cfg, loaded=tiny_loaded)
    assert run.exit_code == EXIT_PARTIAL
    df = run.rows()
    assert df.columns == ["source", "frame", "timestamp_s", "answer", "error"]
    errors = df.filter(pl.col("error").is_not_null())
    assert errors["source"].to_list() == [str(broken)] and "not a readable image" in errors["error"][0]

    ann = Annotator(tiny_loaded, PROMPT, max_new_tokens=MAX_NEW)
    stills = df.filter(pl.col("frame").is_null() & pl.col("error").is_null())
    assert stills["source"].to_list() == [str(p) for p in pics]
    assert [a or "" for a in stills["answer"].to_list()] == ann.annotate([load_image(p) for p in pics])

    frames = df.filter(pl.col("source") == str(clip))
    assert frames["frame"].to_list() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert frames["timestamp_s"].to_list() == pytest.approx([0.2 * k for k in range(10)])

    sidecar = json.loads(run.sidecar.read_text())
    assert sidecar["command"] == "annotate" and sidecar["prompt"] == PROMPT and sidecar["status"] == "finished"
    assert sidecar["max_new_tokens"] == MAX_NEW and sidecar["error_rows"] == 1


def test_resume_after_a_partial_file(tiny_loaded, tiny_model_dir, tmp_path):
    pics = images(tmp_path, n=5)
    full_out, out = tmp_path / "full.csv", tmp_path / "part.csv"
    full = run_annotate(config(tiny_model_dir, pics, full_out, batch_size=2), loaded=tiny_loaded).rows()
    # a run killed after two rows, in the middle of writing the third
    lines = full_out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][:10], encoding="utf-8")
    (tmp_path / "part.csv.run.json").write_text((tmp_path / "full.csv.run.json").read_text())
    run = run_annotate(config(tiny_model_dir, pics, out, batch_size=2), loaded=tiny_loaded)
    assert (run.stats.resumed, run.stats.written) == (2, 3)
    assert run.rows().equals(full)

    with pytest.raises(OutputError, match="another --prompt"):
        run_annotate(config(tiny_model_dir, pics, out, prompt="Another question?"), loaded=tiny_loaded)


def test_labels_column(tiny_loaded, tiny_model_dir, tmp_path):
    pics = images(tmp_path, n=2)
    out = tmp_path / "a.jsonl"
    run = run_annotate(
        config(tiny_model_dir, pics, out, prompt="Is it {labels_or}?", labels=["cat", "dog", "bird"]), loaded=tiny_loaded
    )
    df = run.rows()
    assert df.columns == ["source", "frame", "timestamp_s", "answer", "label", "error"]
    assert set(df["label"].to_list()) <= {"cat", "dog", "bird"}
    assert json.loads(run.sidecar.read_text())["prompt"] == "Is it cat, dog or bird?"


def test_nearest_label():
    labels = ["pass", "passing", "shooting", "red car"]
    assert nearest_label("Passing.", labels) == "passing"
    assert nearest_label("The player is passing the ball", labels) == "passing"
    assert nearest_label("I think it's a pass, not shooting", labels) == "pass"
    assert nearest_label("A RED  car on the road", labels) == "red car"
    assert nearest_label("shoting", labels) == "shooting"
    assert nearest_label("  ", labels) is None


def test_validate_lists_every_problem(tmp_path):
    cfg = AnnotateConfig(prompt=" ", output=OutputConfig(out="x.txt"), labels=["a"], batch_size=0, max_new_tokens=0, temperature=-1)
    with pytest.raises(UsageError) as err:
        cfg.validate()
    text = " ".join(err.value.problems)
    for flag in ("--prompt", "--out", "--labels", "--batch-size", "--max-new-tokens", "--temperature", "no inputs"):
        assert flag in text


def test_cli(cli_app, tiny_model_dir, tmp_path):
    pics = images(tmp_path, n=2)
    out = tmp_path / "captions.csv"
    args = ["annotate", str(tmp_path / "photos"), "--prompt", PROMPT, "--out", str(out), "-m", tiny_model_dir,
            "--device", "cpu", "--dtype", "float32", "--max-new-tokens", str(MAX_NEW)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 2 rows" in result.stderr
    assert pl.read_csv(out)["source"].to_list() == [str(p) for p in pics]
    missing = CliRunner().invoke(cli_app, ["annotate", str(tmp_path / "photos"), "--out", str(out)])
    assert missing.exit_code == 2 and "--prompt is required" in missing.stderr
