#!/usr/bin/env bash
# The one GPU check (issue 13), in one call of under 10 minutes on an H100/H200 (timeouts: 580 s):
#   1. the tests marked gpu (with bitsandbytes installed, 4-bit runs on a GPU; float8 with torchao),
#   2. classify on the llava-1.5-7b shape in bf16, batch 16 and 32, against transformers' batched
#      generate and pipeline and the naive loop, with the time split, the GPU's idle share and a
#      kernel profile (matrix products, attention, the rest),
#   3. classify --compile (torch.compile of the scoring forward) against eager,
#   4. --dtype float8 against bf16 on the same shape: images/s and |Δp|.
#
# Usage, from the repository root on the GPU machine (no internet; torch, transformers and the
# project's dependencies already importable; wheels for torchao/bitsandbytes, if carried in
# wheels/, are installed first):
#     OUT=/some/folder bash benchmarks/gpu_check.sh
# From a session with the device tool: first, here, `pip download --no-deps -d wheels torchao
# bitsandbytes` (~47 MB, under the 64 MiB carry limit; wheels/ is git-ignored), then one call:
#     run(command="bash benchmarks/gpu_check.sh", carry=["wheels"], timeout_s=600)
# ($OUT is set by the device tool; its files come back).
# Writes into $OUT: deps.log, nvidia_smi.log, pytest_gpu.log, bench_gpu.json/.log,
# bench_gpu_compile.json/.log, float8_gpu.json/.log.
# Copy them to benchmarks/results/ (h200_*.json, ...) and the figures into the README.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/llava-gpu-check}"
WHEELS="${WHEELS:-wheels}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ -d "$WHEELS" ]; then
    python -m pip install -q --no-index --find-links "$WHEELS" torchao bitsandbytes 2>&1 | tail -3 | tee "$OUT/pip.log"
fi

python - <<'PY' 2>&1 | tee "$OUT/deps.log"
import importlib, sys
need = ["torch", "transformers", "tokenizers", "safetensors", "huggingface_hub", "polars", "cv2", "PIL", "numpy",
        "typer", "tqdm", "yaml"]
optional = ["peft", "accelerate", "bitsandbytes", "torchao", "pytest"]
missing = []
for name in need + optional:
    try:
        mod = importlib.import_module(name)
        print(f"ok       {name} {getattr(mod, '__version__', '')}")
    except Exception as exc:  # report every missing module at once, not just the first
        print(f"MISSING  {name} ({type(exc).__name__}: {exc})")
        if name in need:
            missing.append(name)
import torch
print("cuda:", torch.cuda.is_available(), torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
sys.exit(1 if missing or not torch.cuda.is_available() else 0)
PY
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "gpu_check: required modules missing or no CUDA (see above); not running the benchmark" | tee -a "$OUT/deps.log"
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$OUT/nvidia_smi.log"

# 1. GPU tests (quick): auto device/dtype, CPU-vs-GPU probabilities, bf16 LoRA steps, 4-bit and 8-bit, float8.
timeout 75 python -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 | tail -25 | tee "$OUT/pytest_gpu.log"

# 2. 256 images for classify (batch 16 and 32) and, at the best batch size, two interleaved rounds of
#    classify and transformers' batched routes; 32 for the naive loop; a 120-frame clip for --dedup.
timeout 240 python benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 16,32 --rounds 2 \
    --images 256 --naive-images 32 --profile --out-json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
status=${PIPESTATUS[0]}

# 3. --compile on its own (a compile that runs long must not cost the figures above): classify at
#    batch 32, then a compiling run and a compiled run of the same 256 images.
timeout 150 python benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 32 --quick --compile \
    --peers "" --naive-images 0 --images 256 --out-json "$OUT/bench_gpu_compile.json" 2>&1 | tee "$OUT/bench_gpu_compile.log"

# 4. float8 (torchao) against bf16 on the same shape and images.
timeout 100 python benchmarks/bench_float8.py --shape llava-1.5-7b --images 128 --batch-size 32 \
    --out-json "$OUT/float8_gpu.json" 2>&1 | tee "$OUT/float8_gpu.log"
exit "$status"
