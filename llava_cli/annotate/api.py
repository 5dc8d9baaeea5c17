"""Free-form answers about images and video frames, batched into a table (`llava-cli annotate`).

`Annotator` answers one prompt about in-memory images (the Python API); `run_annotate` is the
batch job: the same inputs, frame sampling, resumable output, sidecar, progress, error rows and
exit codes as classify (llava_cli.batch.jobs), with the columns source, frame, timestamp_s, answer
(label when --labels is given) and error.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

import polars as pl
import torch

from ..model.batching import encode
from ..config import InputConfig, ModelConfig, OutputConfig, label_problems, system_problems
from ..errors import UsageError
from ..model.generation import generate_batch, stop_token_ids
from ..media.inputs import find_inputs
from ..batch.jobs import KEY_COLUMNS, BatchRun, frame_plan, row_settings, run_info, run_job, sample_key
from ..model.loading import LoadedModel, load_model, with_image_fit
from ..batch.ownership import OutputClaim, claim_output
from ..batch.pipeline import Sample
from ..model.prompts import check_system_supported, render, render_prompt, user_message, with_system

DEFAULT_MAX_NEW_TOKENS = 128


@dataclass
class AnnotateConfig:
    """Everything `annotate` needs, validated once by `validate()`."""

    prompt: str
    model: ModelConfig = field(default_factory=ModelConfig)
    inputs: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=lambda: OutputConfig(out="annotations.csv"))
    labels: list[str] = field(default_factory=list)  # optional: also map each answer to the nearest
    system: str | None = None  # a system message before the prompt, where the chat template takes one
    batch_size: int = 8
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    workers: int | None = None

    def validate(self) -> "AnnotateConfig":
        """Return self, or raise UsageError listing every problem with the flag to fix it."""
        problems = []
        if self.prompt is None or not self.prompt.strip():
            problems.append('--prompt is required: the question asked about each image, e.g. --prompt "Describe the scene."')
        problems += self.model.problems() + self.inputs.problems() + self.output.problems()
        if self.labels:
            problems += label_problems(self.labels)
        if self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1 (got {self.batch_size})")
        if self.max_new_tokens < 1:
            problems.append(f"--max-new-tokens must be >= 1 (got {self.max_new_tokens})")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            problems.append(f"--temperature must be a number >= 0 (got {self.temperature}); 0 is greedy")
        if self.workers is not None and self.workers < 0:
            problems.append(f"--workers must be >= 0 (got {self.workers})")
        problems += system_problems(self.system)
        if problems:
            raise UsageError(problems)
        return self

    @property
    def question(self) -> str:
        """The prompt as asked: {labels} / {labels_or} filled in when --labels is given."""
        return render_prompt(self.prompt, self.labels) if self.labels else self.prompt


def output_schema(with_label: bool) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {**KEY_COLUMNS, "answer": pl.String}
    if with_label:
        schema["label"] = pl.String
    schema["error"] = pl.String
    return schema


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def nearest_label(answer: str, labels: list[str]) -> str | None:
    """The label an answer names: equal (ignoring case and punctuation), else the label that
    appears earliest as whole words in it (the longer one on a tie), else the most similar label
    (difflib ratio against the answer and each of its words). None for an empty answer."""
    words = _words(answer)
    if not words or not labels:
        return None
    for label in labels:
        if _words(label) == words:
            return label
    found = []
    for label in labels:
        pattern = r"\b" + r"\W+".join(re.escape(w) for w in _words(label)) + r"\b"
        match = re.search(pattern, answer.lower()) if _words(label) else None
        if match:
            found.append((match.start(), -len(label), label))
    if found:
        return min(found)[2]
    flat = " ".join(words)

    def similarity(label: str) -> float:
        target = " ".join(_words(label)) or label.lower()
        candidates = [flat, *words]
        return max(difflib.SequenceMatcher(None, target, c).ratio() for c in candidates)

    return max(labels, key=similarity)


class Annotator:
    """Answers to one prompt about images, from one loaded model.

    >>> ann = Annotator(load_model(ModelConfig(model="llava-hf/llava-1.5-7b-hf")), "Describe the scene.")
    >>> ann.annotate([Image.open("pet.jpg")])   # ["A cat sleeping on a sofa."]
    """

    def __init__(self, loaded: LoadedModel, prompt: str, *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 temperature: float = 0.0, system: str | None = None):
        self.loaded = loaded
        self.prompt = prompt
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.prompt_text = self.render(prompt)
        self.stop_ids = stop_token_ids(loaded.processor)

    def render(self, prompt: str) -> str:
        return render(self.loaded.processor, with_system(self.system, [user_message(prompt)]), add_generation_prompt=True)

    def encode(self, image, prompt: str | None = None) -> dict[str, torch.Tensor]:
        """Model inputs for one image and the prompt (or another one); thread-safe."""
        text = self.prompt_text if prompt is None else self.render(prompt)
        return encode(self.loaded.processor, image, text)

    def answers(self, features: list[dict[str, torch.Tensor]]) -> list[str]:
        """One generated answer per encoded input, batched with left padding."""
        return generate_batch(
            self.loaded,
            features,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            stop_ids=self.stop_ids,
        )

    def annotate(self, images: list, *, prompts: list[str] | None = None, batch_size: int = 8) -> list[str]:
        """Answers for in-memory PIL images (optionally a prompt per image), batched."""
        if prompts is not None and len(prompts) != len(images):
            raise ValueError(f"{len(prompts)} prompts for {len(images)} images")
        features = [self.encode(im, None if prompts is None else prompts[i]) for i, im in enumerate(images)]
        out: list[str] = []
        for start in range(0, len(features), batch_size):
            out += self.answers(features[start : start + batch_size])
        return out


def annotate_info(cfg: AnnotateConfig, loaded: LoadedModel | None, annotator: Annotator | None) -> dict:
    """The sidecar: everything needed to know what produced the output."""
    info = run_info(
        "annotate",
        cfg,
        loaded,
        prompt=cfg.question,
        system=cfg.system,
        labels=cfg.labels,
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
    )
    if annotator is not None:
        info["stop_tokens"] = annotator.stop_ids
    return info


def run_annotate(cfg: AnnotateConfig, *, loaded: LoadedModel | None = None) -> BatchRun:
    """Answer `cfg.prompt` for every input of `cfg` into `cfg.output.out`, resuming a partial run.

    Raises UsageError (bad settings, nothing found), ModelLoadError, OutputError. Unreadable
    inputs do not raise: they become rows with `error` set (see BatchRun.exit_code).
    """
    cfg.validate()
    items = find_inputs(cfg.inputs.paths, cfg.inputs.from_list)
    schema = output_schema(bool(cfg.labels))
    settings = row_settings(
        "annotate",
        cfg,
        **{"--prompt": cfg.question, "--labels": cfg.labels, "--max-new-tokens": cfg.max_new_tokens,
           "--temperature": cfg.temperature},
    )
    with claim_output(cfg.output, schema, settings, protected={"--from-list": cfg.inputs.from_list}) as claim:
        return _annotate_into(claim, cfg, items, loaded)


def _annotate_into(claim: OutputClaim, cfg: AnnotateConfig, items, loaded: LoadedModel | None) -> BatchRun:
    loaded = with_image_fit(loaded, cfg.model.image_fit) if loaded else load_model(cfg.model)
    if cfg.system:
        check_system_supported(loaded.processor, cfg.system)
    annotator = Annotator(
        loaded, cfg.question, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, system=cfg.system
    )

    def handle(batch: list[Sample]) -> list[dict]:
        rows = []
        for sample, answer in zip(batch, annotator.answers([s.features for s in batch])):
            row = {**sample_key(sample), "answer": answer, "error": None}
            if cfg.labels:
                row["label"] = nearest_label(answer, cfg.labels)
            rows.append(row)
        return rows

    return run_job(
        claim=claim,
        items=items,
        plan=frame_plan(cfg),
        output=cfg.output,
        info=annotate_info(cfg, loaded, annotator),
        prepare=annotator.encode,
        handle=handle,
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        model_on_cpu=loaded.device.type == "cpu",
    )
