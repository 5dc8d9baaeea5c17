"""`llava-cli annotate`: flags -> AnnotateConfig -> run_annotate.

Flags annotate has its own defaults for (--out, --batch-size, --max-new-tokens, --temperature)
default to None here and take AnnotateConfig's defaults: annotate.py imports torch, too slow to
load just to print the help.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..config import InputConfig, ModelConfig, OutputConfig, parse_labels
from ._errors import translate_errors
from .options import (
    PROMPT,
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
    MaxNewTokensOpt,
    ModelOpt,
    OutOpt,
    OverwriteOpt,
    PromptFileOpt,
    PromptOpt,
    QuietOpt,
    RevisionOpt,
    SystemOpt,
    TemperatureOpt,
    TrustRemoteCodeOpt,
    WorkersOpt,
    echo_run_summary,
    examples,
    field_default,
    given,
    input_config,
    model_config,
    output_config,
    read_prompt,
)

EXAMPLES = examples(
    'llava-cli annotate photos/ --prompt "Describe the scene in one sentence." -o captions.csv',
    'llava-cli annotate game.mp4 --fps 1 -p "Who has the ball?" --max-new-tokens 32',
    'llava-cli annotate shots/ -p "Is it day or night?" --labels day,night -o light.jsonl',
)


def annotate(
    inputs: InputsArg = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    labels: Annotated[
        Optional[str],
        typer.Option(
            "--labels", "-l", help="Also map each answer to the nearest of these comma-separated labels (a label column).",
            rich_help_panel=PROMPT,
        ),
    ] = None,
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
    max_new_tokens: MaxNewTokensOpt = None,
    temperature: TemperatureOpt = None,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = OutputConfig.overwrite,
    quiet: QuietOpt = OutputConfig.quiet,
) -> None:
    """Answer --prompt about every image and sampled video frame; one row per image or frame.

    Columns: source, frame, timestamp_s, answer, (label with --labels), error.
    Exit codes: 0 all inputs answered, 3 some inputs became error rows, 2 bad arguments, 1 failure.
    \f
    Over 50 lines only because typer reads the flags from the signature; the body is short.
    """
    options = dict(locals())  # the parsed flags, by name: the configs take the ones they own
    from ..annotate.api import AnnotateConfig, run_annotate

    cfg = AnnotateConfig(
        **given(AnnotateConfig, options, exclude=["prompt", "labels", "model", "inputs", "output"]),
        prompt=read_prompt(prompt, prompt_file),
        labels=parse_labels(labels),
        model=model_config(options),
        inputs=input_config(options),
        output=output_config(options, default_out=field_default(AnnotateConfig, "output").out),
    ).validate()
    result = run_annotate(cfg)
    if not quiet:
        echo_run_summary(result)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("annotate", epilog=EXAMPLES)(translate_errors(annotate))
