#!/usr/bin/env bash
# The one GPU check (issue 13), in one call of under 10 minutes on an H100/H200 (step timeouts 565 s,
# plus ~15 s to install the carried wheels and check requirements):
#   1. the tests marked gpu (with bitsandbytes installed, 4-bit runs on a GPU; float8 with torchao),
#   2. classify on the llava-1.5-7b shape in bf16, batch 16 and 32, against transformers' batched
#      generate and pipeline and the naive loop, with the time split, the GPU's idle share and a
#      kernel profile (matrix products, attention, the rest),
#   3. classify --compile (torch.compile of the scoring forward) against eager,
#   4. --dtype float8 against bf16 on the same shape: images/s and |Δp|.
#
# Usage, from the repository root on the GPU machine (no internet; the image's python3 holds torch
# with CUDA; what the image lacks or has too old, carried as wheels in wheels/, is installed first
# with the project into a folder of its own that comes first on PYTHONPATH):
#     OUT=/some/folder bash benchmarks/gpu_check.sh
# From a session with the device tool: first, here, `python benchmarks/gpu_wheels.py` (transformers,
# polars, torchao, bitsandbytes, peft, typer for the device's Python 3.12, ~60 MiB with the tree, under the
# 64 MiB a call carries; wheels/ is git-ignored), then one call:
#     run(command="bash benchmarks/gpu_check.sh", carry=["wheels"], timeout_s=600)
# ($OUT is set by the device tool; its files come back).
# Writes into $OUT: pip.log, deps.log, nvidia_smi.log, pytest_gpu.log, bench_gpu.json/.log,
# bench_gpu_compile.json/.log, float8_gpu.json/.log.
# Copy them to benchmarks/results/ (h200_*.json, ...) and the figures into the README.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/llava-gpu-check}"
WHEELS="${WHEELS:-wheels}"
SITE="${SITE:-/tmp/llava-gpu-site}"
PY="${PYTHON:-python3}"  # the device image's interpreter; it may have no `python`
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"

# The project itself is installed too, not just put on the path: finetune/ installs as
# llava_cli.finetune (pyproject's package-dir), which the CLI and the finetune tests import.
{ if compgen -G "$WHEELS/*.whl" > /dev/null; then
      "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade --target "$SITE" .
} 2>&1 | tail -5 | tee "$OUT/pip.log"

# Every unmet requirement of pyproject (and the fp8 extra) at once, then CUDA; the review page's
# server packages are not used here.
{ "$PY" benchmarks/check_requirements.py --extras fp8 --skip starlette,uvicorn \
    && "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print('cuda:', torch.version.cuda, torch.cuda.get_device_name(0))"
} 2>&1 | tee "$OUT/deps.log"
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "gpu_check: requirements unmet or no CUDA (see above); not running the checks" | tee -a "$OUT/deps.log"
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$OUT/nvidia_smi.log"

# 1. GPU tests (quick): auto device/dtype, CPU-vs-GPU probabilities, bf16 LoRA steps, 4-bit and 8-bit, float8.
timeout 75 "$PY" -m pytest -m gpu -q -p no:cacheprovider $(grep -rl "mark.gpu" tests) 2>&1 | tail -25 | tee "$OUT/pytest_gpu.log"

# 2. 256 images for classify (batch 16 and 32) and, at the best batch size, two interleaved rounds of
#    classify and transformers' batched routes; 32 for the naive loop; a 120-frame clip for --dedup.
timeout 240 "$PY" benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 16,32 --rounds 2 \
    --images 256 --naive-images 32 --profile --out-json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
status=${PIPESTATUS[0]}

# 3. --compile on its own (a compile that runs long must not cost the figures above): classify at
#    batch 32, then a compiling run and a compiled run of the same 256 images.
timeout 150 "$PY" benchmarks/bench_classify.py --shape llava-1.5-7b --batch-size 32 --quick --compile \
    --peers "" --naive-images 0 --images 256 --out-json "$OUT/bench_gpu_compile.json" 2>&1 | tee "$OUT/bench_gpu_compile.log"

# 4. float8 (torchao) against bf16 on the same shape and images.
timeout 100 "$PY" benchmarks/bench_float8.py --shape llava-1.5-7b --images 128 --batch-size 32 \
    --out-json "$OUT/float8_gpu.json" 2>&1 | tee "$OUT/float8_gpu.log"
exit "$status"
