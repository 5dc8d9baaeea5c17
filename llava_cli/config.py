"""Typed, validated settings for each command family.

Each dataclass is built once from flags (or by API callers), and `validate()` lists every problem
at once with the flag that fixes it, so a user sees all mistakes in one go.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .columns import SEPARATOR, UNSURE

DEFAULT_MODEL = "llava-hf/llava-1.5-7b-hf"
# The choices of --dtype float8 and --image-fit live with the settings that take them; the model
# layer (llava_cli.model.float8, llava_cli.model.preprocess) imports them from here.
FLOAT8 = "float8"
IMAGE_FITS = ("pad", "crop")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "bfloat16", "float16", "float32")
# Inference may also run the language model in float8 (llava_cli.model.float8): opt-in, GPU only.
INFERENCE_DTYPES = (*DTYPES, FLOAT8)
OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")


@dataclass
class ModelConfig:
    """Which checkpoint to load and how (shared by classify, annotate, chat and finetune)."""

    model: str = DEFAULT_MODEL
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    load_in_4bit: bool = False
    load_in_8bit: bool = False
    trust_remote_code: bool = False
    revision: str | None = None
    # How images meet the model's square input: "pad" (LLaVA-1.5's pad-to-square) or "crop" (the
    # processor as it is); None: pad for processors that center-crop. See llava_cli.model.preprocess.
    image_fit: str | None = None

    def problems(self) -> list[str]:
        out = []
        if not self.model:
            out.append("--model is empty: pass a hub id or a local checkpoint folder")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            out.append(f"--device {self.device!r} is not one of {', '.join(DEVICES)} (or cuda:N)")
        if self.dtype not in INFERENCE_DTYPES:
            out.append(f"--dtype {self.dtype!r} is not one of {', '.join(INFERENCE_DTYPES)}")
        if self.load_in_4bit and self.load_in_8bit:
            out.append("--load-in-4bit and --load-in-8bit exclude each other: pick one")
        if self.dtype == FLOAT8 and (self.load_in_4bit or self.load_in_8bit):
            out.append("--dtype float8 and --load-in-4bit/8bit are two ways to shrink the weights: pick one")
        if self.adapter and not Path(self.adapter).exists() and "/" not in self.adapter:
            out.append(f"--adapter {self.adapter}: no such folder")
        out += image_fit_problems(self.image_fit)
        return out


def image_fit_problems(image_fit: str | None) -> list[str]:
    if image_fit is None or image_fit in IMAGE_FITS:
        return []
    return [f"--image-fit {image_fit!r} is not one of {', '.join(IMAGE_FITS)}"]


def system_problems(system: str | None) -> list[str]:
    if system is not None and not system.strip():
        return ["--system is empty: write a system message, or leave it out"]
    return []


@dataclass
class InputConfig:
    """Where images and videos come from and how video frames are sampled."""

    paths: list[str] = field(default_factory=list)
    from_list: str | None = None
    fps: float | None = None  # default 1.0 when neither fps nor every is given
    every: int | None = None
    max_frames: int | None = None

    def problems(self) -> list[str]:
        out = []
        if not self.paths and not self.from_list:
            out.append("no inputs: pass image/video files, folders or globs, or --from-list FILE")
        if self.from_list and not Path(self.from_list).is_file():
            what = "not a regular file" if Path(self.from_list).exists() else "no such file"  # a FIFO would block
            out.append(f"--from-list {self.from_list}: {what}")
        if self.fps is not None and self.every is not None:
            out.append("--fps and --every exclude each other: pick one way to sample video frames")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            out.append(f"--fps must be a number > 0 (got {self.fps})")
        if self.every is not None and self.every < 1:
            out.append(f"--every must be >= 1 frame (got {self.every})")
        if self.max_frames is not None and self.max_frames < 1:
            out.append(f"--max-frames must be >= 1 (got {self.max_frames})")
        return out


@dataclass
class OutputConfig:
    """Where rows go, and whether an existing file is resumed or replaced."""

    out: str = "labels.csv"
    overwrite: bool = False
    quiet: bool = False

    def problems(self) -> list[str]:
        path = Path(self.out)
        if path.is_dir():
            return [f"--out {self.out} is a folder; name a file in it, e.g. --out {path / 'labels.csv'}"]
        if path.exists() and not path.is_file():
            return [f"--out {self.out} is not a regular file (a FIFO, socket or device); choose another --out"]
        suffix = path.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            return [
                f"--out {self.out}: unknown output extension {suffix or '(none)'!r}; "
                f"use one of {', '.join(OUTPUT_SUFFIXES)}"
            ]
        return []


def default_batch_size(device) -> int:
    """Images per forward pass when --batch-size is not given. Measured on llava-1.5-7b shapes:
    an H100 reaches 41 img/s from batch 16 on (36.5 at 8); on CPU batch 2-8 cost the same per image."""
    return 16 if getattr(device, "type", str(device)) == "cuda" else 8


def parse_labels(text: str | list[str] | None) -> list[str]:
    """Split a comma-separated label list (or accept a list), trimming blanks.

    The list is read as one CSV line, so a label holding a comma is quoted: `"a,b",c` is the two
    labels `a,b` and `c` (a doubled quote inside quotes is a quote). Raises UsageError for an
    unclosed quote.
    """
    if text is None:
        return []
    if isinstance(text, str):
        try:
            rows = list(csv.reader([text], skipinitialspace=True, strict=True))
        except csv.Error as exc:
            raise UsageError(f"--labels {text!r}: {exc}; quote a label holding a comma as \"a,b\"") from None
        items = rows[0] if rows else []
    else:
        items = list(text)
    return [item.strip() for item in items if item.strip()]


def label_problems(labels: list[str], flag: str = "--labels") -> list[str]:
    out = []
    if len(labels) < 2:
        out.append(f"{flag} needs at least two labels, comma-separated (e.g. {flag} cat,dog)")
    seen: set[str] = set()
    dupes = [lab for lab in labels if lab in seen or seen.add(lab)]
    if dupes:
        out.append(f"{flag} has duplicates: {', '.join(sorted(set(dupes)))}")
    return out


@dataclass
class ClassifyConfig:
    """Everything `classify` needs, validated once by `validate()`."""

    labels: list[str]
    model: ModelConfig = field(default_factory=ModelConfig)
    inputs: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    prompt: str | None = None  # None: the default prompt built from the labels
    system: str | None = None  # a system message before the prompt, where the chat template takes one
    batch_size: int | None = None  # None: default_batch_size(device) once the model is loaded
    multi_label: bool = False
    threshold: float = 0.5
    calibrate: bool = False
    min_confidence: float | None = None
    segments: str | None = None
    smooth: int = 1
    dedup: float | None = None
    workers: int | None = None  # image decoding threads; None: picked from the core count
    # Approximate decoding (JPEG draft mode + box reduce down to the processor's size): faster, but
    # the model sees other pixels than its own processor would give it. Off: exact.
    fast_decode: bool = False
    # torch.compile the scoring forward (one graph per batch shape; the first batch pays the
    # compile). Off by default: +4% on a 2-core CPU for ~15 s of compiling (benchmarks/README.md).
    compile: bool = False

    def validate(self) -> "ClassifyConfig":
        """Return self, or raise UsageError listing every problem with the flag to fix it."""
        problems = label_problems(self.labels)
        problems += self.model.problems() + self.inputs.problems() + self.output.problems()
        if self.batch_size is not None and self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1 (got {self.batch_size})")
        if self.multi_label and any(SEPARATOR in lab for lab in self.labels):
            joined = ", ".join(lab for lab in self.labels if SEPARATOR in lab)
            problems.append(f"--multi-label joins labels with {SEPARATOR!r}, which {joined} contains: rename that label")
        if not 0.0 < self.threshold < 1.0:
            problems.append(f"--threshold must be between 0 and 1 (got {self.threshold})")
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            problems.append(f"--min-confidence must be between 0 and 1 (got {self.min_confidence})")
        if self.smooth < 1:
            problems.append(f"--smooth must be >= 1 frame (got {self.smooth})")
        if self.segments and Path(self.segments).is_dir():
            problems.append(f"--segments {self.segments} is a folder; name a file in it, e.g. {Path(self.segments) / 'segments.csv'}")
        elif self.segments and Path(self.segments).suffix.lower() not in OUTPUT_SUFFIXES:
            problems.append(f"--segments {self.segments}: use a .csv, .jsonl or .parquet name")
        if self.dedup is not None and not 0.0 <= self.dedup <= 1.0:
            problems.append(f"--dedup must be between 0 and 1 (got {self.dedup})")
        if self.workers is not None and self.workers < 0:
            problems.append(f"--workers must be >= 0 (got {self.workers})")
        if UNSURE in self.labels and self.min_confidence is not None:
            problems.append(f"--min-confidence writes {UNSURE!r}, which is also one of --labels: rename that label")
        if self.prompt is not None and not self.prompt.strip():
            problems.append("--prompt is empty: leave it out for the default, or write one")
        problems += system_problems(self.system)
        if problems:
            raise UsageError(problems)
        return self
