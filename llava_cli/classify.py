"""Classify images and video frames by scoring prompt-defined labels with a LLaVA model.

`Classifier` scores in-memory images (the Python API); `run_classify` is the batch job behind
`llava-cli classify`: inputs -> pipeline -> scorer -> rows in a resumable output file + sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
import torch

from .batching import PromptEncoder, collate, target_min_side
from .columns import UNSURE, join_labels, prob_column, round_prob
from .config import ClassifyConfig, default_batch_size
from .dedup import ReferenceRows
from .distributed import current_process_group
from .inputs import find_inputs
from .jobs import KEY_COLUMNS, BatchRun, frame_plan, row_settings, run_job, sample_key
from .jobs import run_info as base_run_info
from .model import LoadedModel, load_model, with_image_fit
from .ownership import OutputClaim, claim_output
from .pipeline import Sample
from .prompts import AnswerTokens, answer_tokens, check_system_supported, render, render_prompt, user_message, with_system
from .scoring import LabelScorer

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


def content_free_images(size: int = 336) -> list:
    """Blank images (black, grey, white) standing for "no content", as in Zhao et al. (2021)."""
    from PIL import Image

    return [Image.new("RGB", (size, size), (v, v, v)) for v in (0, 128, 255)]


class Classifier:
    """Label probabilities for images, from one loaded model, prompt and label set.

    >>> clf = Classifier(load_model(ModelConfig(model="llava-hf/llava-1.5-7b-hf")), ["cat", "dog"])
    >>> clf.predict_proba([Image.open("pet.jpg")])   # tensor [1, 2]
    """

    def __init__(
        self,
        loaded: LoadedModel,
        labels: list[str],
        prompt: str | None = None,
        *,
        calibrate: bool = False,
        system: str | None = None,
    ):
        self.loaded = loaded
        self.labels = list(labels)
        self.prompt = render_prompt(prompt, self.labels)
        self.system = system
        self.history = with_system(system, [user_message(self.prompt)])
        self.prefix_text = render(loaded.processor, self.history, add_generation_prompt=True)
        self.answers: list[AnswerTokens] = [answer_tokens(loaded.processor, self.history, lab) for lab in self.labels]
        self.scorer = LabelScorer(loaded.model, self.answers, loaded.device, loaded.dtype)
        self.encoder = PromptEncoder(loaded.processor, self.prefix_text)
        # What --fast-decode decodes files and frames down to (JPEG draft mode, box reduce).
        self.min_side = target_min_side(loaded.processor.image_processor)
        self.calibration: torch.Tensor | None = None
        if calibrate:
            self.calibration = self.predict_proba(content_free_images(), calibrated=False).mean(0)

    def encode(self, image) -> dict[str, torch.Tensor]:
        """Model inputs for one image (thread-safe: runs in the decode workers)."""
        return self.encoder(image)

    def log_likelihoods(self, features: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """[B, L] summed log-probabilities of each label's tokens + end-of-answer token."""
        batch = collate(features, self.loaded.tokenizer.pad_token_id)
        return self.scorer.score(batch).cpu()

    def probabilities(self, features: list[dict[str, torch.Tensor]], *, calibrated: bool = True) -> torch.Tensor:
        """[B, L] softmax over label log-likelihoods; divided by the content-free probabilities
        (then renormalised) when calibration is on."""
        logp = self.log_likelihoods(features)
        if calibrated and self.calibration is not None:
            logp = logp - self.calibration.log()
        return torch.softmax(logp, dim=-1)

    def predict_proba(self, images: list, *, calibrated: bool = True, batch_size: int = 8) -> torch.Tensor:
        """Probabilities for in-memory PIL images, batched."""
        out = [
            self.probabilities([self.encode(im) for im in images[i : i + batch_size]], calibrated=calibrated)
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0, len(self.labels))


def decide(
    probs: list[float],
    labels: list[str],
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
    min_confidence: float | None = None,
) -> tuple[str, float]:
    """The `label` and `confidence` written for one row's probabilities."""
    best = max(range(len(probs)), key=probs.__getitem__)
    confidence = probs[best]
    if multi_label:
        return join_labels(lab for lab, p in zip(labels, probs) if p >= threshold), confidence
    if min_confidence is not None and confidence < min_confidence:
        return UNSURE, confidence
    return labels[best], confidence


@dataclass
class ClassifyRun(BatchRun):
    """The outcome of `run_classify`: where rows went, what happened, and the segments file if any."""

    segments: Path | None = None


def run_info(cfg: ClassifyConfig, clf: Classifier | None, loaded: LoadedModel | None) -> dict[str, Any]:
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
    )
    if clf is not None:
        info["label_tokens"] = {lab: list(ans.ids) for lab, ans in zip(clf.labels, clf.answers)}
        if clf.calibration is not None:
            info["content_free_probabilities"] = dict(zip(clf.labels, clf.calibration.tolist()))
    return info


def classify_row_settings(cfg: ClassifyConfig) -> dict[str, Any]:
    """The settings that change classify's rows (see llava_cli.jobs.row_settings)."""
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


def run_classify(cfg: ClassifyConfig, *, loaded: LoadedModel | None = None) -> ClassifyRun:
    """Classify every input of `cfg` into `cfg.output.out`, resuming a previous partial run.

    Raises UsageError (bad settings, nothing found), ModelLoadError, OutputError (the output is
    not this run's to write, or is in use). Everything about inputs and outputs is checked before
    the model loads. Unreadable inputs do not raise: they become rows with `error` set (see
    ClassifyRun.exit_code).
    """
    cfg.validate()
    items = find_inputs(cfg.inputs.paths, cfg.inputs.from_list)
    schema = output_schema(cfg.labels, dedup=cfg.dedup is not None)
    with claim_output(
        cfg.output, schema, classify_row_settings(cfg), protected={"--from-list": cfg.inputs.from_list}, segments=cfg.segments
    ) as claim:
        return _classify_into(claim, cfg, items, loaded)


def _classify_into(claim: OutputClaim, cfg: ClassifyConfig, items, loaded: LoadedModel | None) -> ClassifyRun:
    loaded = with_image_fit(loaded, cfg.model.image_fit) if loaded else load_model(cfg.model)
    if cfg.system:
        check_system_supported(loaded.processor, cfg.system)
    if cfg.batch_size is None:
        cfg = replace(cfg, batch_size=default_batch_size(loaded.device))
    clf = Classifier(loaded, cfg.labels, cfg.prompt, calibrate=cfg.calibrate, system=cfg.system)
    labels = cfg.labels
    references = ReferenceRows()

    def handle(batch: list[Sample]) -> list[dict]:
        scored_here = {(s.source, s.frame) for s in batch if s.duplicate_of is None}
        for s in batch:
            ref = s.duplicate_of
            if ref is not None and not references.has(s.source, ref) and (s.source, ref) not in scored_here:
                # Its reference frame failed (or was written by an earlier run): score this one.
                s.features, s.duplicate_of = clf.encode(s.image), None
                scored_here.add((s.source, s.frame))
        scored = [s for s in batch if s.duplicate_of is None]
        probs = iter(clf.probabilities([s.features for s in scored]).tolist() if scored else [])
        rows = []
        for sample in batch:
            if sample.duplicate_of is not None:
                rows.append(references.copy(sample.source, sample.frame, sample.duplicate_of, sample.timestamp_s))
                continue
            p = [round_prob(v) for v in next(probs)]  # as written: see llava_cli.columns
            label, confidence = decide(
                p, labels, multi_label=cfg.multi_label, threshold=cfg.threshold, min_confidence=cfg.min_confidence
            )
            row = sample_key(sample)
            row.update(label=label, confidence=confidence, error=None, duplicate_of=None)
            row.update({prob_column(lab): v for lab, v in zip(labels, p)})
            if sample.frame is not None:
                references.remember(sample.source, sample.frame, row)
            rows.append(row)
        return rows

    run = run_job(
        claim=claim,
        items=items,
        plan=frame_plan(cfg),
        output=cfg.output,
        info=run_info(cfg, clf, loaded),
        prepare=clf.encode,
        handle=handle,
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        min_side=clf.min_side if cfg.fast_decode else None,  # None: full decode, exact
        dedup=cfg.dedup,
    )
    segments_path = None
    if cfg.segments and current_process_group().is_main:
        from .output import read_rows, write_table
        from .segments import video_segments

        write_table(video_segments(read_rows(cfg.output.out), smooth=cfg.smooth), cfg.segments)
        segments_path = Path(cfg.segments)
    return ClassifyRun(out=run.out, sidecar=run.sidecar, stats=run.stats, errors_in_output=run.errors_in_output,
                       segments=segments_path)
