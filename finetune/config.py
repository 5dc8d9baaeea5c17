"""`FinetuneConfig`: every setting of a run, from a recipe YAML overridden by flags, validated once.

`validate()` lists every problem at once with the flag that fixes it. Recipes are plain YAML
mappings whose keys are FinetuneConfig field names (see `finetune/recipes/`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from llava_cli.errors import UsageError

from .config_checks import problems
from .stages import STAGES, TrainableParams

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class FinetuneConfig:
    """Everything a finetune run needs. Field names are the recipe keys; flags are --field-name."""

    stage: str = "lora"
    model: str | None = None  # base LLaVA checkpoint (hub id or folder)
    vision_tower: str | None = None  # with language_model: compose a new LLaVA (stage pretrain/instruct)
    language_model: str | None = None
    data: str | None = None  # LLaVA JSON, labelled CSV, caption CSV, or a folder per class
    image_folder: str | None = None
    output: str | None = None
    val_data: str | None = None
    val_split: float = 0.0
    labels: list[str] = field(default_factory=list)  # fixes the label set and its order
    prompt: str | None = None  # as in classify; None: classify's default prompt
    system: str | None = None  # as classify's --system: a system message before the prompt (labelled data)
    image_fit: str | None = None  # as classify's --image-fit (pad/crop); None: pad where the processor crops
    epochs: float = 1.0
    max_steps: int = -1
    lr: float = 2e-4
    projector_lr: float | None = None  # None: same as lr
    batch_size: int = 4  # per device
    grad_accum: int = 1
    # When set, grad_accum is derived at launch: global_batch / (batch_size x processes).
    global_batch: int | None = None
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    gradient_checkpointing: bool = False
    save_steps: int = 500
    save_total_limit: int | None = 2
    logging_steps: int = 10
    resume: bool = False
    skip_bad_rows: bool = False
    max_length: int | None = None  # drop conversations longer than this many tokens (reported)
    seed: int = 42
    device: str = "auto"
    dtype: str = "float32"  # weights; mixed precision (bf16/fp16) is switched on where a GPU has it
    dataloader_workers: int = 0
    quiet: bool = False
    config: str | None = None  # the recipe this was read from

    @property
    def trainable(self) -> TrainableParams:
        """What the stage trains, component by component (`stages.STAGES[stage]`)."""
        return STAGES[self.stage]

    @property
    def composing(self) -> bool:
        return bool(self.vision_tower or self.language_model)

    def validate(self) -> "FinetuneConfig":
        """Return self, or raise UsageError listing every problem with the flag that fixes it
        (the checks are in `config_checks`)."""
        found = problems(self)
        if found:
            raise UsageError(found)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_NAMES = frozenset(f.name for f in fields(FinetuneConfig))


def _field_kind(hint: Any) -> tuple[Any, bool]:
    """(int, float, str, bool or list, whether None is allowed) of a FinetuneConfig field."""
    if get_origin(hint) is list:
        return list, False
    args = [a for a in get_args(hint) if a is not type(None)]
    return (args[0] if args else hint), type(None) in get_args(hint)


def _coerce(value: Any, hint: Any) -> Any:
    """YAML reads `1e-4` (no dot) as text: accept such numbers where the field is a float."""
    if _field_kind(hint)[0] is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _type_problem(name: str, value: Any, hint: Any) -> str | None:
    """Why a recipe value does not fit its field's type (int, float, str, bool, list[str], optional), or None."""
    kind, optional = _field_kind(hint)
    if value is None:
        return None if optional else f"{name} needs a value"
    if kind is bool:
        ok = isinstance(value, bool)
        want = "true or false"
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "a whole number"
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        want = "a finite number"
    elif kind is str:
        ok = isinstance(value, str)
        want = "text"
    else:  # list[str]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        want = "a list of text"
    return None if ok else f"{name} must be {want} (got {value!r})"


def recipe_path(name_or_path: str) -> Path:
    """A recipe file: a path, or the name of a checked-in recipe (`lora` -> recipes/lora.yaml).

    Raises UsageError when neither exists.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    builtin = RECIPES_DIR / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if builtin.is_file():
        return builtin
    known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
    raise UsageError(f"--config {name_or_path}: no such file, and not a built-in recipe ({known})")


def load_recipe(name_or_path: str) -> dict[str, Any]:
    """The settings of a recipe YAML. Raises UsageError for unreadable YAML or unknown keys."""
    import yaml

    path = recipe_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"--config {path}: cannot read it as YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of setting: value")
    unknown = sorted(set(data) - FIELD_NAMES)
    if unknown:
        raise UsageError(f"--config {path}: unknown settings {', '.join(unknown)}; see finetune/config.py")
    hints = get_type_hints(FinetuneConfig)
    data = {key: _coerce(value, hints[key]) for key, value in data.items()}
    wrong = [problem for key, value in data.items() if (problem := _type_problem(key, value, hints[key]))]
    if wrong:
        raise UsageError([f"--config {path}: {problem}" for problem in wrong])
    return {**data, "config": str(path)}


def build_config(overrides: dict[str, Any], recipe: str | None = None) -> FinetuneConfig:
    """Recipe values (if any), then every override that is not None, validated.

    Raises UsageError (unknown keys, bad values) listing every problem.
    """
    values: dict[str, Any] = load_recipe(recipe) if recipe else {}
    unknown = sorted(set(overrides) - FIELD_NAMES)
    if unknown:
        raise UsageError(f"unknown finetune settings: {', '.join(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "grad_accum" in given and "global_batch" not in given:
        values.pop("global_batch", None)  # an explicit --grad-accum beats the recipe's global batch
    values.update(given)
    return FinetuneConfig(**values).validate()


def accumulation_steps(cfg: FinetuneConfig, processes: int) -> int:
    """Gradient accumulation for this launch: from --global-batch when set, else --grad-accum.

    Raises UsageError when the global batch does not split evenly over batch size x processes.
    """
    if not cfg.global_batch:
        return cfg.grad_accum
    per_step = cfg.batch_size * processes
    if cfg.global_batch % per_step:
        raise UsageError(
            f"--global-batch {cfg.global_batch} does not split over --batch-size {cfg.batch_size} x {processes} "
            f"processes; pick a batch size and process count whose product divides it"
        )
    return cfg.global_batch // per_step


def save_resolved(cfg: FinetuneConfig, folder: str | Path) -> Path:
    """Write the resolved config as `finetune_config.yaml` into `folder` and return its path."""
    import yaml

    path = Path(folder) / "finetune_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    return path
