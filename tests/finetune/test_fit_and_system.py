"""finetune --image-fit / --system: recorded in finetune_meta.json; an adapter used with another fit warns."""

import json
import logging
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from finetune_factories import LABELS


@pytest.fixture
def keep_global_rng():
    """Leave the global random state as this test found it: training here must not change what later
    tests draw (on this branch LoRA matrices are initialised from the global state, unseeded)."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


def test_meta_records_fit_and_system_and_other_fit_warns(cli_app, trainable_base, shapes_data, tmp_path, caplog,
                                                         keep_global_rng):
    from llava_cli.model.chat_templates import LLAVA15_SYSTEM_PROMPT
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    out = tmp_path / "adapter"
    result = CliRunner().invoke(cli_app, [
        "finetune", "--stage", "lora", "--model", trainable_base, "--data", str(shapes_data / "train"),
        "--labels", ",".join(LABELS), "--output", str(out), "--max-steps", "1", "--device", "cpu", "--dtype", "float32",
        "--quiet", "--lora-r", "4", "--lora-alpha", "8", "--batch-size", "2",
        "--image-fit", "crop", "--system", LLAVA15_SYSTEM_PROMPT,
    ])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "finetune_meta.json").read_text())
    assert meta["image_fit"] == "crop" and meta["system"] == LLAVA15_SYSTEM_PROMPT

    with caplog.at_level(logging.WARNING):
        load_model(ModelConfig(model=trainable_base, adapter=str(out), device="cpu", dtype="float32", image_fit="crop"))
    assert "trained with --image-fit" not in caplog.text
    with caplog.at_level(logging.WARNING):
        load_model(ModelConfig(model=trainable_base, adapter=str(out), device="cpu", dtype="float32"))
    assert "was trained with --image-fit crop but this run uses pad" in caplog.text


def test_finetune_flags_are_validated(cli_app, tmp_path):
    result = CliRunner().invoke(cli_app, ["finetune", "--image-fit", "fill", "--system", " "])
    assert result.exit_code == 2
    assert "--image-fit 'fill' is not one of pad, crop" in result.output and "--system is empty" in result.output
