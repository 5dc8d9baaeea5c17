"""Measuring helpers: the machine's matmul peak, peak memory while a call runs, and the routes a user
would take instead of classify: the naive per-image loop and transformers' own batched routes."""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device, dtype, size: int | None = None, reps: int | None = None) -> float:
    """Best FLOP/s of a large square matmul in `dtype` on `device` (what "peak" means here)."""
    import torch

    size = size or (8192 if device.type == "cuda" else 4096)
    reps = reps or (20 if device.type == "cuda" else 3)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)
    sync(device)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        torch.matmul(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class MemoryPeak:
    rss_before: int = 0
    rss_peak: int = 0
    device_peak: int = 0  # torch.cuda.max_memory_allocated during the call (0 on CPU)

    @property
    def rss_growth(self) -> int:
        return self.rss_peak - self.rss_before


@contextmanager
def memory_peak(device, interval_s: float = 0.01):
    """Sample this process's RSS in a thread while the block runs (ru_maxrss never goes down, so it
    cannot tell two runs in one process apart); on CUDA also the allocator's peak."""
    import torch

    result = MemoryPeak(rss_before=_rss_bytes())
    result.rss_peak = result.rss_before
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval_s):
            result.rss_peak = max(result.rss_peak, _rss_bytes())

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result.rss_peak = max(result.rss_peak, _rss_bytes())
        if device.type == "cuda":
            result.device_peak = torch.cuda.max_memory_allocated(device)


@dataclass
class RouteRun:
    """One timed pass of a route a user would take instead of classify."""

    seconds: float
    replies: list[str]  # the generated text, per image
    answers: list[str | None]  # the label string-matched in each reply


def match_label(text: str, labels: list[str]) -> str | None:
    """The usual string matching: the longest label found as a word in the generated text."""
    lowered = text.lower()
    for label in sorted(labels, key=len, reverse=True):
        if re.search(rf"\b{re.escape(label.lower())}\b", lowered):
            return label
    return None


def naive_loop(model, processor, paths, prompt: str, labels: list[str], new_tokens: int, device, dtype):
    """The generate-and-parse loop of the LLaVA repo and the transformers docs, one image at a time.

    Greedy `generate` of exactly `new_tokens` tokens (what a real model answers: the longest label
    plus the end token; a random model would not stop by itself), then string matching.
    """
    import torch
    from PIL import Image

    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    replies, answers = [], []
    start = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        text = processor.apply_chat_template(conversation, add_generation_prompt=True)
        inputs = processor(images=image, text=text, return_tensors="pt").to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        with torch.inference_mode():
            out = model.generate(
                **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                pad_token_id=processor.tokenizer.pad_token_id,
            )
        reply = processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        replies.append(reply)
        answers.append(match_label(reply, labels))
    sync(device)
    return RouteRun(time.perf_counter() - start, replies, answers)


def _conversation(prompt: str, image=None) -> list[dict]:
    image_part = {"type": "image"} if image is None else {"type": "image", "url": image}
    return [{"role": "user", "content": [image_part, {"type": "text", "text": prompt}]}]


def batched_generate(model, processor, paths, prompt: str, labels: list[str], new_tokens: int, device, dtype,
                     batch_size: int):
    """transformers' batched route as its docs show it: per batch, open the images, run the processor
    on all of them with left padding, one greedy `generate` of `new_tokens`, decode, string-match.
    Decoding and preprocessing run in the calling thread, between the model's batches, as a user's
    loop does."""
    import torch
    from PIL import Image

    text = processor.apply_chat_template(_conversation(prompt), add_generation_prompt=True)
    side = processor.tokenizer.padding_side
    processor.tokenizer.padding_side = "left"  # decoder-only batching pads on the left
    replies, answers = [], []
    try:
        start = time.perf_counter()
        for i in range(0, len(paths), batch_size):
            images = [Image.open(p).convert("RGB") for p in paths[i : i + batch_size]]
            inputs = processor(images=images, text=[text] * len(images), padding=True, return_tensors="pt").to(device)
            inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
            with torch.inference_mode():
                out = model.generate(
                    **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                    pad_token_id=processor.tokenizer.pad_token_id,
                )
            batch_replies = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            replies += batch_replies
            answers += [match_label(r, labels) for r in batch_replies]
        sync(device)
        return RouteRun(time.perf_counter() - start, replies, answers)
    finally:
        processor.tokenizer.padding_side = side


def pipeline_route(model, processor, paths, prompt: str, labels: list[str], new_tokens: int, device, dtype,
                   batch_size: int):
    """`pipeline("image-text-to-text", batch_size=B)` over chat messages naming the image files (the
    pipeline opens them), greedy `new_tokens`, string-match."""
    from transformers import pipeline

    pipe = pipeline("image-text-to-text", model=model, processor=processor, device=device, dtype=dtype,
                    batch_size=batch_size)
    messages = [_conversation(prompt, str(p)) for p in paths]
    generate = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    start = time.perf_counter()
    outputs = pipe(text=messages, generate_kwargs=generate, return_full_text=False)
    replies = [(o[0] if isinstance(o, list) else o)["generated_text"] for o in outputs]
    answers = [match_label(t, labels) for t in replies]
    sync(device)
    return RouteRun(time.perf_counter() - start, replies, answers)


def quiet_offline() -> None:
    """What every benchmark sets first: no hub access, no tokenizer threads, no library chatter."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from llava_cli.quiet import quiet_libraries

    quiet_libraries()


def write_report(report: dict, out_json) -> None:
    """Keep a benchmark's whole report as JSON (when --out-json was given)."""
    import json

    if out_json:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")


def run_and_report(args, run, print_report) -> int:
    """A benchmark's main: quiet offline set-up, run, print, keep the JSON."""
    quiet_offline()
    report = run(args)
    print_report(report)
    write_report(report, args.out_json)
    return 0


@contextmanager
def model_time(device):
    """Time spent inside the label scorer during a real run, summed: on a GPU by CUDA events (the
    device's timeline from a batch's first kernel to its last), on a CPU by the wall clock. The
    rest of the run is decoding, collating and writing; on a GPU it is the time the GPU is idle.
    Yields a list that holds the total in seconds once the block ends."""
    import torch

    from llava_cli.model.scoring import LabelScorer

    original = LabelScorer.score
    spans: list = []

    def timed(self, batch):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = original(self, batch)
            end.record()
            spans.append((start, end))
            return out
        begin = time.perf_counter()
        out = original(self, batch)
        spans.append(time.perf_counter() - begin)
        return out

    total: list[float] = []
    LabelScorer.score = timed
    try:
        yield total
    finally:
        LabelScorer.score = original
        sync(device)
        total.append(sum(s.elapsed_time(e) / 1e3 for s, e in spans) if device.type == "cuda" else sum(spans))
