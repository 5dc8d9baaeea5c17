"""The `llava-cli finetune` command end to end on the tiny base: outputs, adapter == merged, resume, bad rows."""

import json

import pytest
from typer.testing import CliRunner

from finetune_factories import LABELS

COMMON = ["--device", "cpu", "--dtype", "float32", "--quiet", "--lora-r", "8", "--lora-alpha", "16", "--batch-size", "4"]


def run(cli_app, *args):
    return CliRunner().invoke(cli_app, ["finetune", *args])


def test_lora_outputs_and_adapter_equals_merged(cli_app, trainable_base, shapes_data, tmp_path):
    out = tmp_path / "adapter"
    result = run(cli_app, "--stage", "lora", "--model", trainable_base, "--data", str(shapes_data / "train"),
                 "--labels", ",".join(LABELS), "--output", str(out), "--max-steps", "4", "--lr", "5e-3",
                 "--val-split", "0.1", *COMMON)
    assert result.exit_code == 0, result.output
    for name in ("adapter_config.json", "adapter_model.safetensors", "finetune_config.yaml", "finetune_meta.json",
                 "metrics.csv", "loss_curve.png", "tokenizer_config.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "finetune_meta.json").read_text())
    assert meta["base_model"] == trainable_base and meta["labels"] == LABELS and meta["steps"] == 4
    import polars as pl

    metrics = pl.read_csv(out / "metrics.csv")
    assert metrics["loss"].drop_nulls().len() >= 1 and metrics["eval_accuracy"].drop_nulls().len() == 1

    merged = tmp_path / "merged"
    result = CliRunner().invoke(cli_app, ["finetune", "merge", "--adapter", str(out), "--output", str(merged)])
    assert result.exit_code == 0, result.output
    # A full checkpoint: every tensor of the base (the unread last vision layer included), its config.
    from safetensors import safe_open

    def tensor_names(folder):
        names = set()
        for shard in folder.glob("*.safetensors"):
            with safe_open(str(shard), "pt") as f:
                names |= set(f.keys())
        return names

    from pathlib import Path

    assert tensor_names(merged) == tensor_names(Path(trainable_base))
    base_config = json.loads((Path(trainable_base) / "config.json").read_text())
    merged_config = json.loads((merged / "config.json").read_text())
    assert merged_config["vision_feature_layer"] == base_config["vision_feature_layer"] == -2
    assert merged_config["vision_config"]["num_hidden_layers"] == base_config["vision_config"]["num_hidden_layers"]

    from PIL import Image

    from llava_cli.classify.api import Classifier
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    images = [Image.open(p).convert("RGB") for p in sorted((shapes_data / "val").rglob("*.png"))[::4]]
    via_adapter = Classifier(load_model(ModelConfig(model=trainable_base, adapter=str(out), device="cpu", dtype="float32")), LABELS)
    via_merged = Classifier(load_model(ModelConfig(model=str(merged), device="cpu", dtype="float32")), LABELS)
    plain = Classifier(load_model(ModelConfig(model=trainable_base, device="cpu", dtype="float32")), LABELS)
    a, m, p = (c.predict_proba(images) for c in (via_adapter, via_merged, plain))
    assert (a - m).abs().max() < 1e-4
    assert (a - p).abs().max() > 1e-3  # the adapter (and its trained projector) really changed something


def test_resume_continues_from_the_saved_step(cli_app, trainable_base, shapes_data, tmp_path):
    out = tmp_path / "stage1"
    args = ["--stage", "pretrain", "--model", trainable_base, "--data", str(shapes_data / "captions.csv"),
            "--output", str(out), "--save-steps", "1", "--logging-steps", "1", *COMMON]
    assert run(cli_app, *args, "--max-steps", "2").exit_code == 0
    saved = out / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    state = json.loads(saved.read_text())
    for entry in state["log_history"]:  # mark the saved history: a resumed run carries it on
        if entry.get("step") == 2 and "loss" in entry:
            entry["loss"] = 123.0
    saved.write_text(json.dumps(state))
    result = run(cli_app, *args, "--max-steps", "3", "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "finetune_meta.json").read_text())["steps"] == 3
    state = json.loads((out / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    losses = {h["step"]: h["loss"] for h in state["log_history"] if "loss" in h}
    assert sorted(losses) == [1, 2, 3] and losses[2] == 123.0  # steps 1-2 came from the checkpoint
    assert (out / "model.safetensors").is_file() and (out / "processor_config.json").is_file()


def test_bad_rows_stop_before_training(cli_app, trainable_base, shapes_data, tmp_path):
    csv = tmp_path / "labels.csv"
    good = sorted((shapes_data / "train" / "red").glob("*.png"))[:2]
    csv.write_text(f"source,label\n{good[0]},red\nnope.png,red\n{good[1]},purple\n")
    out = tmp_path / "out"
    result = run(cli_app, "--stage", "lora", "--model", trainable_base, "--data", str(csv), "--labels",
                 ",".join(LABELS), "--output", str(out), "--max-steps", "1", *COMMON)
    assert result.exit_code == 2
    assert "row 3: image not found" in result.output and "row 4: unknown label 'purple'" in result.output
    assert not (out / "adapter_config.json").exists()
    result = run(cli_app, "--stage", "lora", "--model", trainable_base, "--data", str(csv), "--labels",
                 ",".join(LABELS), "--output", str(out), "--max-steps", "1", "--skip-bad-rows", *COMMON)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "finetune_meta.json").read_text())["train_samples"] == 1


def test_usage_errors_name_their_flags(cli_app, tmp_path):
    result = run(cli_app, "--stage", "lora", "--vision-tower", "x", "--data", str(tmp_path / "no.csv"))
    assert result.exit_code == 2
    for flag in ("--language-model", "--data", "--output"):
        assert flag in result.output


@pytest.mark.gpu
def test_lora_bf16_on_gpu(cli_app, trainable_base, shapes_data, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    result = run(cli_app, "--stage", "lora", "--model", trainable_base, "--data", str(shapes_data / "train"),
                 "--output", str(tmp_path / "a"), "--max-steps", "2", "--device", "cuda", "--quiet")
    assert result.exit_code == 0, result.output


def test_same_command_and_seed_give_bit_identical_adapters(cli_app, trainable_base, shapes_data, tmp_path):
    """LoRA matrices are initialised before the Trainer seeds anything; the run seeds first."""
    from safetensors.torch import load_file

    adapters = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = run(cli_app, "--stage", "lora", "--model", trainable_base, "--data", str(shapes_data / "train.csv"),
                     "--labels", ",".join(LABELS), "--output", str(out), "--max-steps", "3", "--lr", "5e-3",
                     "--seed", "7", *COMMON)
        assert result.exit_code == 0, result.output
        adapters.append(load_file(out / "adapter_model.safetensors"))
    a, b = adapters
    assert a.keys() == b.keys() and len(a) > 0
    differing = [k for k in a if not (a[k] == b[k]).all()]
    assert differing == []
    base_init = load_file(tmp_path / "a" / "adapter_model.safetensors")
    assert any("lora_A" in k for k in base_init)
