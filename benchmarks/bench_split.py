"""Where classify's time goes: the per-part time split and an operator profile of the scorer.

The time split (`time_split`) times each part on prepared batches: decode + preprocess on one
thread, the vision tower + projector, the language model's prefix pass, the label pass. The
profile (`operator_profile`) runs the scorer on prepared batches under torch.profiler and groups
the operators' own time (CUDA kernel time on a GPU, CPU time on a CPU) into matrix products,
attention and the rest (norms, activations, copies): what is left between the model and the
matmul peak.
"""

from __future__ import annotations

import time

import bench_measure

# Operator / kernel name fragments of each group (aten op names on a CPU, kernel names on a GPU).
# (cuBLAS names its Hopper GEMM kernels nvjet_*, sm90_xmma_gemm_* or cutlass_*.)
GROUPS = {
    "attention": ("attention", "flash", "fmha", "sdpa"),
    "matmul": ("gemm", "gemv", "nvjet", "aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "xmma",
               "cutlass", "cublas", "sm90_", "sm80_", "ampere_", "conv"),
}


def _prepared(clf, paths, fast_decode: bool):
    from llava_cli.media.video import load_image, shrink

    min_side = clf.min_side if fast_decode else None
    return [clf.encode(shrink(load_image(p, min_side=min_side), min_side)) for p in paths]


def time_split(clf, paths, batch_size: int, device, fast_decode: bool) -> dict:
    """Where an image's time goes: decode+preprocess on one thread (as a decode worker does it), and
    on prepared batches the vision tower + projector, the language model's prefix pass and the
    label pass (each the best of 3 timed rounds, synchronised)."""
    import torch

    from llava_cli.model.batching import collate

    start = time.perf_counter()
    feats = _prepared(clf, paths, fast_decode)
    prep = (time.perf_counter() - start) / len(paths)
    batches = [feats[i : i + batch_size] for i in range(0, len(feats), batch_size)]
    model = clf.scorer.model
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model

    def best_ms_per_image(step) -> float:
        step(batches[0])  # warm-up at this batch shape
        best = float("inf")
        for _ in range(3):
            bench_measure.sync(device)
            start = time.perf_counter()
            for b in batches:
                step(b)
            bench_measure.sync(device)
            best = min(best, time.perf_counter() - start)
        return best / len(feats) * 1e3

    def vision(b):
        pixels = collate(b, 0)["pixel_values"].to(device, clf.scorer.dtype)
        with torch.inference_mode():
            inner.model.get_image_features(pixel_values=pixels)

    def prefix(b):
        batch = {k: v.to(device) for k, v in collate(b, clf.processor.tokenizer.pad_token_id).items()}
        batch["pixel_values"] = batch["pixel_values"].to(clf.scorer.dtype)
        with torch.inference_mode():
            model(**batch, use_cache=True, logits_to_keep=1)

    vision_ms = best_ms_per_image(vision)
    prefix_ms = best_ms_per_image(prefix)
    score_ms = best_ms_per_image(clf.log_likelihoods)
    return {"prepare_ms_per_image_1_thread": prep * 1e3, "model_ms_per_image": score_ms,
            "vision_ms_per_image": vision_ms, "llm_prefix_ms_per_image": max(prefix_ms - vision_ms, 0.0),
            "label_pass_ms_per_image": max(score_ms - prefix_ms, 0.0)}



def add_shares(t: dict) -> None:
    """Each part's share of the end-to-end time per image."""
    end_to_end = t["end_to_end_ms_per_image"]
    t["model_share"] = t["model_ms_per_image"] / end_to_end
    for part in ("vision", "llm_prefix", "label_pass"):
        t[f"{part}_share"] = t[f"{part}_ms_per_image"] / end_to_end
    t["decode_share_1_thread"] = t["prepare_ms_per_image_1_thread"] / end_to_end


def group_of(name: str) -> str:
    lowered = name.lower()
    for group, fragments in GROUPS.items():
        if any(f in lowered for f in fragments):
            return group
    return "other"


def operator_profile(clf, paths, batch_size: int, device, fast_decode: bool, top: int = 12) -> dict:
    """The scorer on prepared batches under torch.profiler: own time per operator (GPU: kernels),
    the top `top` operators and the matmul / attention / other shares."""
    from torch.profiler import ProfilerActivity, profile

    feats = _prepared(clf, paths, fast_decode)
    batches = [feats[i : i + batch_size] for i in range(0, len(feats), batch_size)]
    clf.log_likelihoods(batches[0])  # warm-up at this batch shape
    on_gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    bench_measure.sync(device)
    with profile(activities=activities) as prof:
        for b in batches:
            clf.log_likelihoods(b)
        bench_measure.sync(device)
    if on_gpu:  # the kernels themselves (an aten op's own device time would count them twice)
        from torch.autograd import DeviceType

        rows = [(e.key, e.self_device_time_total, e.count) for e in prof.key_averages() if e.device_type == DeviceType.CUDA]
    else:
        rows = [(e.key, e.self_cpu_time_total, e.count) for e in prof.key_averages()]
    rows = [r for r in rows if r[1] > 0]
    total_us = sum(r[1] for r in rows)
    groups: dict[str, float] = {}
    for name, us, _ in rows:
        group = group_of(name)
        groups[group] = groups.get(group, 0.0) + us
    rows.sort(key=lambda r: -r[1])
    per_image = 1e-3 / len(feats)  # us -> ms per image
    return {
        "clock": "GPU kernel time" if on_gpu else "CPU operator time",
        "ms_per_image": total_us * per_image,
        "group_share": {g: us / total_us for g, us in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top": [{"name": name[:90], "ms_per_image": us * per_image, "share": us / total_us, "calls": calls}
                for name, us, calls in rows[:top]],
    }


def print_profile(p: dict) -> None:
    groups = ", ".join(f"{g} {100 * share:.0f}%" for g, share in p["group_share"].items())
    print(f"operator profile of the scorer ({p['clock']}, {p['ms_per_image']:.1f} ms per image): {groups}")
    for row in p["top"]:
        print(f"    {100 * row['share']:5.1f}%  {row['ms_per_image']:8.2f} ms/img  {row['calls']:6d} calls  {row['name']}")
