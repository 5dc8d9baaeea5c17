"""Classify images and video frames by scoring prompt-defined labels with a LLaVA model.

`Classifier` scores in-memory images (the Python API); `run_classify` is the batch job behind
`llava-cli classify`: inputs -> pipeline -> scorer -> rows in a resumable output file + sidecar.
The rest of classify has its own modules: the decision rule (llava_cli.classify.decision), the output's
columns, rows and sidecar (llava_cli.classify.rows), the cell format (llava_cli.columns).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..model.batching import PromptEncoder, collate, target_min_side
from .rows import ClassifyRows, classify_row_settings, output_schema, run_info
from ..columns import UNSURE, prob_column
from ..config import ClassifyConfig, default_batch_size
from .decision import decide
from ..batch.distributed import current_process_group
from ..media.inputs import find_inputs
from ..batch.jobs import BatchRun, frame_plan, run_job
from ..model.loading import LoadedModel, load_model, with_image_fit
from ..batch.ownership import OutputClaim, claim_output
from ..model.prompts import AnswerTokens, answer_tokens, check_system_supported, render, render_prompt, user_message, with_system
from ..model.scoring import LabelScorer

__all__ = [
    "UNSURE", "ClassifyRun", "Classifier", "classify_row_settings", "content_free_images", "decide", "output_schema",
    "prob_column", "run_classify", "run_info",
]  # fmt: skip


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
        compile: bool = False,
    ):
        self.loaded: LoadedModel | None = loaded
        self._setup(loaded.model, loaded.processor, loaded.device, loaded.dtype, labels, prompt, calibrate, system, compile)

    @classmethod
    def from_model(
        cls, model, processor, labels: list[str], prompt: str | None = None, *, calibrate: bool = False,
        system: str | None = None,
    ) -> "Classifier":
        """A Classifier for a model already in memory (e.g. one being trained), with no LoadedModel:
        inputs go to the device of its weights, scores are computed in their dtype when that is
        float16/bfloat16, else in float32. `loaded` is None."""
        param = next(model.parameters())
        dtype = param.dtype if param.dtype in (torch.float16, torch.bfloat16) else torch.float32
        clf = cls.__new__(cls)
        clf.loaded = None
        clf._setup(model, processor, param.device, dtype, labels, prompt, calibrate, system)
        return clf

    def _setup(self, model, processor, device, dtype, labels, prompt, calibrate, system, compile=False) -> None:
        self.processor = processor
        self.labels = list(labels)
        self.prompt = render_prompt(prompt, self.labels)
        self.system = system
        self.history = with_system(system, [user_message(self.prompt)])
        self.prefix_text = render(processor, self.history, add_generation_prompt=True)
        self.answers: list[AnswerTokens] = [answer_tokens(processor, self.history, lab) for lab in self.labels]
        self.scorer = LabelScorer(model, self.answers, device, dtype, compile=compile)
        self._largest_batch = 0  # --compile: shorter batches are padded to this size
        self.encoder = PromptEncoder(processor, self.prefix_text)
        # What --fast-decode decodes files and frames down to (JPEG draft mode, box reduce).
        self.min_side = target_min_side(processor.image_processor)
        self.calibration: torch.Tensor | None = None
        if calibrate:
            self.calibration = self.predict_proba(content_free_images(), calibrated=False).mean(0)

    def encode(self, image) -> dict[str, torch.Tensor]:
        """Model inputs for one image (thread-safe: runs in the decode workers)."""
        return self.encoder(image)

    def log_likelihoods(self, features: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """[B, L] summed log-probabilities of each label's tokens + end-of-answer token."""
        count = len(features)
        if self.scorer.compiled:  # one compiled graph per batch shape: pad a short batch with copies
            self._largest_batch = max(self._largest_batch, count)
            features = features + [features[-1]] * (self._largest_batch - count)
        batch = collate(features, self.processor.tokenizer.pad_token_id)
        return self.scorer.score(batch)[:count].cpu()

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


@dataclass
class ClassifyRun(BatchRun):
    """The outcome of `run_classify`: where rows went, what happened, and the segments file if any."""

    segments: Path | None = None


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
    """Load the model (unless given), score every input into the claimed output, then --segments."""
    clf, cfg = _classifier(cfg, loaded)
    run = run_job(
        claim=claim,
        items=items,
        plan=frame_plan(cfg),
        output=cfg.output,
        info=run_info(cfg, clf, clf.loaded),
        prepare=clf.encode,
        handle=ClassifyRows(clf, cfg),
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        min_side=clf.min_side if cfg.fast_decode else None,  # None: full decode, exact
        dedup=cfg.dedup,
        model_on_cpu=clf.scorer.device.type == "cpu",
    )
    segments_path = _write_segments(cfg)
    return ClassifyRun(out=run.out, sidecar=run.sidecar, stats=run.stats, errors_in_output=run.errors_in_output,
                       segments=segments_path)


def _classifier(cfg: ClassifyConfig, loaded: LoadedModel | None) -> tuple[Classifier, ClassifyConfig]:
    """The Classifier for `cfg` (loading the model unless given), and `cfg` with its batch size set."""
    loaded = with_image_fit(loaded, cfg.model.image_fit) if loaded else load_model(cfg.model)
    if cfg.system:
        check_system_supported(loaded.processor, cfg.system)
    if cfg.batch_size is None:
        cfg = replace(cfg, batch_size=default_batch_size(loaded.device))
    clf = Classifier(loaded, cfg.labels, cfg.prompt, calibrate=cfg.calibrate, system=cfg.system, compile=cfg.compile)
    return clf, cfg


def _write_segments(cfg: ClassifyConfig) -> Path | None:
    """--segments: the video segments of the whole output, written by the main process."""
    if not (cfg.segments and current_process_group().is_main):
        return None
    from ..output import read_rows, write_table
    from .segments import video_segments

    write_table(video_segments(read_rows(cfg.output.out), smooth=cfg.smooth), cfg.segments)
    return Path(cfg.segments)
