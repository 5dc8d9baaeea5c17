#!/usr/bin/env bash
# The one GPU check: GPU tests, the llava-1.5-7b-shaped benchmark in bf16 (issue 6) and the per-stage
# training memory of the 7b shape (issue 7); under 8 minutes on an H100.
#
# Usage, from the repository root on the GPU machine (no internet; dependencies already importable,
# e.g. wheels carried and installed with `pip install --no-index --find-links wheels/ ...`):
#     OUT=/some/folder bash benchmarks/gpu_check.sh
# Writes $OUT/pytest_gpu.log, $OUT/bench_gpu.json, $OUT/bench_gpu.log, $OUT/memory_7b.json and .log.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/llava-gpu-check}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

python - <<'PY' 2>&1 | tee "$OUT/deps.log"
import importlib, sys
need = ["torch", "transformers", "tokenizers", "safetensors", "huggingface_hub", "polars", "cv2", "PIL", "numpy",
        "typer", "tqdm", "yaml"]
optional = ["peft", "accelerate", "bitsandbytes", "pytest"]
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

# GPU tests first (quick): auto device/dtype, CPU-vs-GPU probabilities, bf16 LoRA steps, 4-bit if installed.
timeout 120 python -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 | tail -25 | tee "$OUT/pytest_gpu.log"

# 256 images for classify at batch 8 and 32, 32 for the naive loop, a 120-frame clip for --dedup.
timeout 300 python benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 8,32 \
    --images 256 --naive-images 32 --out-json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
status=${PIPESTATUS[0]}

# Peak memory per training stage for the 7b shape (issue 7's memory table).
timeout 150 python benchmarks/memory_7b.py --out-json "$OUT/memory_7b.json" 2>&1 | grep -v Warning | tee "$OUT/memory_7b.log"
exit "$status"
