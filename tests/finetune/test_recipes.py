from pathlib import Path

import pytest

from llava_cli.finetune.config import RECIPES_DIR, build_config, load_recipe
from llava_cli.finetune.stages import STAGES
from llava_cli.errors import UsageError

RECIPES = sorted(RECIPES_DIR.glob("*.yaml"))


def test_one_recipe_per_stage():
    assert {p.stem for p in RECIPES} == set(STAGES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_and_validates(path, tmp_path):
    text = path.read_text()
    assert text.startswith("#") and "finetune --config" in text.split("\nstage:")[0]  # launch command in the header
    data = tmp_path / "d.csv"
    data.write_text("source,label\n")
    cfg = build_config({"model": "some/model", "data": str(data), "output": str(tmp_path / "o")}, path.stem)
    assert cfg.stage == path.stem and cfg.config == str(path)
    assert cfg.lr_scheduler == "cosine" and cfg.warmup_ratio == 0.03 and cfg.epochs == 1


def test_paper_settings():
    pre, ins, lora = load_recipe("pretrain"), load_recipe("instruct"), load_recipe("lora")
    assert pre["lr"] == 1e-3 and pre["global_batch"] == 256 == pre["batch_size"] * 8
    assert ins["lr"] == 2e-5 and ins["global_batch"] == 128 == ins["batch_size"] * 8
    assert lora["global_batch"] == 128
    assert (lora["lora_r"], lora["lora_alpha"], lora["lr"], lora["projector_lr"]) == (128, 256, 2e-4, 2e-5)


def test_flags_override_recipe(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("source,label\n")
    cfg = build_config({"model": "m", "data": str(data), "output": "o", "lr": 1e-4, "lora_r": 8}, "lora")
    assert (cfg.lr, cfg.lora_r, cfg.lora_alpha) == (1e-4, 8, 256)


def test_every_problem_listed_with_its_flag(tmp_path):
    with pytest.raises(UsageError) as info:
        build_config({"stage": "nope", "data": str(tmp_path / "missing"), "batch_size": 0, "val_split": 1.5})
    text = " | ".join(info.value.problems)
    for flag in ("--stage", "--model", "--data", "--output", "--batch-size", "--val-split"):
        assert flag in text


def test_unknown_recipe_and_keys(tmp_path):
    with pytest.raises(UsageError, match="not a built-in recipe"):
        load_recipe("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: lora\nlearning_rate: 1\n")
    with pytest.raises(UsageError, match="learning_rate"):
        load_recipe(str(bad))


def test_global_batch_sets_accumulation(tmp_path):
    from llava_cli.finetune.config import accumulation_steps

    data = tmp_path / "d.csv"
    data.write_text("source,label\n")
    cfg = build_config({"model": "m", "data": str(data), "output": "o", "batch_size": 16}, "lora")
    assert (accumulation_steps(cfg, 1), accumulation_steps(cfg, 2), accumulation_steps(cfg, 8)) == (8, 4, 1)
    with pytest.raises(UsageError, match="does not split"):
        accumulation_steps(cfg, 3)
    explicit = build_config({"model": "m", "data": str(data), "output": "o", "grad_accum": 2}, "lora")
    assert explicit.global_batch is None and accumulation_steps(explicit, 4) == 2
