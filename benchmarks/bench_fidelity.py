#!/usr/bin/env python
"""How far `classify --fast-decode` moves probabilities from exact preprocessing, on the bench model.

    python benchmarks/bench_fidelity.py                          # cpu bench models, ~2 minutes on 2 cores
    python benchmarks/bench_fidelity.py --out-json benchmarks/results/cpu_fidelity.json

Exact = the checkpoint's own image processor on the fully decoded image (classify's default).
Fast = JPEG draft mode + box reduce down to the processor's short side before it (--fast-decode;
before issue 10 this was classify's only path). Inputs: 1920x1080 camera-like frames as JPEG
files (draft mode applies) and as frames of an mp4 (box reduce applies), and large photos: 1000x872
and 4032x3024 camera-like JPEGs plus the real photos that ship with scikit-learn and matplotlib,
upscaled 2.5x and re-saved as JPEG. For each fit (pad, the default; crop, the processor alone)
it prints max and mean |Δp| over inputs and labels, and the decode + preprocess time per image.
Random weights: the deviation a trained model shows depends on how sharp its probabilities are,
so two initialisations bound it (--initializer-range).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's llava_cli first

import bench_data  # noqa: E402
import bench_measure  # noqa: E402
import bench_model  # noqa: E402
from bench_classify import LABELS, PROMPT  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=list(bench_model.SHAPES), default="cpu")
    p.add_argument("--frames", type=int, default=4, help="1080p frames (as JPEG files and as video frames)")
    p.add_argument("--initializer-range", default="0.02,0.2",
                   help="weight init std of the random bench models measured, comma-separated: 0.02 (the bench "
                   "model) gives flat, 0.2 sharper probabilities, closer to a trained model's")
    p.add_argument("--out-json", type=Path)
    return p.parse_args(argv)


def real_photos() -> list[Path]:
    """Photos that ship with installed packages (skipped when absent)."""
    found = []
    for module, rel in (("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"),
                        ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")):
        try:
            root = Path(__import__(module).__file__).parent
        except ImportError:
            continue
        if (root / rel).is_file():
            found.append(root / rel)
    return found


def write_inputs(folder: Path, frames: int) -> dict[str, list]:
    """{group: [(name, path or PIL frame)]} for the three groups measured."""
    import cv2
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list] = {"1080p JPEG frames": [], "1080p video frames": [], "large photos": []}
    for i in range(frames):
        path = folder / f"frame_{i}.jpg"
        Image.fromarray(bench_data.camera_frame(1920, 1080, seed=10 + i)).save(path, quality=90)
        groups["1080p JPEG frames"].append((path.name, path))
    video = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (1920, 1080))
    for i in range(frames):
        writer.write(bench_data.camera_frame(1920, 1080, seed=20 + i)[..., ::-1].copy())
    writer.release()
    from llava_cli.media.video import FramePlan, iter_video_frames

    for frame in iter_video_frames(video, FramePlan(fps=None, every=1)):
        groups["1080p video frames"].append((f"clip.mp4#{frame.index}", frame.image))
    for w, h, seed in ((1000, 872, 30), (4032, 3024, 31)):
        path = folder / f"photo_{w}x{h}.jpg"
        Image.fromarray(bench_data.camera_frame(w, h, seed=seed)).save(path, quality=90)
        groups["large photos"].append((path.name, path))
    for src in real_photos():
        with Image.open(src) as img:
            big = img.convert("RGB").resize((round(img.width * 2.5), round(img.height * 2.5)), Image.LANCZOS)
        path = folder / f"{src.stem}_{big.width}x{big.height}.jpg"
        big.save(path, quality=92)
        groups["large photos"].append((path.name, path))
    return groups


def decode(item, min_side: int | None):
    """classify's decoding of a file (load_image + shrink) or of a video frame (shrink)."""
    from llava_cli.media.video import load_image, shrink

    if isinstance(item, Path):
        return shrink(load_image(item, min_side=min_side), min_side)
    return shrink(item, min_side)


def measure(clf, groups: dict[str, list]) -> dict:
    import torch

    out = {}
    for group, items in groups.items():
        deltas, per_input, times = [], [], {"exact": [], "fast": []}
        for name, item in items:
            probs = {}
            for mode, min_side in (("exact", None), ("fast", clf.min_side)):
                start = time.perf_counter()
                features = clf.encode(decode(item, min_side))
                times[mode].append(time.perf_counter() - start)
                probs[mode] = clf.probabilities([features])[0]
            delta = (probs["fast"] - probs["exact"]).abs()
            deltas.append(delta)
            per_input.append({"input": name, "max_abs_dp": float(delta.max()),
                              "p_exact": [round(float(v), 4) for v in probs["exact"]]})
        all_d = torch.stack(deltas)
        out[group] = {
            "inputs": len(items), "max_abs_dp": float(all_d.max()), "mean_abs_dp": float(all_d.mean()),
            "prepare_ms_exact": 1e3 * sum(times["exact"]) / len(items),
            "prepare_ms_fast": 1e3 * sum(times["fast"]) / len(items), "per_input": per_input,
        }
    return out


def run(args) -> dict:
    from llava_cli.classify.api import Classifier
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    import dataclasses

    from llava_cli.testing.tiny import build_tiny_llava

    report: dict = {"shape": args.shape, "labels": LABELS, "load_average_start": os.getloadavg(), "models": {}}
    with tempfile.TemporaryDirectory(prefix="llava-fidelity-") as tmp:
        work = Path(tmp)
        groups = write_inputs(work / "inputs", args.frames)
        for init in args.initializer_range.split(","):
            spec = dataclasses.replace(bench_model.SHAPES[args.shape], initializer_range=float(init))
            checkpoint = build_tiny_llava(work / f"model-{init}", spec)
            model_report = report["models"][f"init {init}"] = {}
            for fit in ("pad", "crop"):
                loaded = load_model(ModelConfig(model=str(checkpoint), device="cpu", dtype="float32", image_fit=fit))
                clf = Classifier(loaded, LABELS, PROMPT)
                model_report[fit] = {"min_side": clf.min_side, "groups": measure(clf, groups)}
    report["load_average_end"] = os.getloadavg()
    return report


def print_report(r: dict) -> None:
    print(f"\n== --fast-decode vs exact preprocessing, bench model {r['shape']}, labels {r['labels']}")
    print(f"{'model':<10}{'fit':<5}{'inputs':<22}{'n':>3}{'max |dp|':>10}{'mean |dp|':>11}{'exact ms/img':>14}{'fast ms/img':>13}")
    for name, model_report in r["models"].items():
        for fit in ("pad", "crop"):
            for group, g in model_report[fit]["groups"].items():
                print(f"{name:<10}{fit:<5}{group:<22}{g['inputs']:>3}{g['max_abs_dp']:>10.4f}{g['mean_abs_dp']:>11.4f}"
                      f"{g['prepare_ms_exact']:>14.1f}{g['prepare_ms_fast']:>13.1f}")
    print(f"load average start {tuple(round(x, 2) for x in r['load_average_start'])}, "
          f"end {tuple(round(x, 2) for x in r['load_average_end'])}; ms/img: decode + preprocess, one thread")


def main(argv=None) -> int:
    return bench_measure.run_and_report(parse_args(argv), run, print_report)


if __name__ == "__main__":
    sys.exit(main())
