"""Where a model runs and in which dtype: `--device` and `--dtype`, `auto` resolved for this machine."""

from __future__ import annotations

import os

from ..errors import ModelLoadError


def resolve_device(name: str):
    """`auto` picks cuda, then mps, then cpu. Raises ModelLoadError for an unavailable device."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            # Under `accelerate launch`/torchrun each process takes the GPU of its local rank.
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {name}: no CUDA GPU is visible; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("--device mps: MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), so bf16 is faster."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_bf16_is_faster(margin: float = 1.15) -> bool:
    """True where bf16 matrix products actually run faster than fp32 on this CPU (by `margin`).

    Having bf16 instructions does not make bf16 faster: on a 2-core AVX512-BF16 VM, torch 2.13's
    bf16 matmul (oneDNN brgemm) runs at ~180 GFLOP/s and fp32 (MKL) at ~345, so the model runs
    1.6x slower in bf16. A ~1 GFLOP matmul in each dtype (~30 ms in all) tells which is faster;
    interleaved repeats and the best time of each keep other processes' load from deciding.
    """
    import time

    import torch

    if not cpu_supports_bf16():
        return False
    best = {torch.float32: float("inf"), torch.bfloat16: float("inf")}
    mats = {dt: (torch.randn(512, 1024, dtype=dt), torch.randn(1024, 1024, dtype=dt)) for dt in best}
    for dt, (a, b) in mats.items():
        torch.matmul(a, b)  # warm-up: kernel selection and first-touch
    for _ in range(3):
        for dt, (a, b) in mats.items():
            start = time.perf_counter()
            torch.matmul(a, b)
            best[dt] = min(best[dt], time.perf_counter() - start)
    return best[torch.float32] > margin * best[torch.bfloat16]


def resolve_dtype(name: str, device):
    """`auto`: bf16 on GPUs that have it, else fp16 on GPU; on CPU bf16 where it is measurably
    faster than fp32 (see cpu_bf16_is_faster), else fp32. `float8` computes in bf16 around the
    language model's float8 products (llava_cli.model.float8)."""
    import torch

    if name == "float8":
        return torch.bfloat16
    if name != "auto":
        return getattr(torch, name)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_bf16_is_faster() else torch.float32
