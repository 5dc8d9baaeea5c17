#!/usr/bin/env python
"""What exact preprocessing costs: classify images/s and decode + preprocess ms/image, before and after.

    python benchmarks/bench_decode.py --compare --out-json benchmarks/results/cpu_bench_decode.json

Modes (classify's Python API over JPEG files, the cpu bench model, model loading excluded):
- exact-pad: the default (full decode, pad to square, the checkpoint's processor);
- exact-crop: --image-fit crop (full decode, the processor as it is);
- fast-pad, fast-crop: --fast-decode (JPEG draft mode + box reduce, approximate);
- before: classify as it was before issue 10 (draft + reduce, processor's crop), run from a copy
  of that commit (`git archive`, --before-commit).

`--compare` runs every mode in its own process, round after round (interleaved, so that load
from other processes on a shared machine hits all modes alike), at 1280x720 and 1920x1080, and
keeps each mode's best round. Prepare ms/image is measured on one thread, as classify's decode
worker runs it; images/s is end to end with the worker overlapping the model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_measure

HERE = Path(__file__).resolve().parent
MODES = {  # mode: ClassifyConfig / ModelConfig extras (None: the old code, which has neither)
    "exact-pad": {"image_fit": "pad", "fast_decode": False},
    "exact-crop": {"image_fit": "crop", "fast_decode": False},
    "fast-pad": {"image_fit": "pad", "fast_decode": True},
    "fast-crop": {"image_fit": "crop", "fast_decode": True},
    "before": None,
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=list(MODES), default="exact-pad")
    p.add_argument("--compare", action="store_true", help="run every mode, interleaved, in subprocesses")
    p.add_argument("--modes", default=",".join(MODES), help="modes for --compare")
    p.add_argument("--sizes", default="1280x720,1920x1080", help="image sizes for --compare")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--image-size", default="1280x720")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--before-commit", default="78afdf7", help="the commit 'before' runs (classify before issue 10)")
    p.add_argument("--checkout", type=Path, help="(internal) import llava_cli from this tree")
    p.add_argument("--previous", type=Path, help="--compare: a JSON of earlier rounds to add these rounds to")
    p.add_argument("--out-json", type=Path)
    return p.parse_args(argv)


def one_run(args) -> dict:
    """Time one mode in this process (llava_cli from --checkout, else from this repository)."""
    sys.path.insert(0, str(args.checkout or HERE.parent))
    sys.path.insert(1, str(HERE))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import bench_data
    import bench_model  # imports llava_cli first, from sys.path[0]: bench_classify's own path insert comes too late
    from bench_classify import LABELS, PROMPT
    import llava_cli
    from llava_cli.classify.api import Classifier, run_classify
    from llava_cli.quiet import quiet_libraries
    from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig
    from llava_cli.media.video import load_image, shrink
    from llava_cli.model.loading import load_model

    quiet_libraries()
    extra = MODES[args.mode]
    fit = {"image_fit": extra["image_fit"]} if extra else {}
    width, height = (int(v) for v in args.image_size.split("x"))
    with tempfile.TemporaryDirectory(prefix="llava-bench-decode-") as tmp:
        work = Path(tmp)
        checkpoint = bench_model.build_checkpoint("cpu", work / "model")
        paths = bench_data.write_jpegs(work / "images", args.images, width, height)
        model = ModelConfig(model=str(checkpoint), device="cpu", dtype="float32", **fit)
        loaded = load_model(model)
        clf = Classifier(loaded, LABELS, PROMPT)
        fast = extra is None or extra["fast_decode"]
        min_side = clf.min_side if fast else None
        start = time.perf_counter()
        for p in paths:
            clf.encode(shrink(load_image(p, min_side=min_side), min_side))
        prepare_ms = 1e3 * (time.perf_counter() - start) / len(paths)
        cfg = ClassifyConfig(
            labels=LABELS, model=model, inputs=InputConfig(paths=[str(p) for p in paths]),
            output=OutputConfig(out=str(work / "out.csv"), overwrite=True, quiet=True), prompt=PROMPT,
            batch_size=args.batch_size, **({"fast_decode": extra["fast_decode"]} if extra else {}),
        )
        run_classify(cfg, loaded=loaded)  # warm-up (first-call allocations, kernel selection)
        start = time.perf_counter()
        run = run_classify(cfg, loaded=loaded)
        seconds = time.perf_counter() - start
        assert run.stats.errors == 0
    return {"mode": args.mode, "image_size": args.image_size, "images": args.images, "batch_size": args.batch_size,
            "images_per_s": args.images / seconds, "prepare_ms_per_image_1_thread": prepare_ms,
            "load_average": os.getloadavg()[0], "llava_cli": str(Path(llava_cli.__file__).parent)}


def compare(args) -> dict:
    """Every mode x size, interleaved over rounds, each in a fresh process; best round per mode."""
    modes, sizes = args.modes.split(","), args.sizes.split(",")
    runs = json.loads(args.previous.read_text())["runs"] if args.previous else []
    first_round = 1 + max((r["round"] for r in runs), default=-1)
    with tempfile.TemporaryDirectory(prefix="llava-before-") as before:
        if "before" in modes:
            archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.before_commit], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", before], input=archive, check=True)
        for round_ in range(first_round, first_round + args.rounds):
            for size in sizes:
                for mode in modes:
                    cmd = [sys.executable, __file__, "--mode", mode, "--image-size", size, "--images", str(args.images),
                           "--batch-size", str(args.batch_size)]
                    if mode == "before":
                        cmd += ["--checkout", before]
                    env = {**os.environ, "PYTHONPATH": before if mode == "before" else str(HERE.parent)}
                    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    result["round"] = round_
                    runs.append(result)
                    print(f"round {round_} {size} {mode:<10} {result['images_per_s']:6.2f} img/s  "
                          f"prepare {result['prepare_ms_per_image_1_thread']:6.1f} ms/img  load {result['load_average']:.1f}",
                          file=sys.stderr)
    return {"runs": runs, "best": best_of(runs), "before_commit": args.before_commit, "cpu_count": os.cpu_count()}


def best_of(runs: list[dict]) -> list[dict]:
    """Per image size and mode: the highest images/s and the lowest prepare time over the rounds
    (other processes only ever slow a run down)."""
    best: dict[tuple[str, str], dict] = {}
    for r in runs:
        b = best.setdefault((r["image_size"], r["mode"]), {"image_size": r["image_size"], "mode": r["mode"], "rounds": 0,
                                                           "images_per_s": 0.0, "prepare_ms_per_image_1_thread": float("inf")})
        b["rounds"] += 1
        b["images_per_s"] = max(b["images_per_s"], r["images_per_s"])
        b["prepare_ms_per_image_1_thread"] = min(b["prepare_ms_per_image_1_thread"], r["prepare_ms_per_image_1_thread"])
    return [best[k] for k in sorted(best)]


def print_table(report: dict) -> None:
    rounds = len({r["round"] for r in report["runs"]})
    print(f"\n{'image size':<12}{'mode':<12}{'img/s':>8}{'prepare ms/img':>16}   (best of {rounds} rounds)")
    for b in report["best"]:
        print(f"{b['image_size']:<12}{b['mode']:<12}{b['images_per_s']:>8.2f}{b['prepare_ms_per_image_1_thread']:>16.1f}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.compare:
        print(json.dumps(one_run(args)))
        return 0
    report = compare(args)
    print_table(report)
    bench_measure.write_report(report, args.out_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
