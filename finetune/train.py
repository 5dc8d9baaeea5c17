"""Set up a run (model, stage, data), train it with the HF Trainer, and save what classify loads.

The Trainer does the loop: gradient accumulation and checkpointing, mixed precision, the cosine
schedule with warmup, checkpoints every N steps, resuming, and multi-process runs under
`accelerate launch`. `run_training` reads as the run's steps, each a function here; what is
added to the Trainer lives beside: `trainer` (projector learning rate, label accuracy with
classify's scorer, the Trainer's arguments), `progress` (a bar on a terminal, one line per
logging step elsewhere) and `metrics` (metrics.csv, loss_curve.png).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from transformers import set_seed
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from llava_cli import __version__
from llava_cli.config import ModelConfig
from llava_cli.errors import UsageError
from llava_cli.model.loading import fitted_processor, load_model, resolve_device
from llava_cli.model.preprocess import image_fit
from llava_cli.model.prompts import check_system_supported

from .collate import ConversationDataset, ConversationEncoder, PadCollator
from .config import FinetuneConfig, save_resolved
from .data import Conversation, Dataset, Turn, as_plain, read_data, split
from .metrics import CURVE_FILE, METRICS_FILE, MetricsFiles, plot_loss, write_metrics
from .progress import progress_callback
from .stages import LoraSettings, apply_stage, trainable_summary
from .trainer import FinetuneTrainer, LabelAccuracy, training_arguments

log = logging.getLogger(__name__)
META_FILE = "finetune_meta.json"
PREFLIGHT_SAMPLES = 4


@dataclass
class TrainResult:
    output: Path
    seconds: float
    steps: int
    metrics: dict
    trainable: dict[str, int]


def prepare_data(cfg: FinetuneConfig) -> tuple[Dataset, list[Conversation], list[Conversation]]:
    """Read --data (and --val-data), stop on bad rows unless --skip-bad-rows, split off validation.

    Raises DataError (bad rows, nothing to train on) and UsageError (unknown format).
    """
    frames = Path(cfg.output) / "frames"  # video frames named by a labelled CSV, decoded once
    data = read_data(cfg.data, labels=cfg.labels, prompt=cfg.prompt, image_folder=cfg.image_folder, frame_dir=frames)
    data.require_clean(cfg.skip_bad_rows)
    if cfg.stage == "pretrain":
        data.conversations = [as_plain(c) for c in data.conversations]
    train, val = split(data.conversations, cfg.val_split, cfg.seed)
    if cfg.val_data:
        val_set = read_data(
            cfg.val_data, labels=data.labels, prompt=cfg.prompt, image_folder=cfg.image_folder, frame_dir=frames
        )
        val_set.require_clean(cfg.skip_bad_rows)
        val = [as_plain(c) for c in val_set.conversations] if cfg.stage == "pretrain" else val_set.conversations
    return data, train, val


def with_system_turn(system: str | None, conversations: list[Conversation], source: str) -> list[Conversation]:
    """Labelled conversations with --system before the prompt, as classify --system asks them.

    Raises UsageError for other data: LLaVA JSON rows carry their own system turns ("from":
    "system"), and stage 1 captions use the plain format, which has no system message.
    """
    if not system:
        return conversations
    if any(c.label is None for c in conversations):
        raise UsageError(
            f"--system applies to labelled data (a labelled CSV or a folder per class); {source} is not: "
            'give its conversations a {"from": "system"} turn instead'
        )
    return [replace(c, turns=(Turn("system", system), *c.turns)) for c in conversations]


def load_base(cfg: FinetuneConfig):
    """(model, processor, device) for the stage: a LLaVA checkpoint, or one composed from parts,
    its processor set up for --image-fit. Raises ModelLoadError.
    """
    if cfg.composing:
        from .compose import compose_llava

        model, processor = compose_llava(cfg.vision_tower, cfg.language_model, seed=cfg.seed)
        device = resolve_device(cfg.device)
        processor.tokenizer.padding_side = "left"
        return model.to(device), fitted_processor(processor, cfg.image_fit), device
    trainable = cfg.trainable
    loaded = load_model(
        ModelConfig(
            model=cfg.model, device=cfg.device, dtype=cfg.dtype, load_in_4bit=trainable.load_in_4bit, image_fit=cfg.image_fit
        ),
        for_training=True,
    )
    model = loaded.model
    if trainable.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        # Never run an inference forward on the 4-bit model before this point: it repacks the
        # weights and training then gets zero gradients.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model, loaded.processor, loaded.device


def preflight(encoder: ConversationEncoder, train: list[Conversation]) -> None:
    """Encode a few samples before training, so a tokenization mismatch stops the run at once."""
    dataset = ConversationDataset(train[:PREFLIGHT_SAMPLES], encoder)
    for index in range(len(dataset)):
        dataset[index]


def build_trainer(
    cfg: FinetuneConfig, model, processor, device, labels: list[str], train: list[Conversation], val: list[Conversation]
) -> FinetuneTrainer:
    """The stage applied to `model` (seeded first) and a Trainer around it, with finetune's callbacks
    in place of the Trainer's own progress printing. Raises TokenizationMismatch (preflight)."""
    encoder = ConversationEncoder(processor, cfg.max_length)
    preflight(encoder, train)
    # The LoRA matrices are initialised here, before the Trainer seeds anything: seed first, so
    # the same command and --seed give bit-identical adapters.
    set_seed(cfg.seed)
    model = apply_stage(model, cfg.trainable, LoraSettings(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout))
    if cfg.gradient_checkpointing and cfg.trainable.uses_lora:
        model.enable_input_require_grads()
    trainer = FinetuneTrainer(
        model=model,
        args=training_arguments(cfg, device, bool(val)),
        train_dataset=ConversationDataset(train, encoder),
        eval_dataset=ConversationDataset(val, encoder) if val else None,
        data_collator=PadCollator(processor.tokenizer.pad_token_id),
        processing_class=processor,
        projector_lr=cfg.projector_lr,
        label_accuracy=LabelAccuracy(processor, labels, cfg.prompt, val, cfg.batch_size, cfg.system),
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if not cfg.quiet:
        trainer.add_callback(progress_callback(effective_batch(trainer)))
    trainer.add_callback(MetricsFiles(Path(cfg.output)))
    return trainer


def effective_batch(trainer: FinetuneTrainer) -> int:
    """Samples per optimizer step: per-device batch x processes x accumulation steps."""
    args = trainer.args
    return args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps


def resume_checkpoint(cfg: FinetuneConfig, checkpoints: str) -> str | None:
    """The last checkpoint to resume from with --resume (None: none yet, or no --resume)."""
    from transformers.trainer_utils import get_last_checkpoint

    resume_from = get_last_checkpoint(checkpoints) if cfg.resume and Path(checkpoints).is_dir() else None
    if cfg.resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s yet; starting from step 0", checkpoints)
    return resume_from


def final_metrics(trainer: FinetuneTrainer, output: Path) -> dict:
    """Every eval_ metric of the run, evaluating once more unless the last step already was;
    metrics.csv and loss_curve.png rewritten to include it."""
    state = trainer.state
    already = any("eval_loss" in h and h.get("step") == state.global_step for h in state.log_history)
    metrics = {} if already else trainer.evaluate()
    metrics = {**{k: v for h in state.log_history for k, v in h.items() if k.startswith("eval_")}, **metrics}
    if trainer.is_world_process_zero():
        write_metrics(state.log_history, output / METRICS_FILE)
        plot_loss(state.log_history, output / CURVE_FILE)
    return metrics


def write_meta(cfg: FinetuneConfig, trainer: FinetuneTrainer, processor, labels: list[str], counts: tuple[int, int],
               seconds: float) -> None:
    """finetune_meta.json: what classify needs to use the result as trained (labels, prompt,
    system, image fit) and how it was trained."""
    args = trainer.args
    meta = {
        "stage": cfg.stage,
        "base_model": cfg.model,
        "composed_from": [cfg.vision_tower, cfg.language_model] if cfg.composing else None,
        "adapter": cfg.trainable.uses_lora,
        "labels": labels,
        "prompt": cfg.prompt,
        "system": cfg.system,
        "image_fit": image_fit(processor),
        "train_samples": counts[0],
        "val_samples": counts[1],
        "seconds": round(seconds, 2),
        "steps": trainer.state.global_step,
        "effective_batch": effective_batch(trainer),
        "processes": args.world_size,
        "grad_accum": args.gradient_accumulation_steps,
        "llava_cli_version": __version__,
    }
    (Path(cfg.output) / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def run_training(cfg: FinetuneConfig) -> TrainResult:
    """Train `cfg` end to end and save the result into cfg.output. See llava_cli.finetune.api.finetune."""
    output = Path(cfg.output)
    data, train, val = prepare_data(cfg)
    train = with_system_turn(cfg.system, train, cfg.data)
    val = with_system_turn(cfg.system, val, cfg.val_data or cfg.data)
    model, processor, device = load_base(cfg)
    if cfg.system:
        check_system_supported(processor, cfg.system)
    trainer = build_trainer(cfg, model, processor, device, data.labels, train, val)
    args = trainer.args
    if trainer.is_world_process_zero():
        log.warning(
            "effective batch %d = %d per device x %d processes x %d accumulation steps",
            effective_batch(trainer), cfg.batch_size, args.world_size, args.gradient_accumulation_steps,
        )
        save_resolved(cfg, output)
    resume_from = resume_checkpoint(cfg, args.output_dir)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    metrics = final_metrics(trainer, output) if val else {}
    trainer.save_model(str(output))
    if trainer.is_world_process_zero():
        write_meta(cfg, trainer, processor, data.labels, (len(train), len(val)), seconds)
    return TrainResult(output, seconds, trainer.state.global_step, metrics, trainable_summary(trainer.model))

