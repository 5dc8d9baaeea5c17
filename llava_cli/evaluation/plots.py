"""Report pictures drawn with matplotlib's object API on the Agg canvas.

pyplot is not used: it keeps global figure state and may pick a GUI backend, while a Figure
bound to FigureCanvasAgg renders headless and is freed when it goes out of scope.
Each function writes one PNG and returns its path; OSError propagates (the caller says which
--report folder could not be written).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import Calibration, ClassScores

ANNOTATE_MAX = 25  # above this many classes, cell numbers would be unreadable


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15)
    return path


def _size(n: int) -> float:
    return min(4.0 + 0.45 * n, 30.0)


def confusion_png(
    labels: list[str], confusion: np.ndarray, unsure: np.ndarray, path: str | Path
) -> Path:
    """Two panels: counts and row-normalised (share of each true class). An `unsure` column is
    added when some predictions fell outside the label set."""
    columns = list(labels)
    matrix = np.asarray(confusion, dtype=float)
    if np.asarray(unsure).sum():
        columns.append("unsure")
        matrix = np.column_stack([matrix, unsure])
    rows_sum = matrix.sum(axis=1, keepdims=True)
    normed = np.divide(matrix, rows_sum, out=np.zeros_like(matrix), where=rows_sum > 0)
    side = _size(len(columns))
    fig = Figure(figsize=(2 * side + 1.5, side), layout="constrained")
    for ax, data, title, fmt in (
        (fig.add_subplot(1, 2, 1), matrix, "Counts", "{:.0f}"),
        (fig.add_subplot(1, 2, 2), normed, "Row-normalised (recall on the diagonal)", "{:.2f}"),
    ):
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=max(data.max(), 1e-9) if fmt == "{:.0f}" else 1.0)
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        if len(columns) <= ANNOTATE_MAX:
            top = data.max() or 1.0
            for i in range(data.shape[0]):
                for j in range(data.shape[1]):
                    ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if data[i, j] > 0.6 * top else "black")
    return _save(fig, Path(path))


def reliability_png(cal: Calibration, path: str | Path, *, title: str = "Reliability diagram") -> Path:
    """Accuracy per confidence bin against the diagonal, with the bin counts beneath."""
    edges = np.asarray(cal.edges)
    width = np.diff(edges)
    centers = edges[:-1] + width / 2
    acc = np.array([np.nan if a is None else a for a in cal.accuracy])
    conf = np.array([np.nan if c is None else c for c in cal.mean_confidence])
    fig = Figure(figsize=(6, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centers, np.nan_to_num(acc), width=width * 0.95, color="#4c72b0", edgecolor="black", label="accuracy")
    # mean confidence as a marker, not a second bar: overlapping bars hide which is which
    top.hlines(conf, edges[:-1] + 0.15 * width, edges[1:] - 0.15 * width, colors="#c44e52", linewidths=3,
               zorder=3, label="mean confidence")
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"{title} (ECE {cal.ece:.4f}, n={cal.n})")
    top.legend(loc="upper left", framealpha=0.9)
    bottom.bar(centers, cal.counts, width=width * 0.95, color="#55a868", edgecolor="black")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("rows")
    return _save(fig, Path(path))


def per_class_png(scores: list[ClassScores], path: str | Path) -> Path:
    """Grouped bars of precision, recall and F1 per class; the support is written under each."""
    n = len(scores)
    x = np.arange(n)
    fig = Figure(figsize=(max(6.0, 1.0 + 0.8 * n), 4.5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for k, (name, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        ax.bar(x + (k - 1) * 0.27, [getattr(s, name) for s in scores], width=0.27, label=name, color=color)
    ax.set_xticks(x, [f"{s.label}\n(n={s.support})" for s in scores], rotation=45 if n > 8 else 0,
                  ha="right" if n > 8 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Per-class precision, recall and F1")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, Path(path))
