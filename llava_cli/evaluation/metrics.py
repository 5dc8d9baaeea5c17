"""Classification metrics for `llava-cli eval`.

The standard metrics (confusion matrix, precision/recall/F1, accuracy, balanced accuracy, subset
accuracy, Hamming loss) come from scikit-learn; this module only fixes how classify's outputs map
onto them and adds what scikit-learn lacks: the expected calibration error over classify's bins,
and coverage at a confidence level (what --min-confidence keeps).

Conventions (scikit-learn's where it has one):

- Predictions outside the label set (classify writes `unsure` below --min-confidence) count as
  wrong for accuracy and recall, and are kept out of the confusion matrix's label columns: they go
  to a separate `unsure` column, so each confusion row still sums to that class's support.
- Precision, recall and F1 are 0 where their denominator is 0 (zero_division=0).
- Macro-F1 is the mean F1 over labels present in the truth or in the predictions; labels the
  run knew but that never occur on either side are left out (scikit-learn's default label set).
- Balanced accuracy is the mean recall over classes present in the truth.
- ECE uses equal-width bins on [0, 1], closed on the right ((0.1, 0.2], ...; the first bin also
  holds 0): ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean_confidence_bin|.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn import metrics as skm


@dataclass
class ClassScores:
    """Scores of one label: precision, recall, F1, support (truth count), predicted count."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass
class SingleLabelMetrics:
    """Metrics of a single-label run. `confusion[i, j]`: truth labels[i] predicted as labels[j]."""

    labels: list[str]
    confusion: np.ndarray  # int, [L, L]
    unsure: np.ndarray  # int, [L]: per truth class, predictions outside the label set
    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    per_class: list[ClassScores]


@dataclass
class MultiLabelMetrics:
    """Metrics of a multi-label run, each label scored as its own yes/no decision."""

    labels: list[str]
    n: int
    subset_accuracy: float  # the predicted set equals the true set
    hamming_loss: float  # fraction of (row, label) decisions that are wrong
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_f1: float
    per_class: list[ClassScores]


@dataclass
class Calibration:
    """Reliability table and expected calibration error over equal-width bins."""

    ece: float
    edges: list[float]
    counts: list[int]
    mean_confidence: list[float | None]  # None for an empty bin
    accuracy: list[float | None]
    n: int


@dataclass
class CoverageRow:
    """What filtering at `level` keeps: rows with confidence >= level, and how right they are."""

    level: float
    kept: int
    coverage: float
    accuracy: float  # on the kept rows; NaN when none are kept
    extra: dict[str, float] = field(default_factory=dict)


def _div(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def _class_scores(labels: Sequence[str], y_true, y_pred, predicted: np.ndarray) -> list[ClassScores]:
    """Per-label scores from scikit-learn; `predicted` counts each label's predictions."""
    p, r, f, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=_label_arg(y_true, labels), average=None, zero_division=0
    )
    return [
        ClassScores(lab, float(p[i]), float(r[i]), float(f[i]), int(support[i]), int(predicted[i])) for i, lab in enumerate(labels)
    ]


def _label_arg(y_true, labels: Sequence[str]):
    """scikit-learn's `labels=`: names for label lists, column indices for indicator matrices."""
    return list(range(len(labels))) if isinstance(y_true, np.ndarray) and y_true.ndim == 2 else list(labels)


def _macro_f1(scores: list[ClassScores]) -> float:
    present = [s.f1 for s in scores if s.support or s.predicted]
    return float(np.mean(present)) if present else math.nan


def single_label_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> SingleLabelMetrics:
    """Accuracy, balanced accuracy, macro-F1, per-class scores and the confusion matrix.

    Raises ValueError if a truth label is not in `labels` (callers check this first and say so
    in words) or if the inputs differ in length.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} truth labels but {len(y_pred)} predictions")
    labels = list(labels)
    unknown = sorted(set(y_true) - set(labels))
    if unknown:
        raise ValueError(f"truth labels not in the label set: {', '.join(unknown)}")
    y_true, y_pred = [str(t) for t in y_true], [str(p) for p in y_pred]
    outside = sorted(set(y_pred) - set(labels))  # 'unsure', or any other answer off the list
    n = len(y_true)
    if n == 0:
        empty = np.zeros((len(labels), len(labels)), dtype=np.int64)
        scores = [ClassScores(lab, 0.0, 0.0, 0.0, 0, 0) for lab in labels]
        return SingleLabelMetrics(labels, empty, np.zeros(len(labels), dtype=np.int64), 0, math.nan, math.nan, math.nan, scores)
    full = skm.confusion_matrix(y_true, y_pred, labels=labels + outside)
    confusion, unsure = full[: len(labels), : len(labels)], full[: len(labels), len(labels):].sum(axis=1)
    per_class = _class_scores(labels, y_true, y_pred, confusion.sum(axis=0))
    with warnings.catch_warnings():  # 'unsure' is a predicted class that is never true: expected
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")  # one class: still right
        balanced = float(skm.balanced_accuracy_score(y_true, y_pred))
    return SingleLabelMetrics(
        labels=labels,
        confusion=confusion.astype(np.int64),
        unsure=unsure.astype(np.int64),
        n=n,
        accuracy=float(skm.accuracy_score(y_true, y_pred)),
        balanced_accuracy=balanced,
        macro_f1=_macro_f1(per_class),
        per_class=per_class,
    )


def multi_label_metrics(
    true_sets: Sequence[set[str]], pred_sets: Sequence[set[str]], labels: Sequence[str]
) -> MultiLabelMetrics:
    """Per-label precision/recall/F1, micro averages, macro-F1, subset accuracy, Hamming loss.

    Predicted labels outside `labels` are ignored; raises ValueError for truth labels outside it.
    """
    if len(true_sets) != len(pred_sets):
        raise ValueError(f"{len(true_sets)} truth rows but {len(pred_sets)} predictions")
    labels = list(labels)
    unknown = sorted(set().union(*true_sets) - set(labels)) if true_sets else []
    if unknown:
        raise ValueError(f"truth labels not in the label set: {', '.join(unknown)}")
    truth = indicator(true_sets, labels)
    pred = indicator(pred_sets, labels)
    n = len(true_sets)
    if n == 0 or not labels:
        scores = [ClassScores(lab, 0.0, 0.0, 0.0, 0, 0) for lab in labels]
        return MultiLabelMetrics(labels, n, math.nan, math.nan, 0.0, 0.0, 0.0, math.nan, scores)
    per_class = _class_scores(labels, truth, pred, pred.sum(axis=0))
    micro_p, micro_r, micro_f1, _ = skm.precision_recall_fscore_support(truth, pred, average="micro", zero_division=0)
    return MultiLabelMetrics(
        labels=labels,
        n=n,
        subset_accuracy=float(skm.accuracy_score(truth, pred)),
        hamming_loss=float(skm.hamming_loss(truth, pred)),
        micro_precision=float(micro_p),
        micro_recall=float(micro_r),
        micro_f1=float(micro_f1),
        macro_f1=_macro_f1(per_class),
        per_class=per_class,
    )


def indicator(sets: Sequence[set[str]], labels: Sequence[str]) -> np.ndarray:
    """Boolean [rows, labels] matrix; members outside `labels` are dropped."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((len(sets), len(labels)), dtype=bool)
    for r, s in enumerate(sets):
        for lab in s:
            if lab in index:
                out[r, index[lab]] = True
    return out


def calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> Calibration:
    """Reliability table and ECE of `confidence` (in [0, 1]) against 0/1 `correct`.

    For a single-label run, confidence is the top probability and correct says whether its label
    is the truth; for a multi-label run each (row, label) pair is one event with confidence
    p_label and correct = the label is true. Raises ValueError for bins < 1 or mismatched shapes.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1 (got {bins})")
    conf = np.asarray(confidence, dtype=float).ravel()
    hit = np.asarray(correct, dtype=float).ravel()
    if conf.shape != hit.shape:
        raise ValueError("confidence and correct differ in length")
    edges = np.linspace(0.0, 1.0, bins + 1)
    # side="left": a confidence equal to an inner edge belongs to the bin below (right-closed bins)
    which = np.clip(np.searchsorted(edges[1:-1], conf, side="left"), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    hit_sum = np.bincount(which, weights=hit, minlength=bins)
    n = conf.size
    ece = float(np.sum(np.abs(hit_sum - conf_sum)) / n) if n else math.nan
    return Calibration(
        ece=ece,
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        mean_confidence=[float(conf_sum[b] / counts[b]) if counts[b] else None for b in range(bins)],
        accuracy=[float(hit_sum[b] / counts[b]) if counts[b] else None for b in range(bins)],
        n=int(n),
    )


def coverage_table(confidence: np.ndarray, correct: np.ndarray, levels: Sequence[float]) -> list[CoverageRow]:
    """For each --min-confidence level: the share of rows kept (confidence >= level, as classify
    decides) and the accuracy on them."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=bool)
    n = conf.size
    rows = []
    for level in levels:
        keep = conf >= level
        kept = int(keep.sum())
        rows.append(
            CoverageRow(
                level=float(level),
                kept=kept,
                coverage=_div(kept, n) if n else math.nan,
                accuracy=float(hit[keep].mean()) if kept else math.nan,
            )
        )
    return rows


def threshold_table(probs: np.ndarray, truth: np.ndarray, levels: Sequence[float]) -> list[CoverageRow]:
    """Multi-label: what deciding labels at p >= level would score (classify's --threshold).

    `probs` [rows, labels] floats, `truth` the boolean indicator of the same shape. `accuracy` is
    the subset accuracy; extra holds micro precision/recall/F1.
    """
    truth = np.asarray(truth, dtype=bool)
    n = truth.shape[0]
    rows = []
    for level in levels:
        pred = np.asarray(probs) >= level
        if n:
            p, r, f1, _ = skm.precision_recall_fscore_support(truth, pred, average="micro", zero_division=0)
        else:
            p = r = f1 = 0.0
        rows.append(
            CoverageRow(
                level=float(level),
                kept=n,
                coverage=1.0 if n else math.nan,
                accuracy=float(skm.accuracy_score(truth, pred)) if n else math.nan,
                extra={"micro_precision": float(p), "micro_recall": float(r), "micro_f1": float(f1)},
            )
        )
    return rows
