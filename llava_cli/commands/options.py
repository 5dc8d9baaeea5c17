"""Every flag that two or more commands share, declared once, so `--model` means the same everywhere.

Each flag is an `Annotated` alias (as huggingface_hub's `hf` CLI does); a command's signature
names the alias and takes the default from the config dataclass the flag fills (`ModelConfig.dtype`,
...), so a default lives in one place. Where a command has no default of its own in a light module
(annotate's and chat's configs sit next to torch), the flag defaults to None and the config's
default applies: `given()` passes only the flags the user set.

Fixed choices (--dtype, --image-fit) are listed in the help and offered by shell completion; the
config validates them, so every problem of a command line is reported at once, with the flag that
fixes it, instead of typer stopping at the first one. --device is open-ended (cuda:N).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config import DEVICES, IMAGE_FITS, INFERENCE_DTYPES, InputConfig, ModelConfig, OutputConfig, default_batch_size

# Help panels, in the order a reader looks for them.
PROMPT = "Prompt"
MODEL = "Model"
INPUTS = "Inputs"
SCORING = "Scoring"
GENERATION = "Generation"
SPEED = "Speed"
OUTPUT = "Output"


def choices(values: Iterable[str]) -> dict[str, Any]:
    """Option settings that list fixed `values` in the help and in shell completion."""
    values = list(values)
    return {"metavar": "|".join(values), "autocompletion": lambda: values}


ModelOpt = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Hub id or local folder of a LLaVA-family checkpoint.", rich_help_panel=MODEL),
]
AdapterOpt = Annotated[
    Optional[str], typer.Option("--adapter", help="Folder of a peft LoRA adapter to apply.", rich_help_panel=MODEL)
]
RevisionOpt = Annotated[
    Optional[str],
    typer.Option("--revision", help="Branch, tag or commit of a hub --model (default: its main branch).", rich_help_panel=MODEL),
]
DeviceOpt = Annotated[
    Optional[str],
    typer.Option("--device", help="Where the model runs; cuda:N picks a GPU.", rich_help_panel=MODEL, **choices([*DEVICES, "cuda:N"])),
]
DtypeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--dtype",
        help="Weight dtype. auto: bf16 on GPUs that have it, fp16 on other GPUs; on CPU bf16 only where measured faster than fp32. "
        "float8 (classify, annotate, chat; GPUs with compute capability 8.9+, needs torchao): the language model's "
        "linear layers in float8: faster, and probabilities move (README, Performance).",
        rich_help_panel=MODEL,
        **choices(INFERENCE_DTYPES),
    ),
]
Load4bitOpt = Annotated[
    bool, typer.Option("--load-in-4bit", help="Quantize the language model to 4-bit NF4 (bitsandbytes).", rich_help_panel=MODEL)
]
Load8bitOpt = Annotated[
    bool, typer.Option("--load-in-8bit", help="Quantize the language model to 8-bit (bitsandbytes).", rich_help_panel=MODEL)
]
TrustRemoteCodeOpt = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Allow a checkpoint's own Python code to run (off by default).", rich_help_panel=MODEL),
]
ImageFitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--image-fit",
        help="pad: pad the image to a square with the processor's mean colour, as LLaVA-1.5 trained (the "
        "default where the processor center-crops); crop: the processor as it is (LLaVA-1.5: the central "
        "square). LLaVA-NeXT's any-resolution tiling is left as it is.",
        rich_help_panel=MODEL,
        **choices(IMAGE_FITS),
    ),
]

PromptOpt = Annotated[
    Optional[str],
    typer.Option(
        "--prompt", "-p", help="The question asked about each image; {labels} and {labels_or} insert the label list.",
        rich_help_panel=PROMPT,
    ),
]
PromptFileOpt = Annotated[Optional[Path], typer.Option("--prompt-file", help="Read --prompt from this file.", rich_help_panel=PROMPT)]
SystemOpt = Annotated[
    Optional[str],
    typer.Option(
        "--system", help="A system message before the prompt, where the model's chat template takes one.", rich_help_panel=PROMPT
    ),
]

InputsArg = Annotated[
    Optional[list[str]], typer.Argument(help="Images, videos, folders (recursive) or quoted glob patterns.", show_default=False)
]
FromListOpt = Annotated[
    Optional[Path],
    typer.Option("--from-list", help="File with one path a line, or a CSV with a source/path/image column.", rich_help_panel=INPUTS),
]
FpsOpt = Annotated[Optional[float], typer.Option("--fps", help="Video frames sampled per second (default 1).", rich_help_panel=INPUTS)]
EveryOpt = Annotated[
    Optional[int], typer.Option("--every", help="Sample every Nth video frame instead of --fps.", rich_help_panel=INPUTS)
]
MaxFramesOpt = Annotated[Optional[int], typer.Option("--max-frames", help="At most this many frames per video.", rich_help_panel=INPUTS)]

BatchSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--batch-size", "-b",
        help=f"Images per forward pass; lower it when the GPU runs out of memory (classify default: "
        f"{default_batch_size('cuda')} on a GPU, {default_batch_size('cpu')} on CPU).",
        rich_help_panel=SPEED,
    ),
]
WorkersOpt = Annotated[
    Optional[int],
    typer.Option(
        "--workers",
        help="Image decoding threads (default: cores - 1, decoding while a GPU model runs; with a CPU model, "
        "every core, between its batches).",
        rich_help_panel=SPEED,
    ),
]

TemperatureOpt = Annotated[
    Optional[float],
    typer.Option(
        "--temperature", help="0 (the default): greedy, the same answer every run; above 0: sampled, more varied.",
        rich_help_panel=GENERATION,
    ),
]
MaxNewTokensOpt = Annotated[Optional[int], typer.Option("--max-new-tokens", help="Longest answer, in tokens.", rich_help_panel=GENERATION)]

OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file: .csv, .jsonl or .parquet.", rich_help_panel=OUTPUT)]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace the output instead of resuming it.", rich_help_panel=OUTPUT)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.", rich_help_panel=OUTPUT)]


def examples(*lines: str) -> str:
    """A command's help epilog: a few example command lines."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)


def plain(value: Any) -> Any:
    """A flag's value as the config stores it: paths and enum members as text."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def given(cls: type, options: Mapping[str, Any], exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The parsed `options` (a command's `locals()`) that set a field of the dataclass `cls`.

    None means "not given": the field keeps its dataclass default (or a recipe's value).
    """
    skip = set(exclude)
    return {
        f.name: plain(options[f.name])
        for f in fields(cls)
        if f.name in options and f.name not in skip and options[f.name] is not None
    }


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field `name` (calling its default_factory where it has one)."""
    field = next(f for f in fields(cls) if f.name == name)
    return field.default_factory() if field.default is MISSING else field.default


def model_config(options: Mapping[str, Any]) -> ModelConfig:
    """The ModelConfig of a command's model flags. An empty --model is kept, so validation refuses it."""
    return ModelConfig(**given(ModelConfig, options))


def input_config(options: Mapping[str, Any]) -> InputConfig:
    """The InputConfig of a command's positional inputs and sampling flags."""
    return InputConfig(paths=list(options.get("inputs") or []), **given(InputConfig, options, exclude=["paths"]))


def output_config(options: Mapping[str, Any], default_out: str = OutputConfig.out) -> OutputConfig:
    """The OutputConfig of --out/--overwrite/--quiet; `default_out` where --out is not given."""
    values = given(OutputConfig, options)
    values.setdefault("out", default_out)
    return OutputConfig(**values)


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


def echo_run_summary(result, extra: str = "") -> None:
    """The one-line summary a batch command prints on stderr when it finishes (once per launch)."""
    from ..batch.distributed import current_process_group

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
