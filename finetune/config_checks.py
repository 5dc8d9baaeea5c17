"""The checks behind `FinetuneConfig.validate()`, one function per group of settings.

Each returns a list of problems, each naming the flag that fixes it, so a run with several
mistakes reports them all at once. They run in this order: base model, data and prompt,
training numbers, then choices and limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llava_cli.config import DEVICES, DTYPES, image_fit_problems, label_problems, system_problems
from llava_cli.model.float8 import FLOAT8

from .stages import STAGES

if TYPE_CHECKING:
    from .config import FinetuneConfig

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")


def problems(cfg: FinetuneConfig) -> list[str]:
    """Every problem of `cfg`, in the order above ([] when it is valid)."""
    return model_problems(cfg) + data_problems(cfg) + training_problems(cfg) + choice_problems(cfg)


def model_problems(cfg: FinetuneConfig) -> list[str]:
    """The stage, and one base: --model, or --vision-tower with --language-model for stage 1/2."""
    p: list[str] = []
    if cfg.stage not in STAGES:
        p.append(f"--stage {cfg.stage!r} is not one of {', '.join(STAGES)}")
    if cfg.composing:
        if not (cfg.vision_tower and cfg.language_model):
            p.append("composing a new model needs both --vision-tower and --language-model")
        if cfg.model:
            p.append("--model and --vision-tower/--language-model exclude each other: start from one or compose")
        if cfg.stage in STAGES and cfg.trainable.uses_lora:
            p.append(f"--stage {cfg.stage} trains an adapter for an existing --model; compose with --stage pretrain")
    elif not cfg.model:
        p.append("no base model: pass --model (a LLaVA checkpoint) or --vision-tower and --language-model")
    return p


def data_problems(cfg: FinetuneConfig) -> list[str]:
    """--data, --image-folder, validation, --output, and what is asked: labels, prompt, system, fit."""
    p: list[str] = []
    if not cfg.data:
        p.append("--data is missing: a LLaVA JSON, a labelled or caption CSV, or a folder per class")
    else:
        p += data_path_problems("--data", cfg.data)
    if cfg.image_folder and not Path(cfg.image_folder).is_dir():
        p.append(f"--image-folder {cfg.image_folder}: no such folder")
    if cfg.val_data:
        p += data_path_problems("--val-data", cfg.val_data)
    if cfg.val_data and cfg.val_split:
        p.append("--val-data and --val-split exclude each other: pick one")
    if not 0.0 <= cfg.val_split < 1.0:
        p.append(f"--val-split must be in [0, 1) (got {cfg.val_split})")
    if not cfg.output:
        p.append("--output is missing: the folder for the checkpoint or adapter")
    if cfg.labels:
        p += label_problems(cfg.labels)
    if cfg.prompt is not None and not cfg.prompt.strip():
        p.append("--prompt is empty: leave it out for classify's default, or write one")
    return p + system_problems(cfg.system) + image_fit_problems(cfg.image_fit)


def training_problems(cfg: FinetuneConfig) -> list[str]:
    """Length, learning rates, batch sizes, LoRA sizes and ratios."""
    p: list[str] = []
    if not cfg.epochs > 0 and cfg.max_steps <= 0:
        p.append(f"--epochs must be > 0 (got {cfg.epochs}), or set --max-steps")
    for name, flag in (("lr", "--lr"), ("projector_lr", "--projector-lr")):
        value = getattr(cfg, name)
        if value is not None and not value > 0:
            p.append(f"{flag} must be > 0 (got {value})")
    for name in ("batch_size", "grad_accum", "lora_r", "lora_alpha", "save_steps", "logging_steps"):
        if getattr(cfg, name) < 1:
            p.append(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(cfg, name)})")
    if cfg.global_batch is not None and cfg.global_batch < 1:
        p.append(f"--global-batch must be >= 1 (got {cfg.global_batch})")
    elif cfg.global_batch and cfg.global_batch % cfg.batch_size:
        p.append(f"--global-batch {cfg.global_batch} is not a multiple of --batch-size {cfg.batch_size}")
    if not 0.0 <= cfg.lora_dropout < 1.0:
        p.append(f"--lora-dropout must be in [0, 1) (got {cfg.lora_dropout})")
    if not 0.0 <= cfg.warmup_ratio < 1.0:
        p.append(f"--warmup-ratio must be in [0, 1) (got {cfg.warmup_ratio})")
    return p


def choice_problems(cfg: FinetuneConfig) -> list[str]:
    """Fixed choices (scheduler, device, dtype) and limits (max length, data loader workers)."""
    p: list[str] = []
    if cfg.lr_scheduler not in SCHEDULERS:
        p.append(f"--lr-scheduler {cfg.lr_scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    if cfg.device not in DEVICES and not cfg.device.startswith("cuda:"):
        p.append(f"--device {cfg.device!r} is not one of {', '.join(DEVICES)} (or cuda:N)")
    if cfg.dtype == FLOAT8:
        p.append("--dtype float8 is for inference (classify, annotate, chat); train in bfloat16 or auto")
    elif cfg.dtype not in DTYPES:
        p.append(f"--dtype {cfg.dtype!r} is not one of {', '.join(DTYPES)}")
    if cfg.max_length is not None and cfg.max_length < 8:
        p.append(f"--max-length must be >= 8 tokens (got {cfg.max_length})")
    if cfg.dataloader_workers < 0:
        p.append(f"--dataloader-workers must be >= 0 (got {cfg.dataloader_workers})")
    return p


def data_path_problems(flag: str, value: str) -> list[str]:
    """Why --data/--val-data `value` cannot be read (missing, or a FIFO or device), or []."""
    path = Path(value)
    if not path.exists():
        return [f"{flag} {value}: no such file or folder"]
    if not (path.is_dir() or path.is_file()):  # a FIFO or device: reading it could block forever
        return [f"{flag} {value}: not a regular file or folder"]
    return []
