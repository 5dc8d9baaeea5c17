"""The Python API: `finetune(cfg)` trains, `merge(...)` writes a merged checkpoint; no typer needed.

>>> from llava_cli.finetune.api import finetune
>>> from llava_cli.finetune.config import build_config
>>> finetune(build_config({"model": "llava-hf/llava-1.5-7b-hf", "data": "labels.csv", "output": "out"}, "lora"))
"""

from __future__ import annotations

from pathlib import Path

from .config import FinetuneConfig
from .merge import merge_adapter
from .train import TrainResult, run_training


def finetune(cfg: FinetuneConfig) -> TrainResult:
    """Validate `cfg`, train, and save into cfg.output: a LoRA adapter folder (stages lora/qlora,
    load it with `--adapter`) or a full checkpoint (pretrain/instruct, load it with `--model`).

    Raises UsageError (bad settings), DataError (bad rows without --skip-bad-rows),
    ModelLoadError, TokenizationMismatch.
    """
    cfg.validate()
    return run_training(cfg)


def merge(adapter: str, output: str, model: str | None = None) -> Path:
    """Merge a LoRA adapter into its base; see llava_cli.finetune.merge.merge_adapter for what it raises."""
    return merge_adapter(adapter, output, model)
