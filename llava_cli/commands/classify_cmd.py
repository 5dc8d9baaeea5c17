"""`llava-cli classify`: flags -> ClassifyConfig -> run_classify (or the dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._errors import translate_errors
from ..config import DEFAULT_MODEL, ClassifyConfig, parse_labels
from .options import (
    AdapterOpt,
    BatchSizeOpt,
    DeviceOpt,
    DtypeOpt,
    EveryOpt,
    FpsOpt,
    FromListOpt,
    ImageFitOpt,
    InputsArg,
    Load4bitOpt,
    Load8bitOpt,
    MaxFramesOpt,
    ModelOpt,
    OutOpt,
    OverwriteOpt,
    PromptFileOpt,
    PromptOpt,
    QuietOpt,
    SystemOpt,
    TrustRemoteCodeOpt,
    WorkersOpt,
    echo_run_summary,
    input_config,
    model_config,
    output_config,
    read_prompt,
)


def classify(
    inputs: InputsArg = None,
    labels: Annotated[str, typer.Option("--labels", "-l", help="Comma-separated labels, e.g. shooting,dribbling,passing.")] = "",
    out: OutOpt = Path("labels.csv"),
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    adapter: AdapterOpt = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    load_in_4bit: Load4bitOpt = False,
    load_in_8bit: Load8bitOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    image_fit: ImageFitOpt = None,
    from_list: FromListOpt = None,
    fps: FpsOpt = None,
    every: EveryOpt = None,
    max_frames: MaxFramesOpt = None,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    fast_decode: Annotated[
        bool,
        typer.Option(
            "--fast-decode",
            help="Decode JPEGs in draft mode and box-reduce large frames before the processor: faster, "
            "but approximate (probabilities moved by up to ~0.2 on 1080p frames; see the README).",
        ),
    ] = False,
    multi_label: Annotated[bool, typer.Option("--multi-label", help="Write every label whose probability is >= --threshold.")] = False,
    threshold: Annotated[float, typer.Option("--threshold", help="Probability cut-off for --multi-label.")] = 0.5,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Contextual calibration: divide out the probabilities of blank images.")] = False,
    min_confidence: Annotated[Optional[float], typer.Option("--min-confidence", help="Write 'unsure' when the top probability is below this.")] = None,
    segments: Annotated[Optional[Path], typer.Option("--segments", help="Also write per-video runs of equal labels to this file.")] = None,
    smooth: Annotated[int, typer.Option("--smooth", help="Majority-vote window (frames) applied before --segments.")] = 1,
    dedup: Annotated[
        Optional[float],
        typer.Option(
            "--dedup",
            help="Skip video frames that differ from the last scored frame by less than T (0..1, mean "
            "absolute difference of 32x32 grayscale thumbnails; ~0.02 catches static shots) and copy "
            "its result; adds a duplicate_of column.",
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the prompt, label tokens and inputs; load no model.")] = False,
) -> None:
    """Label images and video frames with one of --labels; one row per image or sampled frame.

    Exit codes: 0 all inputs labelled, 3 some inputs became error rows, 2 bad arguments, 1 failure.
    """
    from ..classify import run_classify
    from ..dry_run import describe_classify

    cfg = ClassifyConfig(
        labels=parse_labels(labels),
        model=model_config(model, adapter, device, dtype, load_in_4bit, load_in_8bit, trust_remote_code, image_fit),
        inputs=input_config(inputs, from_list, fps, every, max_frames),
        output=output_config(out, overwrite, quiet),
        prompt=read_prompt(prompt, prompt_file),
        system=system,
        batch_size=batch_size,
        workers=workers,
        fast_decode=fast_decode,
        multi_label=multi_label,
        threshold=threshold,
        calibrate=calibrate,
        min_confidence=min_confidence,
        segments=str(segments) if segments else None,
        smooth=smooth,
        dedup=dedup,
    ).validate()
    if dry_run:
        typer.echo(describe_classify(cfg))
        return
    result = run_classify(cfg)
    if not quiet:
        copied = f" ({result.stats.duplicates} copied by --dedup)" if result.stats.duplicates else ""
        echo_run_summary(result, copied + (f"; segments in {result.segments}" if result.segments else ""))
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("classify")(translate_errors(classify))
