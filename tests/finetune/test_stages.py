"""For each stage, exactly the declared parameters change after a few steps; frozen ones are bit-identical."""

import pytest
import torch

from finetune_factories import LABELS, finetune_config
from llava_cli.finetune.collate import ConversationDataset, ConversationEncoder, PadCollator
from llava_cli.finetune.data import read_data
from llava_cli.finetune.stages import FULL, LORA, STAGES, LoraSettings, apply_stage, component_of
from llava_cli.finetune.train import load_base
from llava_cli.finetune.trainer import FinetuneTrainer, training_arguments


def train_a_few_steps(cfg, steps=2):
    data = read_data(cfg.data, labels=LABELS, prompt=None, image_folder=None)
    model, processor, device = load_base(cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model = apply_stage(model, cfg.trainable, LoraSettings(8, 16, 0.0))
    encoder = ConversationEncoder(processor)
    trainer = FinetuneTrainer(
        model=model,
        args=training_arguments(cfg, device, has_val=False),
        train_dataset=ConversationDataset(data.conversations[:8], encoder),
        data_collator=PadCollator(processor.tokenizer.pad_token_id),
        projector_lr=cfg.projector_lr,
    )
    trainer.train()
    return before, model, trainer


def base_name(name: str) -> str:
    name = name.removeprefix("base_model.model.").replace(".base_layer", "")
    return name.replace(".original_module", "").replace(".modules_to_save.default", "")


@pytest.mark.parametrize("stage", ["pretrain", "instruct", "lora"])
def test_only_declared_parameters_change(stage, trainable_base, shapes_data, tmp_path):
    cfg = finetune_config(stage=stage, model=trainable_base, data=str(shapes_data / "train.csv"),
                          output=str(tmp_path), max_steps=2, batch_size=4, lr=1e-2)
    before, model, _ = train_a_few_steps(cfg)
    plan = STAGES[stage]
    after = dict(model.named_parameters())
    changed_components = set()
    for name, param in after.items():
        if ".original_module." in name:  # peft keeps the untouched projector beside its trained copy
            assert torch.equal(before[base_name(name)], param.detach())
            continue
        if "lora_" in name or ".modules_to_save." in name:
            continue  # new parameters (adapters, trainable projector copy): checked below
        old = before[base_name(name)]
        component = component_of(base_name(name))
        if plan.modes()[component] == FULL:
            # embeddings of tokens never seen in the batch legitimately keep their value
            if "embed_tokens" not in name and "norm" not in name:
                assert not torch.equal(old, param.detach()), f"{name} should have trained"
            changed_components.add(component)
        else:
            assert torch.equal(old, param.detach()), f"{name} is {plan.modes()[component]} but changed"
    assert "vision_tower" not in changed_components
    if plan.language_model == LORA:
        lora_b = [p for n, p in after.items() if "lora_B" in n]
        assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # lora_B starts at zero
        assert all("language_model" in n for n in after if "lora_" in n)  # never the vision tower
        copies = {n: p for n, p in after.items() if ".modules_to_save." in n}
        assert copies and all(not torch.equal(before[base_name(n)], p) for n, p in copies.items())


def test_projector_has_its_own_learning_rate(trainable_base, shapes_data, tmp_path):
    cfg = finetune_config(stage="lora", model=trainable_base, data=str(shapes_data / "train.csv"),
                          output=str(tmp_path), max_steps=1, batch_size=2, lr=1e-3, projector_lr=1e-5, warmup_ratio=0.0)
    _, model, trainer = train_a_few_steps(cfg, steps=1)
    projector = {id(p) for n, p in model.named_parameters() if "multi_modal_projector" in n and p.requires_grad}
    for group in trainer.optimizer.param_groups:
        is_projector = {id(p) for p in group["params"]} <= projector
        assert group["initial_lr"] == (1e-5 if is_projector else 1e-3)


def test_qlora_runs_and_gradients_flow(trainable_base, shapes_data, tmp_path):
    pytest.importorskip("bitsandbytes")
    cfg = finetune_config(stage="qlora", model=trainable_base, data=str(shapes_data / "train.csv"),
                          output=str(tmp_path), max_steps=2, batch_size=2, lr=1e-2)
    _, model, trainer = train_a_few_steps(cfg)
    assert trainer.state.global_step == 2
    import bitsandbytes as bnb

    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b), "QLoRA got zero gradients"
    kept = [n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert not any("vision_tower" in n or "multi_modal_projector" in n or "lm_head" in n for n in kept)
