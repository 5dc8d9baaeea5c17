#!/usr/bin/env bash
# The whole shapes loop on CPU: data -> tiny random base -> classify (before) -> finetune -> classify (after).
#   bash examples/shapes/run.sh            # LoRA; classify -> review (API) -> LoRA; then stage 1 -> stage 2
#   WORK=/tmp/shapes bash examples/shapes/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
W="${WORK:-$ROOT/examples/shapes/work}"
LABELS=red,green,blue,yellow
CLI="python -m llava_cli"
COMMON="--device cpu --dtype float32 --quiet"

python examples/shapes/make_shapes.py --out "$W/data"
python examples/shapes/make_base.py --out "$W/base"

classify() {  # classify MODEL_ARGS... OUT
  local out="${@: -1}"
  $CLI classify "$W/data/val" --labels "$LABELS" "${@:1:$#-1}" --out "$out" --overwrite --device cpu --dtype float32 -q
  python examples/shapes/accuracy.py "$out"
}

trained() {  # the training seconds a run recorded
  python -c "import json,sys; m=json.load(open(sys.argv[1])); print(f\"{m['seconds']}s training, {m['steps']} steps\")" "$1/finetune_meta.json"
}

echo "== before: the random base"
classify --model "$W/base" "$W/before.csv"

echo "== LoRA"
start=$(date +%s)
$CLI finetune --stage lora --model "$W/base" --data "$W/data/train.csv" --labels "$LABELS" \
  --output "$W/lora" --epochs 3 --lr 5e-3 --lora-r 16 --lora-alpha 32 --batch-size 8 --val-split 0.1 $COMMON
echo "lora: $(( $(date +%s) - start ))s wall incl. loading; $(trained "$W/lora")"
classify --model "$W/base" --adapter "$W/lora" "$W/after-lora.csv"
echo "== eval: LoRA predictions against the held-out folders (report in $W/report-lora/)"
$CLI eval "$W/after-lora.csv" --truth "$W/data/val" --report "$W/report-lora"

echo "== review: classify the training images, correct them through the review API (no browser), LoRA on the review file"
$CLI classify "$W/data/train" --labels "$LABELS" --model "$W/base" --out "$W/train-before.csv" --overwrite --device cpu --dtype float32 -q
rm -f "$W/train-before.review.csv" "$W/train-before.review.log"  # a fresh review on each run
python examples/shapes/review_with_truth.py "$W/train-before.csv" --fraction 0.75 --unsure-every 10
echo "(in a browser: llava-cli review $W/train-before.csv)"
$CLI finetune --stage lora --model "$W/base" --data "$W/train-before.review.csv" --labels "$LABELS" \
  --output "$W/lora-review" --epochs 3 --lr 5e-3 --lora-r 16 --lora-alpha 32 --batch-size 8 --val-split 0.1 $COMMON
classify --model "$W/base" --adapter "$W/lora-review" "$W/after-review.csv"

echo "== stage 1 (projector only, captions) -> stage 2 (projector + LLM, labelled data)"
start=$(date +%s)
$CLI finetune --stage pretrain --model "$W/base" --data "$W/data/captions.csv" \
  --output "$W/stage1" --epochs 2 --lr 5e-3 --batch-size 8 $COMMON
$CLI finetune --stage instruct --model "$W/stage1" --data "$W/data/train" --labels "$LABELS" \
  --output "$W/stage2" --epochs 2 --lr 1e-3 --batch-size 8 $COMMON
echo "stage 1 + 2: $(( $(date +%s) - start ))s wall incl. loading; stage 1 $(trained "$W/stage1"); stage 2 $(trained "$W/stage2")"
classify --model "$W/stage2" "$W/after-stage2.csv"
$CLI eval "$W/after-stage2.csv" --truth "$W/data/val" --report "$W/report-stage2" --json > "$W/report-stage2.json"
