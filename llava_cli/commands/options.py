"""Option aliases shared by every command, so `--model` means the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import DEFAULT_MODEL, InputConfig, ModelConfig, OutputConfig

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Hub id or local folder of a LLaVA-family checkpoint.")]
AdapterOpt = Annotated[Optional[str], typer.Option("--adapter", help="Folder of a peft LoRA adapter to apply.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N | mps")]
DtypeOpt = Annotated[
    str, typer.Option("--dtype", help="auto (bf16 on GPUs that have it, fp16 on other GPUs; on CPU bf16 only where measured faster than fp32) | bfloat16 | float16 | float32")
]
Load4bitOpt = Annotated[bool, typer.Option("--load-in-4bit", help="Quantize the language model to 4-bit NF4 (bitsandbytes).")]
Load8bitOpt = Annotated[bool, typer.Option("--load-in-8bit", help="Quantize the language model to 8-bit (bitsandbytes).")]
TrustRemoteCodeOpt = Annotated[
    bool, typer.Option("--trust-remote-code", help="Allow a checkpoint's own Python code to run (off by default).")
]
ImageFitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--image-fit",
        help="pad: pad the image to a square with the processor's mean colour, as LLaVA-1.5 trained (the "
        "default where the processor center-crops); crop: the processor as it is (LLaVA-1.5: the central "
        "square). LLaVA-NeXT's any-resolution tiling is left as it is.",
    ),
]
SystemOpt = Annotated[
    Optional[str],
    typer.Option("--system", help="A system message before the prompt, where the model's chat template takes one."),
]

InputsArg = Annotated[
    Optional[list[str]], typer.Argument(help="Images, videos, folders (recursive) or quoted glob patterns.", show_default=False)
]
FromListOpt = Annotated[
    Optional[Path], typer.Option("--from-list", help="File with one path a line, or a CSV with a source/path/image column.")
]
FpsOpt = Annotated[Optional[float], typer.Option("--fps", help="Video frames sampled per second (default 1).")]
EveryOpt = Annotated[Optional[int], typer.Option("--every", help="Sample every Nth video frame instead of --fps.")]
MaxFramesOpt = Annotated[Optional[int], typer.Option("--max-frames", help="At most this many frames per video.")]

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv, .jsonl or .parquet.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace the output instead of resuming it.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
BatchSizeOpt = Annotated[
    Optional[int], typer.Option("--batch-size", "-b", help="Images per forward pass (classify default: 16 on a GPU, 8 on CPU).")
]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", help="Image decoding threads (default: cores - 1).")]
PromptOpt = Annotated[
    Optional[str],
    typer.Option("--prompt", "-p", help="The question asked about each image; {labels} and {labels_or} insert the label list."),
]
PromptFileOpt = Annotated[Optional[Path], typer.Option("--prompt-file", help="Read --prompt from this file.")]


def model_config(
    model: str, adapter, device: str, dtype: str, load_in_4bit: bool, load_in_8bit: bool,
    trust_remote_code: bool = False, image_fit: str | None = None,
) -> ModelConfig:
    return ModelConfig(
        model=model or DEFAULT_MODEL,
        adapter=adapter,
        device=device,
        dtype=dtype,
        load_in_4bit=load_in_4bit,
        load_in_8bit=load_in_8bit,
        trust_remote_code=trust_remote_code,
        image_fit=image_fit,
    )


def input_config(inputs, from_list, fps, every, max_frames) -> InputConfig:
    return InputConfig(
        paths=list(inputs or []),
        from_list=str(from_list) if from_list else None,
        fps=fps,
        every=every,
        max_frames=max_frames,
    )


def output_config(out: Path, overwrite: bool, quiet: bool) -> OutputConfig:
    return OutputConfig(out=str(out), overwrite=overwrite, quiet=quiet)


def read_prompt(prompt: str | None, prompt_file: Path | None) -> str | None:
    """--prompt, or the contents of --prompt-file. Raises UsageError when both or an unreadable file."""
    from ..errors import UsageError

    if prompt is not None and prompt_file is not None:
        raise UsageError("--prompt and --prompt-file exclude each other: pick one")
    if prompt_file is None:
        return prompt
    if prompt_file.exists() and not prompt_file.is_file():  # a FIFO would block reading forever
        raise UsageError(f"--prompt-file {prompt_file}: not a regular file")
    try:
        return prompt_file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as exc:
        line = prompt_file.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"--prompt-file {prompt_file} line {line}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"--prompt-file {prompt_file}: cannot read ({exc.strerror})") from exc


TemperatureOpt = Annotated[
    float, typer.Option("--temperature", help="0: greedy, the same answer every run; above 0: sampled, more varied.")
]
MaxNewTokensOpt = Annotated[int, typer.Option("--max-new-tokens", help="Longest answer, in tokens.")]


def echo_run_summary(result, extra: str = "") -> None:
    """The one-line summary a batch command prints on stderr when it finishes (once per launch)."""
    from ..distributed import current_process_group

    group = current_process_group()
    if not group.is_main:
        return
    by = f" from {group.world_size} processes" if group.distributed else ""
    s = result.stats
    # The file's own count too: error rows of inputs this run was not given stay in it.
    in_file = f", {result.errors_in_output} in the file" if result.errors_in_output != s.errors else ""
    typer.echo(
        f"wrote {s.written} rows{by} to {result.out} ({s.errors} errors{in_file}, {s.resumed} already there) "
        f"in {s.seconds:.1f}s, {s.rows_per_s:.2f} rows/s; run info in {result.sidecar}" + extra,
        err=True,
    )
