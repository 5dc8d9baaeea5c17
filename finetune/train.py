"""Set up a run (model, stage, data), train it with the HF Trainer, and save what classify loads.

The Trainer does the loop: gradient accumulation and checkpointing, mixed precision, the cosine
schedule with warmup, checkpoints every N steps, resuming, and multi-process runs under
`accelerate launch`. This module adds the projector's own learning rate (`create_optimizer`),
label accuracy measured with classify's scorer at each evaluation, a metrics CSV, a loss-curve
PNG and a progress bar showing loss and samples/s.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from llava_cli import __version__
from llava_cli.config import ModelConfig
from llava_cli.errors import UsageError
from llava_cli.model import LoadedModel, fitted_processor, load_model, resolve_device
from llava_cli.preprocess import image_fit
from llava_cli.prompts import check_system_supported

from .collate import ConversationDataset, ConversationEncoder, PadCollator
from .config import FinetuneConfig, accumulation_steps, save_resolved
from .data import Conversation, Dataset, as_plain, read_data, split
from .stages import PROJECTOR_MODULE, LoraSettings, apply_stage, trainable_summary

log = logging.getLogger(__name__)
META_FILE = "finetune_meta.json"
METRICS_FILE = "metrics.csv"
CURVE_FILE = "loss_curve.png"
PREFLIGHT_SAMPLES = 4


@dataclass
class Prepared:
    """Everything set up before training starts."""

    model: object
    processor: object
    train: list[Conversation]
    val: list[Conversation]
    labels: list[str]
    data: Dataset
    device: object


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
    from .data import Turn

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


class LabelAccuracy:
    """Held-out label accuracy with classify's own scorer (`llava_cli.classify.Classifier`)."""

    def __init__(
        self, processor, labels: list[str], prompt: str | None, val: list[Conversation], batch_size: int,
        system: str | None = None,
    ):
        self.processor = processor
        self.labels = labels
        self.prompt = prompt
        self.system = system
        self.val = [c for c in val if c.label is not None]
        self.batch_size = batch_size

    def __bool__(self) -> bool:
        return bool(self.val) and len(self.labels) >= 2

    def __call__(self, model) -> float:
        from llava_cli.classify import Classifier
        from llava_cli.media import load_image

        param = next(model.parameters())
        was_training = model.training
        model.eval()
        loaded = LoadedModel(model, self.processor, param.device, torch.float32 if param.dtype not in (torch.float16, torch.bfloat16) else param.dtype, ModelConfig())
        clf = Classifier(loaded, self.labels, self.prompt, system=self.system)
        correct = 0
        for i in range(0, len(self.val), self.batch_size):
            chunk = self.val[i : i + self.batch_size]
            probs = clf.predict_proba([load_image(c.image) for c in chunk], batch_size=self.batch_size)
            correct += sum(self.labels[int(p.argmax())] == c.label for p, c in zip(probs, chunk))
        model.train(was_training)
        return correct / len(self.val)


class FinetuneTrainer(Trainer):
    """HF Trainer with a separate projector learning rate and label accuracy at each evaluation."""

    def __init__(self, *args, projector_lr: float | None = None, label_accuracy: LabelAccuracy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.projector_lr = projector_lr
        self.label_accuracy = label_accuracy

    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        if self.optimizer is None:
            decay = set(self.get_decay_parameter_names(opt_model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, param in opt_model.named_parameters():
                if param.requires_grad:
                    groups.setdefault((PROJECTOR_MODULE in name, name in decay), []).append(param)
            base_lr = self.args.learning_rate
            param_groups = [
                {
                    "params": params,
                    "weight_decay": self.args.weight_decay if decays else 0.0,
                    "lr": (self.projector_lr or base_lr) if is_projector else base_lr,
                }
                for (is_projector, decays), params in sorted(groups.items())
            ]
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def evaluate(self, *args, **kwargs):
        metrics = super().evaluate(*args, **kwargs)
        if self.label_accuracy:
            accuracy = self.label_accuracy(self.model)
            metrics["eval_accuracy"] = accuracy
            self.log({"eval_accuracy": accuracy})
        return metrics


class MetricsFiles(TrainerCallback):
    """metrics.csv beside the checkpoints (rewritten at each log), loss_curve.png at the end."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            write_metrics(state.log_history, self.folder / METRICS_FILE)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            plot_loss(state.log_history, self.folder / CURVE_FILE)


class LossProgress(ProgressCallback):
    """The Trainer's progress bar, with loss and samples/s in its postfix instead of printed dicts."""

    def __init__(self, samples_per_step: int):
        super().__init__()
        self.samples_per_step = samples_per_step
        self.started = None

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        self.started = (time.perf_counter(), state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        seconds, step0 = time.perf_counter() - self.started[0], self.started[1]
        rate = (state.global_step - step0) * self.samples_per_step / seconds if seconds > 0 else 0.0
        postfix = {"samples/s": f"{rate:.1f}"}
        for key in ("loss", "eval_loss", "eval_accuracy"):
            if key in logs:
                postfix[key] = f"{logs[key]:.4g}"
        self.training_bar.set_postfix(postfix)


def write_metrics(history: list[dict], path: Path) -> None:
    import polars as pl

    keys = ["step", "epoch", "loss", "eval_loss", "eval_accuracy", "learning_rate", "grad_norm"]
    merged: dict[int, dict] = {}  # one row per step: train loss and that step's evaluation together
    for entry in history:
        if any(k in entry for k in keys[2:]):
            merged.setdefault(entry["step"], {}).update(entry)
    rows = [{k: (float(h[k]) if k in h and k != "step" else h.get(k)) for k in keys} for h in merged.values()]
    pl.DataFrame(rows, schema={k: (pl.Int64 if k == "step" else pl.Float64) for k in keys}).write_csv(path)


def plot_loss(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("loss", "-"), ("eval_loss", "o-")):
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            ax.plot(*zip(*points), style, label=key.replace("_", " "))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def training_arguments(cfg: FinetuneConfig, device, has_val: bool) -> TrainingArguments:
    output = Path(cfg.output)
    on_gpu = device.type == "cuda"
    bf16 = on_gpu and torch.cuda.is_bf16_supported()
    # QLoRA: no evaluation forward mid-training on the 4-bit model; it is evaluated once at the end.
    eval_each_epoch = has_val and not cfg.trainable.load_in_4bit
    return TrainingArguments(
        output_dir=str(output / "checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=accumulation_steps(cfg, int(os.environ.get("WORLD_SIZE", "1"))),
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.lr_scheduler,
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        bf16=bf16,
        fp16=on_gpu and not bf16,
        use_cpu=device.type == "cpu",
        eval_strategy="epoch" if eval_each_epoch else "no",
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=cfg.dataloader_workers,
        disable_tqdm=cfg.quiet,
        seed=cfg.seed,
    )


@dataclass
class TrainResult:
    output: Path
    seconds: float
    steps: int
    metrics: dict
    trainable: dict[str, int]


def run_training(cfg: FinetuneConfig) -> TrainResult:
    """Train `cfg` end to end and save the result into cfg.output. See llava_cli.finetune.api.finetune."""
    from transformers.trainer_utils import get_last_checkpoint

    output = Path(cfg.output)
    data, train, val = prepare_data(cfg)
    train = with_system_turn(cfg.system, train, cfg.data)
    val = with_system_turn(cfg.system, val, cfg.val_data or cfg.data)
    model, processor, device = load_base(cfg)
    if cfg.system:
        check_system_supported(processor, cfg.system)
    encoder = ConversationEncoder(processor, cfg.max_length)
    preflight(encoder, train)
    # The LoRA matrices are initialised here, before the Trainer seeds anything: seed first, so
    # the same command and --seed give bit-identical adapters.
    set_seed(cfg.seed)
    model = apply_stage(model, cfg.trainable, LoraSettings(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout))
    if cfg.gradient_checkpointing and cfg.trainable.uses_lora:
        model.enable_input_require_grads()
    args = training_arguments(cfg, device, bool(val))
    accuracy = LabelAccuracy(processor, data.labels, cfg.prompt, val, cfg.batch_size, cfg.system)
    trainer = FinetuneTrainer(
        model=model,
        args=args,
        train_dataset=ConversationDataset(train, encoder),
        eval_dataset=ConversationDataset(val, encoder) if val else None,
        data_collator=PadCollator(processor.tokenizer.pad_token_id),
        processing_class=processor,
        projector_lr=cfg.projector_lr,
        label_accuracy=accuracy,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    effective = cfg.batch_size * args.world_size * args.gradient_accumulation_steps
    if trainer.is_world_process_zero():
        log.warning(
            "effective batch %d = %d per device x %d processes x %d accumulation steps",
            effective, cfg.batch_size, args.world_size, args.gradient_accumulation_steps,
        )
    if not cfg.quiet:
        trainer.add_callback(LossProgress(effective))
    trainer.add_callback(MetricsFiles(output))
    if trainer.is_world_process_zero():
        save_resolved(cfg, output)
    resume_from = get_last_checkpoint(args.output_dir) if cfg.resume and Path(args.output_dir).is_dir() else None
    if cfg.resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s yet; starting from step 0", args.output_dir)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    metrics: dict = {}
    if val:
        already = any("eval_loss" in h and h.get("step") == trainer.state.global_step for h in trainer.state.log_history)
        metrics = {} if already else trainer.evaluate()
        metrics = {**{k: v for h in trainer.state.log_history for k, v in h.items() if k.startswith("eval_")}, **metrics}
        if trainer.is_world_process_zero():
            write_metrics(trainer.state.log_history, output / METRICS_FILE)
            plot_loss(trainer.state.log_history, output / CURVE_FILE)
    trainer.save_model(str(output))
    if trainer.is_world_process_zero():
        meta = {
            "stage": cfg.stage,
            "base_model": cfg.model,
            "composed_from": [cfg.vision_tower, cfg.language_model] if cfg.composing else None,
            "adapter": cfg.trainable.uses_lora,
            "labels": data.labels,
            "prompt": cfg.prompt,
            "system": cfg.system,
            "image_fit": image_fit(processor),
            "train_samples": len(train),
            "val_samples": len(val),
            "seconds": round(seconds, 2),
            "steps": trainer.state.global_step,
            "effective_batch": effective,
            "processes": args.world_size,
            "grad_accum": args.gradient_accumulation_steps,
            "llava_cli_version": __version__,
        }
        (output / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return TrainResult(output, seconds, trainer.state.global_step, metrics, trainable_summary(model))
