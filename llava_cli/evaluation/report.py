"""`run_eval`: score a classify output against ground truth and write a report folder.

The report folder (--report) gets `metrics.json` (the same numbers the command prints),
`confusion.png` (single-label runs), `reliability.png` (when the output has p_<label> columns),
`per_class.png`, and `eval.config.json` (the resolved settings, to rerun or audit the numbers).

Decisions, in one place:
- `unsure` (or any prediction outside the label set) counts as wrong for accuracy and recall,
  is left out of the confusion matrix's label columns and shown as an extra `unsure` column.
- Calibration and the --min-confidence table use the probabilities: the prediction is the
  top p_<label> (first on ties, as classify picks) and confidence its value, so they describe the
  model even where the run already wrote `unsure`. Rows without probabilities are left out.
- Multi-label runs: each (row, label) pair is one yes/no decision; calibration bins p_<label>
  against "the label is true", and the level table re-decides labels at p >= level
  (classify's --threshold) instead of filtering rows.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..config import OUTPUT_SUFFIXES
from ..errors import LlavaCliError, OutputError, UsageError
from . import data, metrics, plots

DEFAULT_LEVELS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass
class EvalConfig:
    """Settings of one evaluation; build from flags or directly, then `validate()`."""

    predictions: str
    truth: str | None = None  # a truth table (.csv/.jsonl/.parquet) or a folder per class
    truth_column: str | None = None  # or: the truth is this column of the predictions file
    truth_label_column: str = "label"
    report_dir: str | None = None
    bins: int = 10
    min_confidence_levels: list[float] = field(default_factory=lambda: list(DEFAULT_LEVELS))
    multi_label: bool | None = None  # None: from run.json, else inferred from ';' in labels

    def validate(self) -> "EvalConfig":
        """Return self, or raise UsageError listing every problem with the flag to fix it."""
        problems = []
        pred = Path(self.predictions)
        if not pred.is_file():
            problems.append(f"PREDICTIONS {pred}: no such file (the output of llava-cli classify)")
        elif pred.suffix.lower() not in OUTPUT_SUFFIXES:
            problems.append(f"PREDICTIONS {pred}: expected a {', '.join(OUTPUT_SUFFIXES)} file")
        if self.truth is None and self.truth_column is None:
            problems.append("no ground truth: pass --truth FILE_OR_FOLDER or --truth-column NAME")
        if self.truth is not None and self.truth_column is not None:
            problems.append("--truth and --truth-column exclude each other: pick one")
        if self.truth is not None:
            truth = Path(self.truth)
            if not truth.exists():
                problems.append(f"--truth {truth}: no such file or folder")
            elif truth.is_file() and truth.suffix.lower() not in OUTPUT_SUFFIXES:
                problems.append(f"--truth {truth}: expected a {', '.join(OUTPUT_SUFFIXES)} file or a folder per class")
        if self.bins < 1:
            problems.append(f"--bins must be >= 1 (got {self.bins})")
        if not self.min_confidence_levels:
            problems.append("--min-confidence-levels is empty: pass levels like 0.5,0.7,0.9")
        bad = [lv for lv in self.min_confidence_levels if not 0.0 <= lv <= 1.0]
        if bad:
            problems.append(f"--min-confidence-levels must lie in [0, 1] (got {', '.join(map(str, bad))})")
        if self.report_dir is not None and Path(self.report_dir).exists() and not Path(self.report_dir).is_dir():
            problems.append(f"--report {self.report_dir} is a file: name a folder")
        if problems:
            raise UsageError(problems)
        return self


@dataclass
class EvalReport:
    """The outcome of `run_eval`: `summary` is exactly what metrics.json holds and --json prints."""

    config: EvalConfig
    summary: dict[str, Any]
    metrics: metrics.SingleLabelMetrics | metrics.MultiLabelMetrics
    calibration: metrics.Calibration | None
    coverage: list[metrics.CoverageRow]
    files: list[Path] = field(default_factory=list)


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN becomes null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _load(cfg: EvalConfig) -> tuple[data.Predictions, data.Joined, str]:
    preds = data.load_predictions(cfg.predictions, cfg.multi_label)
    if cfg.truth_column is not None:
        return preds, data.join_column(preds, cfg.truth_column), f"column {cfg.truth_column!r}"
    truth_path = Path(cfg.truth)
    truth = data.load_truth_folder(truth_path) if truth_path.is_dir() else data.load_truth_table(truth_path, cfg.truth_label_column)
    return preds, data.join(preds, truth), str(truth_path)


def _check_join(preds: data.Predictions, joined: data.Joined, truth_where: str) -> None:
    if joined.rows.height:
        return
    ok = joined.prediction_rows - joined.error_rows
    if ok == 0:
        raise LlavaCliError(f"{preds.path}: no rows to evaluate ({joined.error_rows} error rows, no others)")
    seen = ", ".join(joined.samples["predictions_without_truth"][:2])
    wanted = ", ".join(joined.samples["truth_without_predictions"][:2])
    raise LlavaCliError(
        f"no prediction matched the truth in {truth_where}: 0 of {ok} rows joined on source and frame "
        f"(predictions have e.g. {seen or '-'}; truth has e.g. {wanted or '-'}); write the paths the same way"
    )


def _drop_blank_truth(joined: data.Joined) -> None:
    """Single-label: a truth row with an empty label is no truth; count it as such."""
    blank = joined.rows.filter(pl.col("truth") == "")
    if blank.height:
        joined.rows = joined.rows.filter(pl.col("truth") != "")
        joined.predictions_without_truth += blank.height
        seen = joined.samples["predictions_without_truth"]
        extra = [s for s in blank["source"].unique(maintain_order=True).to_list() if s not in seen]
        joined.samples["predictions_without_truth"] = (seen + extra)[: data.SAMPLE]


def _drop_unsure_truth(joined: data.Joined, labels: list[str]) -> None:
    """--truth: a row labelled `unsure` (one `llava-cli review` marked unsure) is no truth, unless
    `unsure` is one of the run's labels; count it as such."""
    if data.UNSURE in labels:
        return
    unsure = joined.rows.filter(pl.col("truth") == data.UNSURE)
    if unsure.height:
        joined.rows = joined.rows.filter(pl.col("truth") != data.UNSURE)
        joined.predictions_without_truth += unsure.height
        seen = joined.samples["predictions_without_truth"]
        extra = [s for s in unsure["source"].unique(maintain_order=True).to_list() if s not in seen]
        joined.samples["predictions_without_truth"] = (seen + extra)[: data.SAMPLE]


def _check_labels(labels: list[str], truth_labels: set[str], pred_labels: set[str], where: str) -> None:
    """One line naming truth (or predicted) labels the run does not know."""
    known = set(labels)
    for side, found in (("truth", truth_labels), ("predictions", pred_labels)):
        extra = sorted(found - known)
        if extra:
            hint = ""
            lower = {lab.lower(): lab for lab in labels}
            near = [f"{e!r}->{lower[e.lower()]!r}" for e in extra if e.lower() in lower]
            if near:
                hint = f" (case differs: {', '.join(near[:3])})"
            raise LlavaCliError(
                f"label sets differ: the {side} ({where}) has {', '.join(map(repr, extra[:8]))}"
                f"{' and more' if len(extra) > 8 else ''}, not among the run's labels "
                f"{', '.join(map(repr, labels[:12]))}{hint}"
            )


def _probs(rows: pl.DataFrame, prob_columns: list[str]) -> np.ndarray:
    if not prob_columns:
        return np.empty((rows.height, 0))
    return rows.select(prob_columns).to_numpy().astype(float)


def run_eval(cfg: EvalConfig) -> EvalReport:
    """Evaluate; write the report folder if `cfg.report_dir` is set.

    Raises UsageError for bad settings, OutputError for unreadable files or missing columns, and
    LlavaCliError for an empty join or label sets that do not match.
    """
    cfg.validate()
    preds, joined, truth_where = _load(cfg)
    multi, mode_from = preds.multi_label, preds.mode_from
    if not multi and joined.rows["truth"].str.contains(data.SEPARATOR, literal=True).any():
        if mode_from != "inferred":
            raise LlavaCliError(
                f"the truth has ';'-joined labels but {preds.path} is single-label ({mode_from}); "
                "evaluate a --multi-label run, or give one label per row"
            )
        multi, mode_from = True, "inferred from the truth"
    if not multi:
        _drop_blank_truth(joined)
    if cfg.truth is not None:
        _drop_unsure_truth(joined, preds.labels)
    _check_join(preds, joined, truth_where)
    rows = joined.rows
    truth_text = rows["truth"].to_list()

    if multi:
        true_sets = [data.split_labels(t) for t in truth_text]
        # classify never writes 'unsure' in multi-label mode; drop it should a file carry one
        pred_sets = [data.split_labels(p) - {data.UNSURE} for p in rows["label"].to_list()]
        truth_labels, pred_labels = set().union(*true_sets), set().union(*pred_sets)
    else:
        y_true = truth_text
        y_pred = [data.UNSURE if p is None else p for p in rows["label"].to_list()]
        truth_labels, pred_labels = set(y_true), set(y_pred) - {data.UNSURE}
    labels = preds.labels or sorted(truth_labels | pred_labels)
    labels_from = preds.labels_from
    _check_labels(labels, truth_labels, set(), truth_where)
    _check_labels(labels, set(), pred_labels, preds.path)

    probs = _probs(rows, preds.prob_columns)
    has_probs = ~np.isnan(probs).any(axis=1) if probs.shape[1] else np.zeros(rows.height, dtype=bool)
    cal, coverage = None, []
    if multi:
        m = metrics.multi_label_metrics(true_sets, pred_sets, labels)
        if has_probs.any():
            ind = metrics.indicator(true_sets, labels)[has_probs]
            cal = metrics.calibration(probs[has_probs], ind, cfg.bins)
            coverage = metrics.threshold_table(probs[has_probs], ind, cfg.min_confidence_levels)
        unsure = 0
    else:
        m = metrics.single_label_metrics(y_true, y_pred, labels)
        if has_probs.any():
            p = probs[has_probs]
            top = np.asarray(labels, dtype=object)[p.argmax(axis=1)]
            correct = top == np.asarray(y_true, dtype=object)[has_probs]
            conf = p.max(axis=1)
            cal = metrics.calibration(conf, correct, cfg.bins)
            coverage = metrics.coverage_table(conf, correct, cfg.min_confidence_levels)
        unsure = int(m.unsure.sum())

    summary = _summary(cfg, preds, joined, truth_where, multi, mode_from, labels, labels_from, m, cal, coverage, unsure)
    report = EvalReport(cfg, summary, m, cal, coverage)
    if cfg.report_dir is not None:
        report.files = _write(report, Path(cfg.report_dir))
    return report


def _summary(cfg, preds, joined, truth_where, multi, mode_from, labels, labels_from, m, cal, coverage, unsure) -> dict:
    counts = {
        "prediction_rows": joined.prediction_rows,
        "error_rows": joined.error_rows,
        "evaluated": m.n,
        "predictions_without_truth": joined.predictions_without_truth,
        "truth_without_predictions": joined.truth_without_predictions,
        "duplicate_predictions": joined.duplicate_predictions,
        "duplicate_truth": joined.duplicate_truth,
    }
    if multi:
        top = {k: getattr(m, k) for k in ("subset_accuracy", "hamming_loss", "micro_precision", "micro_recall", "micro_f1", "macro_f1")}
        confusion = None
    else:
        answered = m.n - unsure
        counts["unsure"] = unsure
        top = {
            "accuracy": m.accuracy,
            "balanced_accuracy": m.balanced_accuracy,
            "macro_f1": m.macro_f1,
            "answered": answered / m.n if m.n else math.nan,
            "accuracy_when_answered": float(np.trace(m.confusion)) / answered if answered else math.nan,
        }
        columns = list(labels) + (["unsure"] if unsure else [])
        matrix = np.column_stack([m.confusion, m.unsure]) if unsure else m.confusion
        confusion = {"rows": list(labels), "columns": columns, "counts": matrix.tolist()}
    if cal is not None:
        top["ece"] = cal.ece
    calib = None
    if cal is not None:
        calib = {
            "ece": cal.ece,
            "n": cal.n,
            "bins": [
                {"low": cal.edges[b], "high": cal.edges[b + 1], "count": cal.counts[b],
                 "mean_confidence": cal.mean_confidence[b], "accuracy": cal.accuracy[b]}
                for b in range(len(cal.counts))
            ],
            "events": "(row, label) pairs: p_<label> vs label is true" if multi else "rows: top probability vs its label is right",
        }
    level_rows = [
        {"level": r.level, "kept": r.kept, "coverage": r.coverage, "accuracy": r.accuracy, **r.extra} for r in coverage
    ]
    return _clean(
        {
            "predictions": preds.path,
            "truth": truth_where,
            "mode": "multi-label" if multi else "single-label",
            "mode_from": mode_from,
            "labels": list(labels),
            "labels_from": labels_from,
            "counts": counts,
            "examples": joined.samples,
            "metrics": top,
            "per_class": [asdict(s) for s in m.per_class],
            "confusion": confusion,
            "calibration": calib,
            "levels": {
                "kind": "threshold (labels re-decided at p >= level)" if multi else "min_confidence (rows kept at confidence >= level)",
                "rows": level_rows,
            },
        }
    )


def _write(report: EvalReport, folder: Path) -> list[Path]:
    """Write metrics.json, the PNGs and eval.config.json. Raises OutputError if it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        m = report.metrics
        if isinstance(m, metrics.SingleLabelMetrics):
            files.append(plots.confusion_png(m.labels, m.confusion, m.unsure, folder / "confusion.png"))
        if report.calibration is not None:
            files.append(plots.reliability_png(report.calibration, folder / "reliability.png"))
        files.append(plots.per_class_png(m.per_class, folder / "per_class.png"))
        cfg_path = folder / "eval.config.json"
        cfg_path.write_text(json.dumps(asdict(report.config), indent=2) + "\n", encoding="utf-8")
        files.append(cfg_path)
        report.summary["files"] = [str(p) for p in [folder / "metrics.json", *files]]
        metrics_path = folder / "metrics.json"
        metrics_path.write_text(json.dumps(report.summary, indent=2) + "\n", encoding="utf-8")
        return [metrics_path, *files]
    except OSError as exc:
        raise OutputError(f"--report {folder}: cannot write ({exc.strerror or exc})") from exc
