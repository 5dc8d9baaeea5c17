"""finetune --stage lora under `accelerate launch` with 2 CPU processes (gloo): the effective batch is
logged and right, the adapter is written once, has the single-process adapter's shapes, and loads in
classify."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from factories import free_port
from finetune_factories import LABELS

pytestmark = pytest.mark.slow

TRAIN = ["--stage", "lora", "--device", "cpu", "--dtype", "float32", "--quiet", "--lora-r", "8", "--lora-alpha", "16",
         "--batch-size", "2", "--max-steps", "2", "--lr", "5e-3"]


def test_two_process_lora(cli_app, trainable_base, shapes_data, tmp_path):
    from typer.testing import CliRunner

    data = ["--model", trainable_base, "--data", str(shapes_data / "train"), "--labels", ",".join(LABELS)]
    single = tmp_path / "single"
    result = CliRunner().invoke(cli_app, ["finetune", *data, *TRAIN, "--output", str(single)])
    assert result.exit_code == 0, result.output

    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           "-m", "llava_cli", "finetune", *data, *TRAIN, "--global-batch", "8", "--output", str(two)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stderr.count("effective batch 8 = 2 per device x 2 processes x 2 accumulation steps") == 1, proc.stderr[-3000:]
    meta = json.loads((two / "finetune_meta.json").read_text())
    assert (meta["processes"], meta["grad_accum"], meta["effective_batch"], meta["steps"]) == (2, 2, 8, 2)

    a = load_file(single / "adapter_model.safetensors")
    b = load_file(two / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert any(not (a[k] == b[k]).all() for k in a)  # trained on other batches: other weights

    out = tmp_path / "after.csv"
    result = CliRunner().invoke(cli_app, ["classify", str(shapes_data / "val"), "--labels", ",".join(LABELS), "--model",
                                          trainable_base, "--adapter", str(two), "--dtype", "float32", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
