"""`llava-cli annotate`: flags -> AnnotateConfig -> run_annotate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._errors import translate_errors
from ..config import DEFAULT_MODEL, parse_labels
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
    MaxNewTokensOpt,
    ModelOpt,
    OutOpt,
    OverwriteOpt,
    PromptFileOpt,
    PromptOpt,
    QuietOpt,
    SystemOpt,
    TemperatureOpt,
    TrustRemoteCodeOpt,
    WorkersOpt,
    echo_run_summary,
    input_config,
    model_config,
    output_config,
    read_prompt,
)


def annotate(
    inputs: InputsArg = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    out: OutOpt = Path("annotations.csv"),
    labels: Annotated[
        Optional[str], typer.Option("--labels", "-l", help="Also map each answer to the nearest of these comma-separated labels (a label column).")
    ] = None,
    max_new_tokens: MaxNewTokensOpt = 128,
    temperature: TemperatureOpt = 0.0,
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
    batch_size: BatchSizeOpt = 8,
    workers: WorkersOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Answer --prompt about every image and sampled video frame; one row per image or frame.

    Columns: source, frame, timestamp_s, answer, (label with --labels), error.
    Exit codes: 0 all inputs answered, 3 some inputs became error rows, 2 bad arguments, 1 failure.
    """
    from ..annotate import AnnotateConfig, run_annotate

    cfg = AnnotateConfig(
        prompt=read_prompt(prompt, prompt_file),
        model=model_config(model, adapter, device, dtype, load_in_4bit, load_in_8bit, trust_remote_code, image_fit),
        inputs=input_config(inputs, from_list, fps, every, max_frames),
        output=output_config(out, overwrite, quiet),
        labels=parse_labels(labels),
        system=system,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        workers=workers,
    ).validate()
    result = run_annotate(cfg)
    if not quiet:
        echo_run_summary(result)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("annotate")(translate_errors(annotate))
