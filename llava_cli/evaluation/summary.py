"""The evaluation's records and its summary: the dict that metrics.json holds and --json prints.

`run_eval` fills three small records (what was read, which mode, what was scored); `build_summary`
turns them into the summary, one function per section.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..columns import UNSURE
from . import data, metrics


@dataclass
class Loaded:
    """The predictions, joined with their truth, and where the truth came from (for messages)."""

    preds: data.Predictions
    joined: data.Joined
    truth_where: str


@dataclass
class Mode:
    """Single- or multi-label, and why (--multi-label, run.json, inferred ...)."""

    multi: bool
    source: str


@dataclass
class Scored:
    """What was scored: the label set, the metrics, calibration and the level table."""

    labels: list[str]
    labels_from: str
    metrics: metrics.SingleLabelMetrics | metrics.MultiLabelMetrics
    calibration: metrics.Calibration | None
    coverage: list[metrics.CoverageRow]
    unsure: int  # single-label: predictions outside the label set; 0 for multi-label


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN becomes null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _counts(joined: data.Joined, scored: Scored, mode: Mode) -> dict[str, int]:
    counts = {
        "prediction_rows": joined.prediction_rows,
        "error_rows": joined.error_rows,
        "evaluated": scored.metrics.n,
        "predictions_without_truth": joined.predictions_without_truth,
        "truth_without_predictions": joined.truth_without_predictions,
        "duplicate_predictions": joined.duplicate_predictions,
        "duplicate_truth": joined.duplicate_truth,
    }
    if not mode.multi:
        counts["unsure"] = scored.unsure
    return counts


def _headline(scored: Scored, mode: Mode) -> dict[str, float]:
    m = scored.metrics
    if mode.multi:
        keys = ("subset_accuracy", "hamming_loss", "micro_precision", "micro_recall", "micro_f1", "macro_f1")
        top = {k: getattr(m, k) for k in keys}
    else:
        answered = m.n - scored.unsure
        top = {
            "accuracy": m.accuracy,
            "balanced_accuracy": m.balanced_accuracy,
            "macro_f1": m.macro_f1,
            "answered": answered / m.n if m.n else math.nan,
            "accuracy_when_answered": float(np.trace(m.confusion)) / answered if answered else math.nan,
        }
    if scored.calibration is not None:
        top["ece"] = scored.calibration.ece
    return top


def _confusion(scored: Scored, mode: Mode) -> dict[str, Any] | None:
    if mode.multi:
        return None
    m, labels = scored.metrics, scored.labels
    columns = list(labels) + ([UNSURE] if scored.unsure else [])
    matrix = np.column_stack([m.confusion, m.unsure]) if scored.unsure else m.confusion
    return {"rows": list(labels), "columns": columns, "counts": matrix.tolist()}


def _calibration(cal: metrics.Calibration | None, mode: Mode) -> dict[str, Any] | None:
    if cal is None:
        return None
    bins = [
        {"low": cal.edges[b], "high": cal.edges[b + 1], "count": cal.counts[b],
         "mean_confidence": cal.mean_confidence[b], "accuracy": cal.accuracy[b]}
        for b in range(len(cal.counts))
    ]
    events = "(row, label) pairs: p_<label> vs label is true" if mode.multi else "rows: top probability vs its label is right"
    return {"ece": cal.ece, "n": cal.n, "bins": bins, "events": events}


def _levels(coverage: list[metrics.CoverageRow], mode: Mode) -> dict[str, Any]:
    if mode.multi:
        kind = "threshold (labels re-decided at p >= level)"
    else:
        kind = "min_confidence (rows kept at confidence >= level)"
    rows = [{"level": r.level, "kept": r.kept, "coverage": r.coverage, "accuracy": r.accuracy, **r.extra} for r in coverage]
    return {"kind": kind, "rows": rows}


def build_summary(loaded: Loaded, mode: Mode, scored: Scored) -> dict[str, Any]:
    """The JSON-safe summary of one evaluation (key order is the order metrics.json shows)."""
    return clean(
        {
            "predictions": loaded.preds.path,
            "truth": loaded.truth_where,
            "mode": "multi-label" if mode.multi else "single-label",
            "mode_from": mode.source,
            "labels": list(scored.labels),
            "labels_from": scored.labels_from,
            "counts": _counts(loaded.joined, scored, mode),
            "examples": loaded.joined.samples,
            "metrics": _headline(scored, mode),
            "per_class": [asdict(s) for s in scored.metrics.per_class],
            "confusion": _confusion(scored, mode),
            "calibration": _calibration(scored.calibration, mode),
            "levels": _levels(scored.coverage, mode),
        }
    )
