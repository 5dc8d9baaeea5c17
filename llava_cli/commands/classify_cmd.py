"""`llava-cli classify`: flags -> ClassifyConfig -> run_classify (or the dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig, parse_labels
from ._errors import translate_errors
from .options import (
    INPUTS,
    OUTPUT,
    PROMPT,
    SCORING,
    SPEED,
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
    RevisionOpt,
    SystemOpt,
    TrustRemoteCodeOpt,
    WorkersOpt,
    echo_run_summary,
    examples,
    given,
    input_config,
    model_config,
    output_config,
    read_prompt,
)

EXAMPLES = examples(
    "llava-cli classify photos/ --labels cat,dog,bird -o labels.csv",
    "llava-cli classify game.mp4 -l shooting,dribbling,passing --fps 2 --segments plays.csv --smooth 3",
    "llava-cli classify shots/ -l indoor,outdoor --min-confidence 0.7 --dry-run",
)


def classify(
    inputs: InputsArg = None,
    labels: Annotated[
        str, typer.Option("--labels", "-l", help="Comma-separated labels, e.g. shooting,dribbling,passing.", rich_help_panel=PROMPT)
    ] = "",
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = ModelConfig.model,
    adapter: AdapterOpt = ModelConfig.adapter,
    revision: RevisionOpt = ModelConfig.revision,
    device: DeviceOpt = ModelConfig.device,
    dtype: DtypeOpt = ModelConfig.dtype,
    load_in_4bit: Load4bitOpt = ModelConfig.load_in_4bit,
    load_in_8bit: Load8bitOpt = ModelConfig.load_in_8bit,
    trust_remote_code: TrustRemoteCodeOpt = ModelConfig.trust_remote_code,
    image_fit: ImageFitOpt = ModelConfig.image_fit,
    from_list: FromListOpt = InputConfig.from_list,
    fps: FpsOpt = InputConfig.fps,
    every: EveryOpt = InputConfig.every,
    max_frames: MaxFramesOpt = InputConfig.max_frames,
    dedup: Annotated[
        Optional[float],
        typer.Option(
            "--dedup",
            help="Skip video frames that differ from the last scored frame by less than T (0..1, mean "
            "absolute difference of 32x32 grayscale thumbnails; ~0.02 catches static shots) and copy "
            "its result; adds a duplicate_of column.",
            rich_help_panel=INPUTS,
        ),
    ] = ClassifyConfig.dedup,
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Write every label whose probability is >= --threshold.", rich_help_panel=SCORING)
    ] = ClassifyConfig.multi_label,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Probability cut-off for --multi-label.", rich_help_panel=SCORING)
    ] = ClassifyConfig.threshold,
    calibrate: Annotated[
        bool,
        typer.Option("--calibrate", help="Contextual calibration: divide out the probabilities of blank images.", rich_help_panel=SCORING),
    ] = ClassifyConfig.calibrate,
    min_confidence: Annotated[
        Optional[float],
        typer.Option("--min-confidence", help="Write 'unsure' when the top probability is below this.", rich_help_panel=SCORING),
    ] = ClassifyConfig.min_confidence,
    batch_size: BatchSizeOpt = ClassifyConfig.batch_size,
    workers: WorkersOpt = ClassifyConfig.workers,
    fast_decode: Annotated[
        bool,
        typer.Option(
            "--fast-decode",
            help="Decode JPEGs in draft mode and box-reduce large frames before the processor: faster, "
            "but approximate (probabilities moved by up to ~0.2 on 1080p frames; see the README).",
            rich_help_panel=SPEED,
        ),
    ] = ClassifyConfig.fast_decode,
    compile: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="torch.compile the scoring forward: the first batch compiles (~15-30 s), later ones run faster "
            "(measured +4% on a 2-core CPU; README, Performance). Pays off on long runs.",
            rich_help_panel=SPEED,
        ),
    ] = ClassifyConfig.compile,
    out: OutOpt = Path(OutputConfig.out),
    segments: Annotated[
        Optional[Path],
        typer.Option("--segments", help="Also write per-video runs of equal labels to this file.", rich_help_panel=OUTPUT),
    ] = None,
    smooth: Annotated[
        int, typer.Option("--smooth", help="Majority-vote window (frames) applied before --segments.", rich_help_panel=OUTPUT)
    ] = ClassifyConfig.smooth,
    overwrite: OverwriteOpt = OutputConfig.overwrite,
    quiet: QuietOpt = OutputConfig.quiet,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the prompt, label tokens and inputs; load no model.", rich_help_panel=OUTPUT)
    ] = False,
) -> None:
    """Label images and video frames with one of --labels; one row per image or sampled frame.

    Exit codes: 0 all inputs labelled, 3 some inputs became error rows, 2 bad arguments, 1 failure.

    \f
    Over 50 lines only because typer reads the flags from the signature; the body is short.
    """
    options = dict(locals())  # the parsed flags, by name: the configs take the ones they own
    from ..classify.api import run_classify
    from ..classify.dry_run import describe_classify

    cfg = ClassifyConfig(
        **given(ClassifyConfig, options, exclude=["labels", "prompt", "model", "inputs", "output"]),
        labels=parse_labels(labels),
        prompt=read_prompt(prompt, prompt_file),
        model=model_config(options),
        inputs=input_config(options),
        output=output_config(options),
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
    app.command("classify", epilog=EXAMPLES)(translate_errors(classify))
