#!/usr/bin/env bash
# Offline quick start: install, build a tiny random LLaVA, make a few images and a video,
# and classify them. Prints the CSV. (With a network, drop --model to use llava-1.5-7b.)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e .
work=${1:-/tmp/llava-cli-quickstart}
mkdir -p "$work"
python3 examples/make_demo_inputs.py "$work"
llava-cli classify "$work/frames" "$work/game.mp4" --labels shooting,dribbling,passing \
  --model "$work/tiny-llava" --out "$work/plays.csv" --overwrite --segments "$work/segments.csv"
cat "$work/plays.csv"
