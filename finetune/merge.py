"""Merge a LoRA adapter folder into its base model and write a standalone checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from llava_cli.config import ModelConfig
from llava_cli.errors import UsageError
from llava_cli.model.loading import load_model


def adapter_base(adapter: str | Path) -> str:
    """The base model an adapter folder was trained on (finetune_meta.json, else adapter_config.json).

    Raises UsageError when the folder is not an adapter or names no base.
    """
    folder = Path(adapter)
    config = folder / "adapter_config.json"
    if not config.is_file():
        raise UsageError(f"--adapter {adapter}: no adapter_config.json there; pass a LoRA adapter folder")
    for name, key in (("finetune_meta.json", "base_model"), ("adapter_config.json", "base_model_name_or_path")):
        path = folder / name
        if path.is_file():
            base = json.loads(path.read_text(encoding="utf-8")).get(key)
            if base:
                return base
    raise UsageError(f"--adapter {adapter} does not say which base model it was trained on; pass --model")


def merge_adapter(adapter: str, output: str, model: str | None = None, dtype: str = "float32") -> Path:
    """Write base + adapter, merged, as a full checkpoint (model and processor) into `output`.

    Raises UsageError (not an adapter folder) and ModelLoadError (base or adapter will not load).
    """
    base = model or adapter_base(adapter)
    loaded = load_model(ModelConfig(model=base, adapter=adapter, device="cpu", dtype=dtype), keep_all_layers=True)
    merged = loaded.model.merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    loaded.processor.save_pretrained(out)
    return out
