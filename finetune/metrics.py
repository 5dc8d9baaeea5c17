"""What a run leaves beside its output to read later: metrics.csv (one row per logged step, train
loss and that step's evaluation together) and loss_curve.png."""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

METRICS_FILE = "metrics.csv"
CURVE_FILE = "loss_curve.png"


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
