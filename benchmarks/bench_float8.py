#!/usr/bin/env python
"""How far `--dtype float8` moves classify's probabilities from bf16, and (on a GPU) how much faster it is.

    python benchmarks/bench_float8.py --shape llava-1.5-7b --out-json f8.json     # GPU (gpu_check.sh)
    python benchmarks/bench_float8.py --emulate-on-cpu                            # CPU: |Δp| only

The same random-weight model is scored in bf16 and then with the language model's linear layers
converted to float8 (llava_cli.model.float8, as `--dtype float8` loads it), on the same 1280x720 JPEG
frames through classify's Python API. Printed: max and mean |Δp| over images and labels, how often
the top label changes, and classify's images/s in each dtype. How much a model reacts depends on
how sharp its probabilities are, so the CPU shapes are measured at two weight initialisations
(0.02: flat like the bench model; 0.2: sharper). `--emulate-on-cpu` runs torch's float8 products
on the CPU with the GPU checks bypassed: the numbers are the float8 numbers, the speed is not.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--initializer-range", default=None,
                   help="weight init std(s), comma-separated (default: 0.02,0.2 on the CPU shapes; the 7b shape's own)")
    p.add_argument("--emulate-on-cpu", action="store_true", help="bypass the GPU checks: float8 products on the CPU")
    p.add_argument("--out-json", type=Path)
    return p.parse_args(argv)


def allow_float8_on_cpu() -> None:
    """Let the float8 path run where torchao would refuse (its products then run on the CPU)."""
    import torchao.quantization.quant_api as quant_api

    from llava_cli.model import loading as model_mod

    model_mod.float8_unavailable = lambda device: None
    quant_api._check_hardware_support = lambda granularity: None


def load_pair(args, checkpoint: Path, init: float | None):
    """The bench model in bf16, and the same weights with the language model in float8."""
    import torch

    from llava_cli.config import ModelConfig
    from llava_cli.model.float8 import to_float8
    from llava_cli.model.loading import LoadedModel, load_model, load_processor, resolve_device

    if args.shape == "llava-1.5-7b":  # built in memory on the device, then a converted copy
        import copy

        device = resolve_device("auto")
        cfg = ModelConfig(model=str(checkpoint), dtype="bfloat16")
        model = bench_model.build_7b_in_memory(checkpoint, str(device), torch.bfloat16)
        processor = load_processor(cfg)
        f8_model = copy.deepcopy(model)
        to_float8(f8_model)
        return (LoadedModel(model=model, processor=processor, device=device, dtype=torch.bfloat16, config=cfg),
                LoadedModel(model=f8_model, processor=processor, device=device, dtype=torch.bfloat16,
                            config=dataclasses.replace(cfg, dtype="float8")))
    device = "cpu" if args.emulate_on_cpu else "auto"
    return (load_model(ModelConfig(model=str(checkpoint), device=device, dtype="bfloat16")),
            load_model(ModelConfig(model=str(checkpoint), device=device, dtype="float8")))


def classify_speed(loaded, paths, batch_size: int, work: Path, tag: str) -> tuple[float, "object"]:
    """classify's images/s over `paths` (after a warm-up batch), and its [N, L] probabilities."""
    import torch

    from llava_cli.classify.api import run_classify
    from llava_cli.config import ClassifyConfig, InputConfig, OutputConfig

    def run(files, name):
        cfg = ClassifyConfig(labels=LABELS, model=loaded.config, prompt=PROMPT, batch_size=batch_size,
                             inputs=InputConfig(paths=[str(p) for p in files]),
                             output=OutputConfig(out=str(work / f"{tag}_{name}.csv"), overwrite=True, quiet=True))
        start = time.perf_counter()
        result = run_classify(cfg, loaded=loaded)
        bench_measure.sync(loaded.device)
        return time.perf_counter() - start, result

    run(paths[:batch_size], "warmup")
    seconds, result = run(paths, "timed")
    rows = result.rows()
    probs = torch.tensor([[rows[f"p_{lab}"][i] for lab in LABELS] for i in range(len(rows))])
    return len(paths) / seconds, probs


def run(args) -> dict:
    from llava_cli.config import ModelConfig, default_batch_size
    from llava_cli.model.loading import load_model, resolve_device
    from llava_cli.testing.tiny import build_tiny_llava

    if args.emulate_on_cpu:
        allow_float8_on_cpu()
    device = resolve_device("cpu" if args.emulate_on_cpu else "auto")
    batch_size = args.batch_size or default_batch_size(device)
    inits = args.initializer_range or ("0.02,0.2" if args.shape != "llava-1.5-7b" else "0.02")
    report: dict = {"shape": args.shape, "device": str(device), "emulated_on_cpu": args.emulate_on_cpu,
                    "labels": LABELS, "batch_size": batch_size, "models": {}}
    with tempfile.TemporaryDirectory(prefix="llava-float8-") as tmp:
        work = Path(tmp)
        paths = bench_data.write_jpegs(work / "images", args.images, 1280, 720)
        for init in inits.split(","):
            spec = dataclasses.replace(bench_model.SHAPES[args.shape], initializer_range=float(init))
            checkpoint = build_tiny_llava(work / f"model-{init}", spec)
            bf16, f8 = load_pair(args, checkpoint, float(init))
            speed_bf16, p_bf16 = classify_speed(bf16, paths, batch_size, work, f"bf16-{init}")
            speed_f8, p_f8 = classify_speed(f8, paths, batch_size, work, f"f8-{init}")
            delta = (p_f8 - p_bf16).abs()
            context = {}
            if args.shape != "llava-1.5-7b":  # how far bf16 itself is from fp32 on this model, for scale
                fp32 = load_model(ModelConfig(model=str(checkpoint), device=str(device), dtype="float32"))
                _, p_fp32 = classify_speed(fp32, paths, batch_size, work, f"fp32-{init}")
                d32 = (p_bf16 - p_fp32).abs()
                context = {"bf16_vs_fp32_max_abs_dp": float(d32.max()), "bf16_vs_fp32_mean_abs_dp": float(d32.mean())}
                del fp32
            report["models"][f"init {init}"] = {
                **context,
                "images": len(paths), "max_abs_dp": float(delta.max()), "mean_abs_dp": float(delta.mean()),
                "top_label_changed": int((p_f8.argmax(-1) != p_bf16.argmax(-1)).sum()),
                "images_per_s_bf16": speed_bf16, "images_per_s_float8": speed_f8,
                "speedup": speed_f8 / speed_bf16,
            }
            del bf16, f8
    return report


def print_report(r: dict) -> None:
    where = "CPU, float8 emulated (speed not meaningful)" if r["emulated_on_cpu"] else r["device"]
    print(f"\n== --dtype float8 vs bfloat16: shape {r['shape']}, {where}, batch {r['batch_size']}, labels {r['labels']}")
    print(f"{'model':<12}{'images':>7}{'max |dp|':>10}{'mean |dp|':>11}{'top changed':>13}{'bf16 img/s':>12}{'fp8 img/s':>11}"
          f"{'x':>7}   (bf16 vs fp32 max / mean |dp|)")
    for name, m in r["models"].items():
        scale = (f"   ({m['bf16_vs_fp32_max_abs_dp']:.4f} / {m['bf16_vs_fp32_mean_abs_dp']:.5f})"
                 if "bf16_vs_fp32_max_abs_dp" in m else "")
        print(f"{name:<12}{m['images']:>7}{m['max_abs_dp']:>10.4f}{m['mean_abs_dp']:>11.5f}{m['top_label_changed']:>13}"
              f"{m['images_per_s_bf16']:>12.2f}{m['images_per_s_float8']:>11.2f}{m['speedup']:>6.2f}x" + scale)


def main(argv=None) -> int:
    return bench_measure.run_and_report(parse_args(argv), run, print_report)


if __name__ == "__main__":
    sys.exit(main())
