"""The command line's flags: declared once (commands/options.py), defaults from the config
dataclasses, fixed choices listed, help panels and examples, finetune's config built generically."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from llava_cli.finetune.config import FinetuneConfig
from llava_cli.config import DTYPES, ClassifyConfig, InputConfig, ModelConfig, OutputConfig
from llava_cli.errors import EXIT_USAGE
from llava_cli.model.preprocess import IMAGE_FITS

COMMANDS_DIR = Path(__file__).resolve().parents[2] / "llava_cli" / "commands"
# Same name, a command's own meaning: chat's -p is one question (or '-' for stdin); finetune's
# --batch-size counts samples per device; `finetune merge --adapter` is a required input folder.
OWN_MEANING = {"--prompt", "--batch-size", "--adapter"}


def declared_flags(path: Path) -> set[str]:
    """Flags named in typer.Option(...) calls (and finetune's _opt helper) of one module."""
    flags = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("Option", "_opt"):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
                    flags.update(part for part in arg.value.split("/") if part.startswith("--"))
    return flags


def test_shared_flags_are_declared_only_in_options():
    shared = declared_flags(COMMANDS_DIR / "options.py")
    assert {"--model", "--adapter", "--revision", "--device", "--dtype", "--load-in-4bit", "--load-in-8bit",
            "--trust-remote-code", "--image-fit", "--out", "--fps", "--batch-size", "--max-new-tokens"} <= shared
    for module in sorted(COMMANDS_DIR.glob("*_cmd.py")):
        again = (declared_flags(module) & shared) - OWN_MEANING
        assert not again, f"{module.name} declares {sorted(again)} again; use the alias in options.py"


def _command(cli_app, *path: str):
    cmd = typer.main.get_command(cli_app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def _defaults(cmd) -> dict:
    return {p.name: p.default for p in cmd.params}


def test_defaults_come_from_the_config_dataclasses(cli_app):
    model = ModelConfig()
    for name in ("classify", "annotate", "chat"):
        d = _defaults(_command(cli_app, name))
        for field in ("model", "device", "dtype", "adapter", "revision", "image_fit", "load_in_4bit", "trust_remote_code"):
            assert d[field] == getattr(model, field), (name, field)
    d = _defaults(_command(cli_app, "classify"))
    assert (d["threshold"], d["smooth"], d["fps"]) == (ClassifyConfig.threshold, ClassifyConfig.smooth, InputConfig.fps)
    assert str(d["out"]) == OutputConfig.out


def test_fixed_choices_are_listed_in_help(cli_app):
    help_text = CliRunner().invoke(cli_app, ["classify", "--help"], env={"COLUMNS": "250"}).output
    assert "|".join(DTYPES) in help_text and "|".join(IMAGE_FITS) in help_text and "cuda:N" in help_text
    stages = CliRunner().invoke(cli_app, ["finetune", "--help"], env={"COLUMNS": "250"}).output
    assert "pretrain|instruct|lora|qlora" in stages


@pytest.mark.parametrize("command", [["classify"], ["annotate"], ["chat"], ["finetune"], ["eval"], ["review"]])
def test_every_command_has_panels_and_examples(cli_app, command):
    text = CliRunner().invoke(cli_app, [*command, "--help"], env={"COLUMNS": "250"}).output
    assert "Examples:" in text and f"llava-cli {command[0]}" in text.split("Examples:")[1]
    if command[0] in ("classify", "annotate", "chat"):
        assert "─ Model ─" in text and "─ Prompt ─" in text


@pytest.mark.parametrize(
    "argv",
    [["classify", "a.png", "--labels", "a,b"], ["annotate", "a.png", "-p", "Describe it."], ["chat", "a.png", "-p", "Hi"]],
)
def test_empty_model_is_refused_not_replaced(cli_app, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    result = CliRunner().invoke(cli_app, [*argv, "--model", ""])
    assert result.exit_code == EXIT_USAGE
    assert result.output.strip().splitlines() == ["error: --model is empty: pass a hub id or a local checkpoint folder"]


def test_finetune_flags_are_config_fields(cli_app):
    names = {p.name for p in _command(cli_app, "finetune").params} - {"help", "config", "prompt_file"}
    assert names <= {f for f in FinetuneConfig.__dataclass_fields__}


def test_finetune_builds_the_config_from_given_flags(cli_app, tmp_path, monkeypatch):
    """Flags override the recipe; flags left off keep the recipe's values (and booleans too)."""
    from llava_cli.finetune import api as finetune_api

    seen = {}

    def fake(cfg):
        seen["cfg"] = cfg
        raise typer.Exit(0)

    monkeypatch.setattr(finetune_api, "finetune", fake)
    (tmp_path / "data.csv").write_text("path,label\na.png,cat\n")
    result = CliRunner().invoke(cli_app, [
        "finetune", "--config", "qlora", "--model", "m", "--data", str(tmp_path / "data.csv"), "-o", str(tmp_path / "out"),
        "--lr", "0.5", "--seed", "3", "--labels", "cat,dog", "--skip-bad-rows", "--device", "cpu", "--image-fit", "crop",
    ])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.lr, cfg.seed, cfg.labels, cfg.skip_bad_rows, cfg.device, cfg.image_fit) == (0.5, 3, ["cat", "dog"], True, "cpu", "crop")
    assert (cfg.stage, cfg.batch_size, cfg.gradient_checkpointing, cfg.dtype) == ("qlora", 16, True, "bfloat16")  # the recipe's
    assert cfg.resume is False and cfg.quiet is False and cfg.config.endswith("qlora.yaml")
    result = CliRunner().invoke(cli_app, [
        "finetune", "--config", "qlora", "--model", "m", "--data", str(tmp_path / "data.csv"), "-o", str(tmp_path / "out"),
        "--no-gradient-checkpointing",
    ])
    assert result.exit_code == 0 and seen["cfg"].gradient_checkpointing is False
