"""`llava-cli finetune` (trains; flags override the --config recipe) and `llava-cli finetune merge`.

Every training flag is named after the FinetuneConfig field it sets and defaults to None ("not
given"), so the config is built generically: the recipe's values, then every flag that was given
(`options.given`), then FinetuneConfig's defaults for the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from llava_cli.finetune.config import FinetuneConfig
from llava_cli.finetune.stages import STAGES

from ..config import parse_labels
from ._errors import translate_errors
from .options import (
    MODEL,
    OUTPUT,
    DeviceOpt,
    DtypeOpt,
    ImageFitOpt,
    ModelOpt,
    PromptFileOpt,
    PromptOpt,
    QuietOpt,
    SystemOpt,
    choices,
    examples,
    given,
    read_prompt,
)

DATA = "Data"
TRAINING = "Training"
EXAMPLES = examples(
    "llava-cli finetune --stage lora --model llava-hf/llava-1.5-7b-hf --data labelled.csv --labels cat,dog -o cats-lora",
    "llava-cli finetune --config qlora --data train/ --val-split 0.1 --epochs 3 -o my-adapter",
    "llava-cli finetune merge --adapter my-adapter -o my-model",
)


def _opt(flag: str, help: str, type_: type = str, panel: str = TRAINING, **extra: Any):
    """A finetune flag: optional (None = take the recipe's value), in `panel`."""
    return Annotated[Optional[type_], typer.Option(flag, help=help, rich_help_panel=panel, **extra)]


def train(
    ctx: typer.Context,
    stage: _opt("--stage", "pretrain (stage 1), instruct (stage 2), lora or qlora.", **choices(STAGES)) = None,
    config: _opt("--config", "Recipe YAML (path, or a built-in name: pretrain, instruct, lora, qlora).") = None,
    model: ModelOpt = None,
    vision_tower: _opt("--vision-tower", "CLIP vision model (id or folder): compose a new LLaVA with --language-model.", panel=MODEL) = None,
    language_model: _opt("--language-model", "Causal LM (id or folder) to compose with --vision-tower.", panel=MODEL) = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    image_fit: ImageFitOpt = None,
    data: _opt("--data", "LLaVA JSON(L), labelled CSV (path + label columns), caption CSV, or a folder per class.", panel=DATA) = None,
    image_folder: _opt("--image-folder", "Root for relative image paths in --data (paths may not escape it).", panel=DATA) = None,
    val_data: _opt("--val-data", "Separate validation data (same formats as --data).", panel=DATA) = None,
    val_split: _opt("--val-split", "Hold out this fraction of --data for validation.", float, DATA) = None,
    labels: _opt("--labels", "Comma-separated labels: fixes the label set and its order.", panel=DATA) = None,
    max_length: _opt("--max-length", "Truncate conversations to this many tokens.", int, DATA) = None,
    skip_bad_rows: _opt("--skip-bad-rows", "Train on the good rows; bad ones are reported.", bool, DATA) = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    epochs: _opt("--epochs", "Training epochs.", float) = None,
    max_steps: _opt("--max-steps", "Stop after this many optimizer steps (overrides --epochs).", int) = None,
    lr: _opt("--lr", "Learning rate.", float) = None,
    projector_lr: _opt("--projector-lr", "Projector learning rate (default: --lr).", float) = None,
    batch_size: _opt("--batch-size", "Samples per device per step; lower it when the GPU runs out of memory.", int) = None,
    grad_accum: _opt("--grad-accum", "Gradient accumulation steps.", int) = None,
    global_batch: _opt("--global-batch", "Samples per optimizer step over all processes; sets --grad-accum.", int) = None,
    lora_r: _opt("--lora-r", "LoRA rank.", int) = None,
    lora_alpha: _opt("--lora-alpha", "LoRA alpha.", int) = None,
    warmup_ratio: _opt("--warmup-ratio", "Fraction of steps for linear warmup.", float) = None,
    seed: _opt("--seed", "Random seed.", int) = None,
    gradient_checkpointing: _opt(
        "--gradient-checkpointing/--no-gradient-checkpointing", "Trade compute for memory.", bool
    ) = None,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Folder for the adapter or checkpoint.", rich_help_panel=OUTPUT)
    ] = None,
    save_steps: _opt("--save-steps", "Save a checkpoint every N steps.", int, OUTPUT) = None,
    logging_steps: _opt("--logging-steps", "Log loss every N steps.", int, OUTPUT) = None,
    resume: _opt("--resume", "Continue from the last checkpoint in --output.", bool, OUTPUT) = None,
    quiet: QuietOpt = False,
) -> None:
    """Train: stage 1 (pretrain), stage 2 (instruct), or a LoRA/QLoRA adapter on your labelled data.

    Writes an adapter folder (lora/qlora; use it with `classify --adapter`) or a full checkpoint
    (pretrain/instruct; use it with `--model`), plus finetune_config.yaml, metrics.csv, loss_curve.png.
    Flags override the --config recipe; what neither sets takes FinetuneConfig's default.

    \f
    Over 50 lines only because typer reads the flags from the signature; the body is short.
    """
    if ctx.invoked_subcommand is not None:
        return
    options = dict(locals())  # the parsed flags, by name: each is a FinetuneConfig field
    from llava_cli.finetune.api import finetune
    from llava_cli.finetune.config import build_config

    overrides = given(FinetuneConfig, options, exclude=["config", "labels", "prompt", "quiet"])
    overrides.update(
        labels=parse_labels(labels) if labels else None,
        prompt=read_prompt(prompt, prompt_file),
        quiet=quiet or None,  # a flag left off keeps the recipe's setting
    )
    cfg = build_config(overrides, config)
    result = finetune(cfg)
    if not quiet:
        extra = "".join(f", {k} {v:.4g}" for k, v in result.metrics.items() if k in ("eval_loss", "eval_accuracy"))
        use = "--adapter" if cfg.trainable.uses_lora else "--model"
        typer.echo(
            f"trained {result.steps} steps in {result.seconds:.1f}s{extra}; saved to {result.output} "
            f"(use it with {use} {result.output})",
            err=True,
        )


def merge(
    adapter: Annotated[Path, typer.Option("--adapter", help="LoRA adapter folder written by finetune.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the merged checkpoint.")],
    model: ModelOpt = None,
) -> None:
    """Merge a LoRA adapter into its base model: a standalone checkpoint for `--model`.

    --model defaults to the base model the adapter names.
    """
    from llava_cli.finetune.api import merge as merge_api

    out = merge_api(str(adapter), str(output), model)
    typer.echo(f"merged {adapter} into {out}", err=True)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Fine-tune a LLaVA model (stage 1/2, LoRA, QLoRA) and merge adapters.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    sub.callback(invoke_without_command=True, epilog=EXAMPLES)(translate_errors(train))
    sub.command("merge")(translate_errors(merge))
    app.add_typer(sub, name="finetune")
