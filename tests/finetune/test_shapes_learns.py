"""A smaller examples/shapes run: LoRA on the random base takes held-out accuracy, measured by
`llava-cli classify`, from chance to >= 90%."""

from pathlib import Path

import pytest

from finetune_factories import LABELS, finetune_config


def classify_accuracy(tmp_path: Path, name: str, data: Path, **model) -> float:
    from llava_cli.classify.api import run_classify
    from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig

    cfg = ClassifyConfig(labels=LABELS, model=ModelConfig(device="cpu", dtype="float32", **model),
                         inputs=InputConfig(paths=[str(data / "val")]),
                         output=OutputConfig(out=str(tmp_path / f"{name}.csv"), overwrite=True, quiet=True))
    rows = run_classify(cfg).rows()
    truth = [Path(s).parent.name for s in rows["source"]]
    return sum(t == p for t, p in zip(truth, rows["label"])) / len(truth)


@pytest.mark.slow
def test_lora_learns_shapes(trainable_base, shapes_data, tmp_path):
    from llava_cli.finetune.api import finetune

    before = classify_accuracy(tmp_path, "before", shapes_data, model=trainable_base)
    cfg = finetune_config(stage="lora", model=trainable_base, data=str(shapes_data / "train.csv"), labels=LABELS,
                          output=str(tmp_path / "adapter"), epochs=5, lr=5e-3, batch_size=8, logging_steps=10)
    result = finetune(cfg)
    after = classify_accuracy(tmp_path, "after", shapes_data, model=trainable_base, adapter=str(result.output))
    print(f"shapes (CI size): accuracy {before:.3f} -> {after:.3f}, {result.seconds:.1f}s training, {result.steps} steps")
    assert before <= 0.5
    assert after >= 0.9


@pytest.mark.slow
def test_stage1_then_stage2_learns_shapes(trainable_base, shapes_data, tmp_path):
    from llava_cli.finetune.api import finetune

    stage1 = finetune(finetune_config(stage="pretrain", model=trainable_base, data=str(shapes_data / "captions.csv"),
                                      output=str(tmp_path / "stage1"), epochs=2, lr=5e-3, batch_size=8, logging_steps=10))
    stage2 = finetune(finetune_config(stage="instruct", model=str(stage1.output), data=str(shapes_data / "train"),
                                      labels=LABELS, output=str(tmp_path / "stage2"), epochs=3, lr=2e-3, batch_size=8,
                                      logging_steps=10))
    after = classify_accuracy(tmp_path, "after", shapes_data, model=str(stage2.output))
    print(f"shapes (CI size) stage 1 -> 2: accuracy {after:.3f}, {stage1.seconds + stage2.seconds:.1f}s training")
    assert after >= 0.9
