"""--dtype float8: the language model's linear layers in float8 (torchao), the rest in bf16.

The speed needs a GPU with float8 units (benchmarks/gpu_check.sh); the wiring and the numbers are
checked here on CPU, where torch runs float8 products too, with torchao's GPU check bypassed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.classify.api import Classifier
from llava_cli.config import ClassifyConfig, ModelConfig
from llava_cli.errors import ModelLoadError
from llava_cli.model.loading import load_model

LABELS = ["shooting", "dribbling", "pass"]


def _images(n=4):
    rng = np.random.default_rng(5)
    return [Image.fromarray(rng.integers(0, 255, (40, 30 + 9 * i, 3), dtype=np.uint8)) for i in range(n)]


def test_float8_on_cpu_is_refused_in_one_line_before_loading(tiny_model_dir):
    with pytest.raises(ModelLoadError) as err:
        load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float8"))
    message = str(err.value)
    assert "\n" not in message and "--dtype float8 needs a CUDA GPU" in message and "--dtype bfloat16" in message


def test_float8_settings_are_checked_with_the_flags_to_fix_them():
    assert any("pick one" in p for p in ModelConfig(dtype="float8", load_in_4bit=True).problems())
    assert ModelConfig(dtype="float8").problems() == []
    assert "is not one of" in ModelConfig(dtype="float7").problems()[0]


def test_float8_is_a_row_setting_only_when_used(tiny_model_dir):
    from llava_cli.classify.rows import classify_row_settings

    plain = ClassifyConfig(labels=LABELS, model=ModelConfig(model=tiny_model_dir, dtype="bfloat16"))
    f8 = ClassifyConfig(labels=LABELS, model=ModelConfig(model=tiny_model_dir, dtype="float8"))
    assert "--dtype" not in classify_row_settings(plain)
    assert classify_row_settings(f8)["--dtype"] == "float8"


def test_finetune_refuses_float8():
    from llava_cli.finetune.config import FinetuneConfig
    from llava_cli.finetune.config_checks import choice_problems

    problems = choice_problems(FinetuneConfig(data="x.csv", dtype="float8"))
    assert any("--dtype float8 is for inference" in p for p in problems)


@pytest.fixture()
def float8_on_cpu(monkeypatch):
    """Let the float8 path run on this CPU: llava-cli's and torchao's GPU checks answer yes."""
    pytest.importorskip("torchao")
    import torchao.quantization.quant_api as quant_api

    from llava_cli.model import loading as model_mod

    assert hasattr(quant_api, "_check_hardware_support"), "torchao moved its GPU check: update this fixture"

    monkeypatch.setattr(model_mod, "float8_unavailable", lambda device: None)
    monkeypatch.setattr(quant_api, "_check_hardware_support", lambda granularity: None)


def test_float8_converts_the_language_model_only(tiny_model_dir, float8_on_cpu):
    from torchao.quantization import Float8Tensor

    loaded = load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float8"))
    assert loaded.dtype == torch.bfloat16 and loaded.describe()["dtype"] == "float8"
    weights = {name: p for name, p in loaded.model.named_parameters()}
    lm_linears = [n for n, m in loaded.model.model.language_model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert len(lm_linears) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    for name in lm_linears:
        assert isinstance(weights[f"model.language_model.{name}.weight"], Float8Tensor), name
    others = [n for n in weights if not n.startswith("model.language_model.layers.")]
    assert any(n.startswith("model.vision_tower.") for n in others) and "lm_head.weight" in others
    for name in others:
        assert not isinstance(weights[name], Float8Tensor) and weights[name].dtype == torch.bfloat16, name


def test_float8_probabilities_stay_near_bfloat16(tiny_model_dir, float8_on_cpu):
    images = _images()
    bf16 = load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="bfloat16"))
    f8 = load_model(ModelConfig(model=tiny_model_dir, device="cpu", dtype="float8"))
    p_bf16 = Classifier(bf16, LABELS).predict_proba(images)
    p_f8 = Classifier(f8, LABELS).predict_proba(images)
    torch.testing.assert_close(p_f8.sum(-1), torch.ones(len(images)), rtol=0, atol=1e-5)
    assert (p_f8 - p_bf16).abs().max() < 0.05
    assert not torch.equal(p_f8, p_bf16)  # the float8 products did run
