"""The benchmark runs end to end on the tiny shape and prints its figures (no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_tiny_prints_figures(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_classify.py"), "--shape", "tiny", "--images", "4",
         "--dedup-frames", "8", "--profile", "--out-json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for needle in ("matmul peak", "classify (batch", "naive generate+parse", "% peak", "time split",
                   "memory (classify", "dedup", "classify x", "transformers batched generate",
                   "transformers pipeline", "label pass", "operator profile of the scorer"):
        assert needle in text, f"{needle!r} missing from:\n{text}"
    report = json.loads(out.read_text())
    assert report["classify"]["images"] == 4 and report["classify"]["images_per_s"] > 0
    assert {n["dtype"] for n in report["naive"]} >= {report["dtype"]}
    assert len([r for r in report["classify_runs"]]) == 2  # two input counts for the memory check
    assert report["dedup"]["copied"] > 0 and report["dedup"]["changed_frames_scored"]
    # transformers' batched routes ran on the same 4 images at classify's batch size
    assert [(p["route"], p["images"], p["batch_size"]) for p in report["peers"]] == [
        ("generate", 4, report["classify"]["batch_size"]), ("pipeline", 4, report["classify"]["batch_size"])]
    assert 0 < report["classify"]["model_busy_share"] <= 1  # time in the scorer, of the whole run
    video = report["video"]  # 4 clips of 4 s at 30 fps, sampled at --fps 1: 4 frames each
    assert video["sampled_frames"] == 16 and video["classify_frames_per_s"] > 0 and video["reader_frames_per_s"] > 0
    split = report["time_split"]
    assert split["vision_ms_per_image"] > 0 and split["llm_prefix_ms_per_image"] > 0
    # the profile: operators of the scorer grouped; the tiny model's matrix products are among them
    profile = report["profile"]
    assert abs(sum(profile["group_share"].values()) - 1) < 1e-6 and profile["group_share"]["matmul"] > 0
    assert profile["top"] and all(row["ms_per_image"] > 0 for row in profile["top"])
    assert report["vision_layers_left_out"] == 1  # classify's model reads the second-to-last CLIP layer
