#!/usr/bin/env python
"""Benchmark `classify` against the usual generate-and-parse loop, on one machine, model and image set.

    python benchmarks/bench_classify.py                      # CPU bench shape (2 cores: ~2 minutes)
    python benchmarks/bench_classify.py --shape tiny --images 4          # smoke test (CI)
    python benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 8,32 --out-json bench.json  # GPU

Classify is timed through its Python API (`run_classify` over JPEG files: decoding, preprocessing,
scoring and writing rows; model loading excluded) and reported next to the naive loop, the large-
matmul peak of the same machine and dtype, the time split, peak memory at two input counts, and
the saving of --dedup on a mostly static clip. See README.md "Performance" for results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's llava_cli first

import bench_data  # noqa: E402
import bench_measure  # noqa: E402
import bench_model  # noqa: E402
import bench_split  # noqa: E402

LABELS = ["shooting", "dribbling", "passing", "pass"]
PROMPT = (
    "You are looking at a picture of a basketball player, identify if they are shooting, dribbling or "
    "passing. Answer with a single classification of {labels}."
)
DEFAULTS = {  # shape: (classify images, naive images, dedup clip frames)
    "tiny": (4, 2, 10),
    "cpu": (48, 12, 60),
    "llava-1.5-7b": (256, 32, 120),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=list(DEFAULTS), default="cpu")
    p.add_argument("--images", type=int, help="images classified in the timed run (default per shape)")
    p.add_argument("--naive-images", type=int, help="images for the naive loop (default per shape)")
    p.add_argument("--batch-size", default=None, help="classify batch size(s), comma-separated (default: the library's)")
    p.add_argument("--workers", type=int, default=None, help="decode workers (default: the library's)")
    p.add_argument("--dtype", default="auto", help="auto | bfloat16 | float16 | float32")
    p.add_argument("--fast-decode", action="store_true", help="classify --fast-decode (approximate decoding)")
    p.add_argument("--image-fit", choices=["pad", "crop"], default=None, help="classify --image-fit (default: the library's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--image-size", default="1280x720", help="WxH of the JPEG files")
    p.add_argument("--dedup", type=float, default=0.01, help="--dedup threshold for the static-clip test")
    p.add_argument("--dedup-frames", type=int, help="frames of the static clip (default per shape)")
    p.add_argument("--no-naive-fp32", action="store_true", help="skip the naive loop in float32 (CPU only anyway)")
    p.add_argument("--peers", default="generate,pipeline",
                   help="transformers' batched routes timed on the same images, batch size and dtype: "
                   "generate (batched generate, left padding), pipeline (pipeline('image-text-to-text')); '' for none")
    p.add_argument("--rounds", type=int, default=1,
                   help="classify and transformers' batched routes timed this many times, interleaved; each route's "
                   "best round is reported (on a shared machine other jobs slow single rounds)")
    p.add_argument("--quick", action="store_true",
                   help="one timed pass of each route after a one-image warm-up; no time split, no memory counts, no --dedup clip "
                   "(for slow shapes, e.g. llava-1.5-7b on a CPU); --naive-images 0 skips the naive loop")
    p.add_argument("--compile", action="store_true", help="also time classify --compile (torch.compile of the scoring forward)")
    p.add_argument("--profile", action="store_true",
                   help="profile the scorer on two prepared batches: the top operators (GPU: kernels) and the shares of "
                   "matrix products, attention and the rest")
    p.add_argument("--out-json", type=Path)
    p.add_argument("--wait-idle", type=float, default=0, metavar="S",
                   help="first wait up to S seconds for the 1-minute load average to fall below 0.5 "
                   "(on a shared machine other processes halve the numbers)")
    return p.parse_args(argv)


def classify_config(args, checkpoint: Path, paths: list[Path], out: Path, batch_size: int, **extra):
    from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig

    return ClassifyConfig(
        labels=LABELS,
        model=ModelConfig(model=str(checkpoint), device=args.device, dtype=args.dtype, image_fit=args.image_fit),
        inputs=InputConfig(paths=[str(p) for p in paths], every=extra.pop("every", None)),
        output=OutputConfig(out=str(out), overwrite=True, quiet=True),
        prompt=PROMPT,
        batch_size=batch_size,
        workers=args.workers,
        fast_decode=args.fast_decode,
        **extra,
    )


def load(args, checkpoint: Path):
    """The model as classify gets it from load_model, and what it left out of the vision tower
    (transformers' routes run the whole tower, as a user's from_pretrained model does)."""
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import LoadedModel, load_model, load_processor, resolve_device, resolve_dtype
    from llava_cli.model.vision_trim import drop_unread_vision_layers

    cfg = ModelConfig(model=str(checkpoint), device=args.device, dtype=args.dtype, image_fit=args.image_fit)
    if args.shape != "llava-1.5-7b":
        loaded = load_model(cfg, keep_all_layers=True)
    else:
        device = resolve_device(args.device)
        dtype = resolve_dtype(args.dtype, device)
        model = bench_model.build_7b_in_memory(checkpoint, str(device), dtype)
        loaded = LoadedModel(model=model, processor=load_processor(cfg), device=device, dtype=dtype, config=cfg)
    return loaded, drop_unread_vision_layers(loaded.model)


@contextmanager
def whole_vision_tower(model, dropped):
    """Give the model back the vision layers classify leaves out, for transformers' own routes."""
    from llava_cli.model.vision_trim import drop_unread_vision_layers, restore_vision_layers

    restore_vision_layers(model, dropped)
    try:
        yield
    finally:
        if dropped is not None:
            drop_unread_vision_layers(model)


def time_classify(args, loaded, checkpoint, paths, work: Path, batch_size: int, tag: str, compile: bool = False):
    from llava_cli.classify.api import run_classify

    cfg = classify_config(args, checkpoint, paths, work / f"out_{tag}.csv", batch_size, compile=compile)
    with bench_measure.memory_peak(loaded.device) as mem, bench_measure.model_time(loaded.device) as in_model:
        start = time.perf_counter()
        run = run_classify(cfg, loaded=loaded)
        bench_measure.sync(loaded.device)
        seconds = time.perf_counter() - start
    assert run.stats.errors == 0, f"classify wrote {run.stats.errors} error rows"
    return {
        "images": len(paths), "batch_size": batch_size, "seconds": seconds, "images_per_s": len(paths) / seconds,
        # the share of the run spent in the scorer; on a GPU, 1 - this is the time the GPU sat idle
        "model_busy_share": in_model[0] / seconds,
        "rss_growth_mib": mem.rss_growth / 2**20, "rss_peak_mib": mem.rss_peak / 2**20,
        "device_peak_mib": mem.device_peak / 2**20,
    }


QUESTION = PROMPT.replace("{labels}", ", ".join(f'"{x}"' for x in LABELS))  # what the generating routes ask


def route_result(timed, loaded, paths, new_tokens: int, **extra) -> dict:
    """A generating route's timed pass (bench_measure.RouteRun) as a report entry."""
    return {**extra, "images": len(paths), "seconds": timed.seconds, "images_per_s": len(paths) / timed.seconds,
            "dtype": str(loaded.dtype).replace("torch.", ""), "new_tokens": new_tokens,
            "answers_matched": sum(a is not None for a in timed.answers)}


def peer(route, loaded, dropped, paths, batch_size: int, new_tokens: int, warm_up_images: int) -> dict:
    """One of transformers' batched routes on the same images, batch size and dtype as classify."""
    fn = {"generate": bench_measure.batched_generate, "pipeline": bench_measure.pipeline_route}[route]

    def timed_pass(files):
        return fn(loaded.model, loaded.processor, files, QUESTION, LABELS, new_tokens, loaded.device, loaded.dtype,
                  batch_size)

    with whole_vision_tower(loaded.model, dropped):
        if warm_up_images:
            timed_pass(paths[:warm_up_images])
        return route_result(timed_pass(paths), loaded, paths, new_tokens, route=route, batch_size=batch_size)


def naive(loaded, dropped, paths, new_tokens: int) -> dict:
    with whole_vision_tower(loaded.model, dropped):
        timed = bench_measure.naive_loop(loaded.model, loaded.processor, paths, QUESTION, LABELS, new_tokens,
                                         loaded.device, loaded.dtype)
    return route_result(timed, loaded, paths, new_tokens)


def video_feeding(args, loaded, checkpoint, work: Path, seconds: float, batch_size: int) -> dict:
    """Classify over 4 copies of a 1080p 30 fps clip sampled at --fps 1, against the rate at which the
    one reader thread alone delivers those frames: whether reading video keeps the model fed."""
    import shutil

    from llava_cli.classify.api import run_classify
    from llava_cli.media.video import FramePlan, iter_video_frames

    clip = bench_data.write_camera_clip(work / "camera_0.mp4", seconds)
    clips = [clip] + [Path(shutil.copy(clip, work / f"camera_{i}.mp4")) for i in range(1, 4)]
    start = time.perf_counter()
    sampled = sum(1 for c in clips for _ in iter_video_frames(c, FramePlan(fps=1.0)))
    read_s = time.perf_counter() - start
    cfg = classify_config(args, checkpoint, clips, work / "clips.csv", batch_size)
    cfg.inputs.fps = 1.0
    start = time.perf_counter()
    run = run_classify(cfg, loaded=loaded)
    bench_measure.sync(loaded.device)
    seconds_classify = time.perf_counter() - start
    return {"clips": len(clips), "clip_seconds": seconds, "source_fps": 30.0, "sampled_frames": sampled,
            "reader_frames_per_s": sampled / read_s, "classify_frames_per_s": run.stats.written / seconds_classify}


def dedup_saving(args, loaded, checkpoint, work: Path, frames: int, size, batch_size: int) -> dict:
    from llava_cli.classify.api import run_classify

    clip = work / "static_clip.mp4"
    changed = bench_data.write_static_clip(clip, frames, *size)
    out = {}
    for name, threshold in (("without", None), ("with", args.dedup)):
        cfg = classify_config(args, checkpoint, [clip], work / f"clip_{name}.csv", batch_size, every=1, dedup=threshold)
        start = time.perf_counter()
        run = run_classify(cfg, loaded=loaded)
        out[name] = {"seconds": time.perf_counter() - start, "rows": run.stats.written, "copied": run.stats.duplicates}
    rows_with = run.rows()
    return {
        "frames": frames, "frames_that_change": len(changed), "threshold": args.dedup,
        "scored_with_dedup": out["with"]["rows"] - out["with"]["copied"], "copied": out["with"]["copied"],
        "seconds_without": out["without"]["seconds"], "seconds_with": out["with"]["seconds"],
        "saving": 1 - out["with"]["seconds"] / out["without"]["seconds"],
        "changed_frames_scored": all(rows_with["duplicate_of"][i] is None for i in changed),
    }


def run(args) -> dict:
    import torch

    n_images, n_naive, n_frames = DEFAULTS[args.shape]
    n_images = args.images or n_images
    n_naive = args.naive_images if args.naive_images is not None else min(n_naive, n_images)
    n_frames = args.dedup_frames or n_frames
    width, height = (int(v) for v in args.image_size.lower().split("x"))
    from llava_cli.classify.api import Classifier
    from llava_cli.config import default_batch_size
    from llava_cli.batch.pipeline import default_workers

    report: dict = {"shape": args.shape, "image_size": args.image_size, "load_average_start": os.getloadavg(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    with tempfile.TemporaryDirectory(prefix="llava-bench-") as tmp:
        work = Path(tmp)
        checkpoint = bench_model.build_checkpoint(args.shape, work / "model")
        t0 = time.perf_counter()
        loaded, dropped = load(args, checkpoint)
        report["vision_layers_left_out"] = len(dropped.layers) if dropped else 0
        report["model_build_s"] = time.perf_counter() - t0
        device, dtype = loaded.device, loaded.dtype
        batch_sizes = [int(b) for b in args.batch_size.split(",")] if args.batch_size else [default_batch_size(device)]
        from llava_cli.model.preprocess import image_fit

        report.update(device=str(device), dtype=str(dtype).replace("torch.", ""),
                      image_fit=image_fit(loaded.processor), fast_decode=args.fast_decode,
                      decode_workers=args.workers if args.workers is not None else default_workers(device.type == "cpu"),
                      gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
        report["params"] = bench_model.parameter_counts(loaded.model)
        paths = bench_data.write_jpegs(work / "images", n_images, width, height)
        clf = Classifier(loaded, LABELS, PROMPT)
        prefix_tokens = clf.encode(bench_data_image(width, height))["input_ids"].shape[1]
        fed = int(clf.scorer.packed.feed_ids.numel())
        flops = bench_model.flops_per_image(loaded.model.config, prefix_tokens, fed, len(LABELS))
        report.update(prefix_tokens=prefix_tokens, label_tokens=[list(a.ids) for a in clf.answers],
                      gflop_per_image={k: v / 1e9 for k, v in vars(flops).items()} | {"total": flops.total / 1e9})
        peak_size = 1024 if args.shape == "tiny" else None  # the smoke test only checks it runs
        peaks = [bench_measure.matmul_peak(device, dtype, peak_size)]

        # Classify: a warm-up run, then input counts N/2 and N (memory must not grow with N; both
        # counts exceed the decode lookahead, 2 batches, so any growth would be per input).
        warm_up = paths[:1] if args.quick else paths[: min(4, n_images)]
        time_classify(args, loaded, checkpoint, warm_up, work, batch_sizes[0], "warmup")
        runs = []
        for bs in batch_sizes:
            counts = [max(1, n_images // 2), n_images] if bs == batch_sizes[0] and not args.quick else [n_images]
            runs += [time_classify(args, loaded, checkpoint, paths[:n], work, bs, f"{bs}_{n}") for n in counts]
        report["classify_runs"] = runs
        best = max((r for r in runs if r["images"] == n_images), key=lambda r: r["images_per_s"])
        new_tokens = max(len(a.ids) for a in clf.answers)
        # transformers' own batched routes on the same images, batch size and dtype, interleaved with
        # classify round after round (a shared machine's load then hits every route alike); each
        # route's best round is reported, every round is kept.
        routes = list(filter(None, args.peers.split(",")))
        peer_rounds: dict[str, list[dict]] = {route: [] for route in routes}
        classify_rounds = [best]
        for index in range(args.rounds):
            if index:
                classify_rounds.append(
                    time_classify(args, loaded, checkpoint, paths[:n_images], work, best["batch_size"], f"round{index}"))
            for route in routes:
                warm_up_images = 0 if index else (1 if args.quick else best["batch_size"])
                peer_rounds[route].append(
                    peer(route, loaded, dropped, paths[:n_images], best["batch_size"], new_tokens, warm_up_images))
        best = max(classify_rounds, key=lambda r: r["images_per_s"])
        report["classify"] = best | {"rounds_images_per_s": [r["images_per_s"] for r in classify_rounds]}
        report["peers"] = [max(r, key=lambda x: x["images_per_s"]) | {"rounds_images_per_s": [x["images_per_s"] for x in r]}
                           for r in peer_rounds.values()]
        if args.compile:  # the same run with the scoring forward compiled: the first run compiles,
            # the second reuses the compiled graphs (torch.compile caches them per model and shape)
            first = time_classify(args, loaded, checkpoint, paths[:n_images], work, best["batch_size"], "compile1", compile=True)
            report["classify_compiled"] = time_classify(
                args, loaded, checkpoint, paths[:n_images], work, best["batch_size"], "compile2", compile=True
            ) | {"first_run_seconds": first["seconds"], "first_run_images_per_s": first["images_per_s"]}
        if not args.quick:
            report["time_split"] = bench_split.time_split(
                clf, paths[: min(n_images, 4 * best["batch_size"])], best["batch_size"], device, args.fast_decode
            )
            report["time_split"]["end_to_end_ms_per_image"] = 1e3 / best["images_per_s"]
        if args.profile:
            report["profile"] = bench_split.operator_profile(
                clf, paths[: min(n_images, 2 * best["batch_size"])], best["batch_size"], device, args.fast_decode
            )

        report["naive"] = [naive(loaded, dropped, paths[:n_naive], new_tokens)] if n_naive else []
        # What users run by default on a CPU without bf16 (and on any CPU before auto dtype): fp32.
        if (n_naive and device.type == "cpu" and dtype != torch.float32 and not args.no_naive_fp32
                and args.shape != "llava-1.5-7b"):
            import dataclasses

            from llava_cli.model.loading import load_model

            fp32 = load_model(dataclasses.replace(loaded.config, dtype="float32"), keep_all_layers=True)
            report["naive"].append(naive(fp32, None, paths[:n_naive], new_tokens))
            del fp32
        if not args.quick:
            report["dedup"] = dedup_saving(args, loaded, checkpoint, work, n_frames, (width, height), best["batch_size"])
            report["video"] = video_feeding(args, loaded, checkpoint, work, 4 if args.shape == "tiny" else 16,
                                            best["batch_size"])
        peaks.append(bench_measure.matmul_peak(device, dtype, peak_size))
        report["matmul_peak_gflops"] = max(peaks) / 1e9
        report["matmul_peaks_gflops"] = [p / 1e9 for p in peaks]
        if dtype != torch.float32:
            report["matmul_peak_fp32_gflops"] = bench_measure.matmul_peak(device, torch.float32, peak_size) / 1e9
    report["load_average_end"] = os.getloadavg()
    achieved = flops.total * best["images_per_s"]
    report["classify"]["gflops"] = achieved / 1e9
    report["classify"]["fraction_of_peak"] = achieved / (report["matmul_peak_gflops"] * 1e9)
    if "classify_compiled" in report:
        entry = report["classify_compiled"]
        entry["gflops"] = flops.total * entry["images_per_s"] / 1e9
        entry["fraction_of_peak"] = entry["gflops"] * 1e9 / (report["matmul_peak_gflops"] * 1e9)
    if "time_split" in report:
        bench_split.add_shares(report["time_split"])
    for entry in report["peers"]:
        entry["classify_speedup"] = best["images_per_s"] / entry["images_per_s"]
        entry["gflops"] = flops.total * entry["images_per_s"] / 1e9
        entry["fraction_of_peak"] = entry["gflops"] / report["matmul_peak_gflops"]
    for entry in report["naive"]:
        entry["classify_speedup"] = best["images_per_s"] / entry["images_per_s"]
        # Each loop against the peak of its own dtype (the fp32 loop against the fp32 peak).
        peak = report["matmul_peak_gflops"] if entry["dtype"] == report["dtype"] else report["matmul_peak_fp32_gflops"]
        entry["gflops"] = flops.total * entry["images_per_s"] / 1e9
        entry["fraction_of_peak"] = entry["gflops"] / peak
    return report


def bench_data_image(width: int, height: int):
    from PIL import Image

    return Image.fromarray(bench_data.camera_frame(width, height, seed=0))


def print_report(r: dict) -> None:
    g = r["gflop_per_image"]
    c = r["classify"]
    print(f"\n== llava-cli classify benchmark: shape {r['shape']}, device {r['device']}"
          + (f" ({r['gpu']})" if r["gpu"] else f" ({r['cpu_count']} cores, {r['torch_threads']} torch threads)")
          + f", torch {r['torch']}")
    print(f"images: {r['image_size']} JPEG, fit {r['image_fit']}, decoding "
          + ("--fast-decode (approximate)" if r["fast_decode"] else "full (exact)"))
    print(f"model: LLM {r['params']['llm_m']:.1f}M + ViT {r['params']['vit_m']:.1f}M params; prefix {r['prefix_tokens']} "
          f"tokens; labels {LABELS} -> tokens {r['label_tokens']}")
    print(f"FLOPs/image: {g['total']:.1f} GFLOP (ViT+proj {g['vit']:.2f}, ViT attn {g['vit_attention']:.2f}, "
          f"LLM {g['llm']:.2f}, LLM attn {g['llm_attention']:.2f}; causal attention counted as half)")
    print(f"matmul peak ({r['dtype']}): {r['matmul_peak_gflops']:.0f} GFLOP/s (runs: "
          + ", ".join(f"{p:.0f}" for p in r["matmul_peaks_gflops"]) + ")"
          + (f"; float32 {r['matmul_peak_fp32_gflops']:.0f} GFLOP/s" if "matmul_peak_fp32_gflops" in r else ""))
    print(f"\n{'method':<46}{'dtype':<10}{'images':>7}{'img/s':>9}{'GFLOP/s':>9}{'% peak':>8}{'classify x':>11}"
          "   (% of the matmul peak of the row's dtype)")

    def line(name, dtype, e, speedup=None):
        rounds = e.get("rounds_images_per_s", [])
        print(f"{name:<46}{dtype:<10}{e['images']:>7}{e['images_per_s']:>9.3g}{e['gflops']:>9.0f}"
              f"{100 * e['fraction_of_peak']:>7.1f}%" + (f"{speedup:>10.2f}x" if speedup else f"{'':>11}")
              + ("   rounds: " + " / ".join(f"{x:.3g}" for x in rounds) if len(rounds) > 1 else ""))

    schedule = "between batches, on all cores" if r["device"] == "cpu" else "while the model runs"
    line(f"classify (batch {c['batch_size']}, {r['decode_workers']} decode threads)", r["dtype"], c)
    busy = c["model_busy_share"]
    print(f"{'':<4}(in the scorer {100 * busy:.0f}% of the run" + (f"; GPU idle {100 * (1 - busy):.0f}%)" if r["gpu"] else ")"))
    if "classify_compiled" in r:
        k = r["classify_compiled"]
        line("classify --compile (compiled, 2nd run)", r["dtype"], k)
        print(f"{'':<4}(the 1st run, which compiles: {k['first_run_seconds']:.1f} s for {k['images']} images)")
    names = {"generate": "transformers batched generate (batch {})", "pipeline": "transformers pipeline (batch_size={})"}
    for e in r.get("peers", []):
        line(names[e["route"]].format(e["batch_size"]), e["dtype"], e, e["classify_speedup"])
    for n in r["naive"]:
        line("naive generate+parse (1 image)", n["dtype"], n, n["classify_speedup"])
    if len(r["classify_runs"]) > 2:
        print("classify by batch size: " + ", ".join(
            f"b{x['batch_size']}: {x['images_per_s']:.2f} img/s" for x in r["classify_runs"] if x["images"] == c["images"]))
    if "time_split" in r:
        t = r["time_split"]
        print(f"\ntime split per image: end to end {t['end_to_end_ms_per_image']:.1f} ms; model {t['model_ms_per_image']:.1f} ms "
              f"({100 * t['model_share']:.0f}%) = vision tower + projector {t['vision_ms_per_image']:.1f} ms "
              f"({100 * t['vision_share']:.0f}%) + LLM prefix {t['llm_prefix_ms_per_image']:.1f} ms ({100 * t['llm_prefix_share']:.0f}%) "
              f"+ label pass {t['label_pass_ms_per_image']:.1f} ms ({100 * t['label_pass_share']:.0f}%); "
              f"decode+preprocess {t['prepare_ms_per_image_1_thread']:.1f} ms on 1 thread "
              f"({100 * t['decode_share_1_thread']:.0f}% of end to end; decoded {schedule})")
    if "profile" in r:
        bench_split.print_profile(r["profile"])
    mem = [x for x in r["classify_runs"] if x["batch_size"] == r["classify_runs"][0]["batch_size"]]
    print("memory (classify, batch %d): " % mem[0]["batch_size"] + "; ".join(
        f"{x['images']} images: peak RSS {x['rss_peak_mib']:.0f} MiB (+{x['rss_growth_mib']:.0f} during the run)"
        + (f", GPU peak {x['device_peak_mib']:.0f} MiB" if x["device_peak_mib"] else "") for x in mem))
    d = r.get("dedup")
    if d:
        print(f"dedup {d['threshold']} on a {d['frames']}-frame mostly static clip ({d['frames_that_change']} frames change): "
          f"scored {d['scored_with_dedup']}, copied {d['copied']}; {d['seconds_without']:.2f}s -> {d['seconds_with']:.2f}s "
          f"({100 * d['saving']:.0f}% saved); every changing frame scored: {d['changed_frames_scored']}")
    v = r.get("video")
    if v:
        print(f"video: {v['clips']} x {v['clip_seconds']:.0f} s of 1080p {v['source_fps']:.0f} fps at --fps 1 "
              f"({v['sampled_frames']} frames): classify {v['classify_frames_per_s']:.3g} frames/s; the reader alone "
              f"delivers {v['reader_frames_per_s']:.3g} frames/s (JPEG files: {c['images_per_s']:.3g} images/s)")
    print(f"load average start {tuple(round(x, 2) for x in r['load_average_start'])}, "
          f"end {tuple(round(x, 2) for x in r['load_average_end'])} (other processes share the cores when > 0)")


def wait_idle(limit_s: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s and os.getloadavg()[0] >= 0.5:
        time.sleep(5)
    return time.perf_counter() - start


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from llava_cli.quiet import quiet_libraries

    quiet_libraries()
    waited = wait_idle(args.wait_idle)
    report = run(args)
    report["waited_for_idle_s"] = waited
    print_report(report)
    if args.out_json:
        args.out_json.parent.mkdir(parents=True, exist_ok=True)
        args.out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
