"""What a classify run writes: the columns of its output, its rows, and its sidecar.

`ClassifyRows` turns a batch of decoded samples into rows: it scores the samples that need the
model, copies the result of an earlier frame into a `--dedup` duplicate, and scores a duplicate
after all when its reference frame has no result to copy (it failed, or an earlier run wrote it).
Probabilities are rounded as written (llava_cli.columns) before the decision rule sees them, so
a file's `label` always agrees with its `p_` columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from ..columns import prob_column, round_prob
from ..config import ClassifyConfig
from .decision import decide
from ..media.dedup import ReferenceRows
from ..batch.jobs import KEY_COLUMNS, row_settings, sample_key
from ..batch.jobs import run_info as base_run_info
from ..model.loading import LoadedModel
from ..batch.pipeline import Sample
from ..model.prompts import render_prompt

if TYPE_CHECKING:  # classify imports this module; the type only is needed here
    from .api import Classifier


def output_schema(labels: list[str], *, dedup: bool = False) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {
        **KEY_COLUMNS,
        "label": pl.String,
        "confidence": pl.Float64,
    }
    schema.update({prob_column(label): pl.Float64 for label in labels})
    schema["error"] = pl.String
    if dedup:  # only with --dedup, so the default schema stays as documented
        schema["duplicate_of"] = pl.Int64
    return schema


class ClassifyRows:
    """The `handle` of classify's batch job: samples in, output rows out (see the module docstring)."""

    def __init__(self, clf: "Classifier", cfg: ClassifyConfig):
        self.clf = clf
        self.cfg = cfg
        self.references = ReferenceRows()

    def __call__(self, batch: list[Sample]) -> list[dict]:
        self._score_orphans(batch)
        scored = [s for s in batch if s.duplicate_of is None]
        probs = iter(self.clf.probabilities([s.features for s in scored]).tolist() if scored else [])
        rows = []
        for sample in batch:
            if sample.duplicate_of is not None:
                rows.append(self.references.copy(sample.source, sample.frame, sample.duplicate_of, sample.timestamp_s))
            else:
                rows.append(self.scored_row(sample, [round_prob(v) for v in next(probs)]))
        return rows

    def _score_orphans(self, batch: list[Sample]) -> None:
        """A duplicate whose reference frame has no result here or earlier in the batch is scored."""
        scored_here = {(s.source, s.frame) for s in batch if s.duplicate_of is None}
        for s in batch:
            ref = s.duplicate_of
            if ref is not None and not self.references.has(s.source, ref) and (s.source, ref) not in scored_here:
                s.features, s.duplicate_of = self.clf.encode(s.image), None
                scored_here.add((s.source, s.frame))

    def scored_row(self, sample: Sample, probs: list[float]) -> dict[str, Any]:
        """The row of a sample the model scored (`probs` as written), remembered for duplicates."""
        cfg, labels = self.cfg, self.cfg.labels
        label, confidence = decide(
            probs, labels, multi_label=cfg.multi_label, threshold=cfg.threshold, min_confidence=cfg.min_confidence
        )
        row = sample_key(sample)
        row.update(label=label, confidence=confidence, error=None, duplicate_of=None)
        row.update({prob_column(lab): v for lab, v in zip(labels, probs)})
        if sample.frame is not None:
            self.references.remember(sample.source, sample.frame, row)
        return row


def run_info(cfg: ClassifyConfig, clf: "Classifier | None", loaded: LoadedModel | None) -> dict[str, Any]:
    """The sidecar: everything needed to know what produced the output."""
    info = base_run_info(
        "classify",
        cfg,
        loaded,
        prompt=clf.prompt if clf else render_prompt(cfg.prompt, cfg.labels),
        system=cfg.system,
        labels=cfg.labels,
        multi_label=cfg.multi_label,
        threshold=cfg.threshold,
        calibrate=cfg.calibrate,
        min_confidence=cfg.min_confidence,
        batch_size=cfg.batch_size,
        fast_decode=cfg.fast_decode,
        compile=cfg.compile,
    )
    if clf is not None:
        info["label_tokens"] = {lab: list(ans.ids) for lab, ans in zip(clf.labels, clf.answers)}
        if clf.calibration is not None:
            info["content_free_probabilities"] = dict(zip(clf.labels, clf.calibration.tolist()))
    return info


def classify_row_settings(cfg: ClassifyConfig) -> dict[str, Any]:
    """The settings that change classify's rows (see llava_cli.batch.jobs.row_settings)."""
    return row_settings(
        "classify",
        cfg,
        **{
            "--prompt": render_prompt(cfg.prompt, cfg.labels),
            "--labels": cfg.labels,
            "--multi-label": cfg.multi_label,
            "--threshold": cfg.threshold if cfg.multi_label else None,  # only multi-label rows use it
            "--min-confidence": cfg.min_confidence,
            "--calibrate": cfg.calibrate,
            "--dedup": cfg.dedup,
        },
    )
