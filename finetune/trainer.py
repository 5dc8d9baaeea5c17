"""The HF Trainer as finetune uses it: its arguments from a FinetuneConfig, the projector's own
learning rate (`create_optimizer`), and label accuracy measured with classify's own scorer at each
evaluation."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments

from .config import FinetuneConfig, accumulation_steps
from .data import Conversation
from .stages import PROJECTOR_MODULE


class LabelAccuracy:
    """Held-out label accuracy with classify's own scorer (`llava_cli.classify.api.Classifier`)."""

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
        from llava_cli.classify.api import Classifier
        from llava_cli.media.video import load_image

        was_training = model.training
        model.eval()
        clf = Classifier.from_model(model, self.processor, self.labels, self.prompt, system=self.system)
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


def training_arguments(cfg: FinetuneConfig, device, has_val: bool) -> TrainingArguments:
    """The Trainer's arguments for `cfg` on `device`: mixed precision where a GPU has it, checkpoints
    under <output>/checkpoints, evaluation each epoch when there is validation data."""
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
