"""classify under `accelerate launch` with 2 CPU processes (gloo): same rows as one process, and
a killed launch resumes with no duplicate or missing row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from factories import free_port, make_image, make_video
from polars.testing import assert_frame_equal

from llava_cli.batch.distributed import merge_parts, part_path, shard
from llava_cli.media.inputs import InputItem

pytestmark = pytest.mark.slow


def launch(tiny_model_dir, inputs, out, *extra, processes=2, wait=True, port=None, command="classify"):
    task = ["--labels", "shooting,dribbling,passing"] if command == "classify" else ["--prompt", "Describe it.", "--max-new-tokens", "6"]
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port or free_port()),
        "-m", "llava_cli", command, *map(str, inputs), *task,
        "--model", tiny_model_dir, "--dtype", "float32", "--out", str(out), "--quiet", *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    if not wait:
        return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def make_inputs(tmp_path, images: int):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(images):
        make_image(folder / f"im{i}.jpg", seed=i)
    (folder / "broken.png").write_bytes(b"broken")
    video = make_video(tmp_path / "clip.mp4", frames=40, fps=10.0)
    return [folder, video]


@pytest.fixture
def inputs(tmp_path):
    return make_inputs(tmp_path, 24)


@pytest.fixture
def many_inputs(tmp_path):
    """Enough rows per process that a kill after the first one lands mid-run: the tiny model
    scores an image in milliseconds, and a launch that already finished has nothing to resume."""
    return make_inputs(tmp_path, 160)


def single(cli_app, tiny_model_dir, inputs, out):
    from typer.testing import CliRunner

    args = ["classify", *map(str, inputs), "--labels", "shooting,dribbling,passing", "--model", tiny_model_dir,
            "--dtype", "float32", "--out", str(out), "--quiet"]
    assert CliRunner().invoke(cli_app, args).exit_code == 3


def test_two_processes_match_one(cli_app, tiny_model_dir, inputs, tmp_path):
    ref = tmp_path / "one.csv"
    single(cli_app, tiny_model_dir, inputs, ref)
    out = tmp_path / "two.csv"
    result = launch(tiny_model_dir, inputs, out)
    assert result.returncode != 0, result.stdout + result.stderr  # exit 3: the broken image is an error row
    assert_frame_equal(pl.read_csv(out), pl.read_csv(ref))
    assert not list(tmp_path.glob("two.csv.part-*"))
    sidecar = (tmp_path / "two.csv.run.json").read_text()
    assert '"processes": 2' in sidecar and '"status": "finished"' in sidecar


def test_killed_launch_resumes_without_duplicates(cli_app, tiny_model_dir, many_inputs, tmp_path):
    inputs = many_inputs
    ref = tmp_path / "one.csv"
    single(cli_app, tiny_model_dir, inputs, ref)
    out = tmp_path / "two.csv"
    proc = launch(tiny_model_dir, inputs, out, "--batch-size", "1", wait=False)
    part1 = part_path(out, 1, 2)
    deadline = time.time() + 120
    while time.time() < deadline and not (part1.exists() and part1.read_text().count("\n") >= 1):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert part1.exists(), "the launch should have written rows before the kill"
    assert not out.exists() or len(pl.read_csv(out)) < len(pl.read_csv(ref))
    result = launch(tiny_model_dir, inputs, out)
    assert out.exists(), result.stdout + result.stderr
    merged = pl.read_csv(out)
    assert merged.select("source", "frame").is_duplicated().sum() == 0
    assert_frame_equal(merged, pl.read_csv(ref))


def test_annotate_two_processes_match_one(cli_app, tiny_model_dir, inputs, tmp_path):
    from typer.testing import CliRunner

    ref = tmp_path / "one.jsonl"
    args = ["annotate", *map(str, inputs), "--prompt", "Describe it.", "--max-new-tokens", "6", "--model", tiny_model_dir,
            "--dtype", "float32", "--out", str(ref), "--quiet"]
    assert CliRunner().invoke(cli_app, args).exit_code == 3
    out = tmp_path / "two.jsonl"
    launch(tiny_model_dir, inputs, out, command="annotate")
    assert_frame_equal(pl.read_ndjson(out), pl.read_ndjson(ref))


def test_shard_and_merge_order(tmp_path):
    items = [InputItem(f"f{i}.jpg", "image") for i in range(5)]
    assert [i.source for i in shard(items, 0, 2)] == ["f0.jpg", "f2.jpg", "f4.jpg"]
    assert [i.source for i in shard(items, 1, 2)] == ["f1.jpg", "f3.jpg"]
    schema = {"source": pl.String, "frame": pl.Int64, "error": pl.String}
    out = tmp_path / "o.csv"
    pl.DataFrame({"source": ["f0.jpg", "f2.jpg", "f4.jpg"], "frame": [None] * 3, "error": [None] * 3}, schema=schema).write_ndjson(part_path(out, 0, 2))
    pl.DataFrame({"source": ["f1.jpg", "f3.jpg", "f3.jpg"], "frame": [None] * 3, "error": [None] * 3}, schema=schema).write_ndjson(part_path(out, 1, 2))
    assert merge_parts(out, items, schema, None) == 5
    assert pl.read_csv(out)["source"].to_list() == [f"f{i}.jpg" for i in range(5)]
    assert not part_path(out, 0, 2).exists()
