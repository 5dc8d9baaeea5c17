"""Training progress on stderr: a tqdm bar on a terminal, plain lines anywhere else.

tqdm redraws its bar with `\r`, which a log file (stderr redirected, a CI job, a batch scheduler)
keeps as one endless line of frames; there each logging step is one line of its own instead.
"""

from __future__ import annotations

import sys
import time

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

SHOWN = ("loss", "eval_loss", "eval_accuracy")  # the logged values progress shows


def progress_callback(samples_per_step: int, stream=None) -> TrainerCallback:
    """LossProgress when `stream` (default: sys.stderr) is a terminal, else LossLines."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return LossProgress(samples_per_step) if isatty is not None and isatty() else LossLines(samples_per_step)


class _Rate:
    """Samples per second since training (re)started: resumed steps do not count."""

    def __init__(self, samples_per_step: int):
        self.samples_per_step = samples_per_step
        self.started: tuple[float, int] | None = None

    def start(self, step: int) -> None:
        self.started = (time.perf_counter(), step)

    def __call__(self, step: int) -> float:
        seconds, step0 = time.perf_counter() - self.started[0], self.started[1]
        return (step - step0) * self.samples_per_step / seconds if seconds > 0 else 0.0


def shown_values(logs: dict, rate: float) -> dict[str, str]:
    """samples/s and whichever of loss, eval_loss, eval_accuracy this log has, formatted."""
    values = {"samples/s": f"{rate:.1f}"}
    values.update({key: f"{logs[key]:.4g}" for key in SHOWN if key in logs})
    return values


class LossProgress(ProgressCallback):
    """The Trainer's progress bar, with loss and samples/s in its postfix instead of printed dicts."""

    def __init__(self, samples_per_step: int):
        super().__init__()
        self.rate = _Rate(samples_per_step)

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        self.rate.start(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        self.training_bar.set_postfix(shown_values(logs, self.rate(state.global_step)))


class LossLines(TrainerCallback):
    """One plain line on stderr per logging step (and per evaluation): `step 10/40 epoch 0.25:
    samples/s 12.3, loss 1.234`. No bars, no `\\r`; only the main process writes."""

    def __init__(self, samples_per_step: int):
        self.rate = _Rate(samples_per_step)

    def on_train_begin(self, args, state, control, **kwargs):
        self.rate.start(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and logs and any(key in logs for key in SHOWN)):
            return  # e.g. the Trainer's closing summary (train_runtime...)
        values = shown_values(logs, self.rate(state.global_step))
        epoch = f" epoch {state.epoch:.3g}" if state.epoch is not None else ""
        text = ", ".join(f"{key} {value}" for key, value in values.items())
        print(f"step {state.global_step}/{state.max_steps}{epoch}: {text}", file=sys.stderr, flush=True)
