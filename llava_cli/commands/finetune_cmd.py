"""`llava-cli finetune` (trains; flags override the --config recipe) and `llava-cli finetune merge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._errors import translate_errors
from ..config import parse_labels
from .options import DeviceOpt, ImageFitOpt, PromptFileOpt, PromptOpt, QuietOpt, SystemOpt, read_prompt


def _opt(flag: str, help: str, type_=str):
    return Annotated[Optional[type_], typer.Option(flag, help=help)]


def train(
    ctx: typer.Context,
    stage: _opt("--stage", "pretrain (stage 1) | instruct (stage 2) | lora | qlora") = None,
    config: _opt("--config", "Recipe YAML (path, or a built-in name: pretrain, instruct, lora, qlora).") = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Base LLaVA checkpoint (hub id or folder).")] = None,
    vision_tower: _opt("--vision-tower", "CLIP vision model (id or folder): compose a new LLaVA with --language-model.") = None,
    language_model: _opt("--language-model", "Causal LM (id or folder) to compose with --vision-tower.") = None,
    data: _opt("--data", "LLaVA JSON(L), labelled CSV (path + label columns), caption CSV, or a folder per class.") = None,
    image_folder: _opt("--image-folder", "Root for relative image paths in --data (paths may not escape it).") = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Folder for the adapter or checkpoint.")] = None,
    val_data: _opt("--val-data", "Separate validation data (same formats as --data).") = None,
    val_split: _opt("--val-split", "Hold out this fraction of --data for validation.", float) = None,
    labels: _opt("--labels", "Comma-separated labels: fixes the label set and its order.") = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    image_fit: ImageFitOpt = None,
    epochs: _opt("--epochs", "Training epochs.", float) = None,
    max_steps: _opt("--max-steps", "Stop after this many optimizer steps (overrides --epochs).", int) = None,
    lr: _opt("--lr", "Learning rate.", float) = None,
    projector_lr: _opt("--projector-lr", "Projector learning rate (default: --lr).", float) = None,
    batch_size: _opt("--batch-size", "Samples per device per step.", int) = None,
    grad_accum: _opt("--grad-accum", "Gradient accumulation steps.", int) = None,
    global_batch: _opt("--global-batch", "Samples per optimizer step over all processes; sets --grad-accum.", int) = None,
    lora_r: _opt("--lora-r", "LoRA rank.", int) = None,
    lora_alpha: _opt("--lora-alpha", "LoRA alpha.", int) = None,
    warmup_ratio: _opt("--warmup-ratio", "Fraction of steps for linear warmup.", float) = None,
    save_steps: _opt("--save-steps", "Save a checkpoint every N steps.", int) = None,
    logging_steps: _opt("--logging-steps", "Log loss every N steps.", int) = None,
    max_length: _opt("--max-length", "Truncate conversations to this many tokens.", int) = None,
    seed: _opt("--seed", "Random seed.", int) = None,
    gradient_checkpointing: Annotated[
        Optional[bool], typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Trade compute for memory.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")] = False,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Train on the good rows; bad ones are reported.")] = False,
    device: Annotated[Optional[str], typer.Option("--device", help="auto | cpu | cuda | cuda:N")] = None,
    dtype: _opt("--dtype", "Weight dtype: float32 (default) | bfloat16 | float16 | auto.") = None,
    quiet: QuietOpt = False,
) -> None:
    """Train: stage 1 (pretrain), stage 2 (instruct), or a LoRA/QLoRA adapter on your labelled data.

    Writes an adapter folder (lora/qlora; use it with `classify --adapter`) or a full checkpoint
    (pretrain/instruct; use it with `--model`), plus finetune_config.yaml, metrics.csv, loss_curve.png.
    """
    if ctx.invoked_subcommand is not None:
        return
    from finetune.api import finetune
    from finetune.config import build_config

    overrides = dict(
        stage=stage, model=model, vision_tower=vision_tower, language_model=language_model, data=data,
        image_folder=image_folder, output=output, val_data=val_data, val_split=val_split,
        labels=parse_labels(labels) if labels else None, prompt=read_prompt(prompt, prompt_file), system=system,
        image_fit=image_fit, epochs=epochs,
        max_steps=max_steps, lr=lr, projector_lr=projector_lr, batch_size=batch_size, grad_accum=grad_accum, global_batch=global_batch,
        lora_r=lora_r, lora_alpha=lora_alpha, warmup_ratio=warmup_ratio, save_steps=save_steps,
        logging_steps=logging_steps, max_length=max_length, seed=seed, gradient_checkpointing=gradient_checkpointing,
        resume=resume or None, skip_bad_rows=skip_bad_rows or None, device=device, dtype=dtype, quiet=quiet or None,
    )
    cfg = build_config(overrides, config)
    result = finetune(cfg)
    if not quiet:
        extra = "".join(f", {k} {v:.4g}" for k, v in result.metrics.items() if k in ("eval_loss", "eval_accuracy"))
        use = "--adapter" if cfg.plan.uses_lora else "--model"
        typer.echo(
            f"trained {result.steps} steps in {result.seconds:.1f}s{extra}; saved to {result.output} "
            f"(use it with {use} {result.output})",
            err=True,
        )


def merge(
    adapter: Annotated[Path, typer.Option("--adapter", help="LoRA adapter folder written by finetune.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the merged checkpoint.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Base model (default: the one the adapter names).")] = None,
) -> None:
    """Merge a LoRA adapter into its base model: a standalone checkpoint for `--model`."""
    from finetune.api import merge as merge_api

    out = merge_api(str(adapter), str(output), model)
    typer.echo(f"merged {adapter} into {out}", err=True)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Fine-tune a LLaVA model (stage 1/2, LoRA, QLoRA) and merge adapters.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    sub.callback(invoke_without_command=True)(translate_errors(train))
    sub.command("merge")(translate_errors(merge))
    app.add_typer(sub, name="finetune")
