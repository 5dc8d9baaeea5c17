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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..columns import UNSURE
from ..errors import LlavaCliError, OutputError
from . import data, metrics, plots
from .config import DEFAULT_LEVELS, EvalConfig
from .summary import Loaded, Mode, Scored, build_summary

__all__ = ["DEFAULT_LEVELS", "EvalConfig", "EvalReport", "run_eval"]


@dataclass
class EvalReport:
    """The outcome of `run_eval`: `summary` is exactly what metrics.json holds and --json prints."""

    config: EvalConfig
    summary: dict[str, Any]
    metrics: metrics.SingleLabelMetrics | metrics.MultiLabelMetrics
    calibration: metrics.Calibration | None
    coverage: list[metrics.CoverageRow]
    files: list[Path] = field(default_factory=list)


def _load(cfg: EvalConfig) -> Loaded:
    preds = data.load_predictions(cfg.predictions, cfg.multi_label)
    if cfg.truth_column is not None:
        return Loaded(preds, data.join_column(preds, cfg.truth_column), f"column {cfg.truth_column!r}")
    truth_path = Path(cfg.truth)
    if truth_path.is_dir():
        truth = data.load_truth_folder(truth_path)
    else:
        truth = data.load_truth_table(truth_path, cfg.truth_label_column)
    return Loaded(preds, data.join(preds, truth), str(truth_path))


def _mode(loaded: Loaded) -> Mode:
    """Single- or multi-label: the predictions' own mode, unless only inferred and the truth has ';'."""
    preds = loaded.preds
    mode = Mode(preds.multi_label, preds.mode_from)
    if not mode.multi and loaded.joined.rows["truth"].str.contains(data.SEPARATOR, literal=True).any():
        if mode.source != "inferred":
            raise LlavaCliError(
                f"the truth has ';'-joined labels but {preds.path} is single-label ({mode.source}); "
                "evaluate a --multi-label run, or give one label per row"
            )
        mode = Mode(True, "inferred from the truth")
    return mode


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
    if UNSURE in labels:
        return
    unsure = joined.rows.filter(pl.col("truth") == UNSURE)
    if unsure.height:
        joined.rows = joined.rows.filter(pl.col("truth") != UNSURE)
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


def _label_set(loaded: Loaded, truth_labels: set[str], pred_labels: set[str]) -> list[str]:
    """The run's labels (or those seen); one line if the truth or predictions have others."""
    labels = loaded.preds.labels or sorted(truth_labels | pred_labels)
    _check_labels(labels, truth_labels, set(), loaded.truth_where)
    _check_labels(labels, set(), pred_labels, loaded.preds.path)
    return labels


def _score_multi(cfg: EvalConfig, loaded: Loaded, probs: np.ndarray, has_probs: np.ndarray) -> Scored:
    rows = loaded.joined.rows
    true_sets = [data.split_labels(t) for t in rows["truth"].to_list()]
    # classify never writes 'unsure' in multi-label mode; drop it should a file carry one
    pred_sets = [data.split_labels(p) - {UNSURE} for p in rows["label"].to_list()]
    labels = _label_set(loaded, set().union(*true_sets), set().union(*pred_sets))
    m = metrics.multi_label_metrics(true_sets, pred_sets, labels)
    cal, coverage = None, []
    if has_probs.any():
        truth = metrics.indicator(true_sets, labels)[has_probs]
        cal = metrics.calibration(probs[has_probs], truth, cfg.bins)
        coverage = metrics.threshold_table(probs[has_probs], truth, cfg.min_confidence_levels)
    return Scored(labels, loaded.preds.labels_from, m, cal, coverage, unsure=0)


def _score_single(cfg: EvalConfig, loaded: Loaded, probs: np.ndarray, has_probs: np.ndarray) -> Scored:
    rows = loaded.joined.rows
    y_true = rows["truth"].to_list()
    y_pred = [UNSURE if p is None else p for p in rows["label"].to_list()]
    labels = _label_set(loaded, set(y_true), set(y_pred) - {UNSURE})
    m = metrics.single_label_metrics(y_true, y_pred, labels)
    cal, coverage = None, []
    if has_probs.any():
        p = probs[has_probs]
        top = np.asarray(labels, dtype=object)[p.argmax(axis=1)]
        correct = top == np.asarray(y_true, dtype=object)[has_probs]
        conf = p.max(axis=1)
        cal = metrics.calibration(conf, correct, cfg.bins)
        coverage = metrics.coverage_table(conf, correct, cfg.min_confidence_levels)
    return Scored(labels, loaded.preds.labels_from, m, cal, coverage, unsure=int(m.unsure.sum()))


def _score(cfg: EvalConfig, loaded: Loaded, mode: Mode) -> Scored:
    """Metrics, and calibration and the level table from the rows that have probabilities."""
    rows = loaded.joined.rows
    probs = _probs(rows, loaded.preds.prob_columns)
    has_probs = ~np.isnan(probs).any(axis=1) if probs.shape[1] else np.zeros(rows.height, dtype=bool)
    score = _score_multi if mode.multi else _score_single
    return score(cfg, loaded, probs, has_probs)


def run_eval(cfg: EvalConfig) -> EvalReport:
    """Evaluate; write the report folder if `cfg.report_dir` is set.

    Raises UsageError for bad settings, OutputError for unreadable files or missing columns, and
    LlavaCliError for an empty join or label sets that do not match.
    """
    cfg.validate()
    loaded = _load(cfg)
    mode = _mode(loaded)
    if not mode.multi:
        _drop_blank_truth(loaded.joined)
    if cfg.truth is not None:
        _drop_unsure_truth(loaded.joined, loaded.preds.labels)
    _check_join(loaded.preds, loaded.joined, loaded.truth_where)
    scored = _score(cfg, loaded, mode)
    report = EvalReport(cfg, build_summary(loaded, mode, scored), scored.metrics, scored.calibration, scored.coverage)
    if cfg.report_dir is not None:
        report.files = _write(report, Path(cfg.report_dir))
    return report


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
