"""Run batch commands across processes launched by `accelerate launch` (one per GPU or machine).

Inputs are dealt round-robin to processes, whole files at a time (a video's frames stay on one
process). Each process writes its own part file beside the output as it goes, so a crash of any
process loses nothing: rerunning resumes every part. When all processes are done, the main process
merges the parts, plus any rows a previous run left in the output, into `--out` in exactly the order
a single process would have written, and removes the parts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..media.inputs import InputItem
from ..output import write_table

# A part file's name after `<out>` (matched exactly: an output name may itself hold `*` or `?`).
PART_SUFFIX = re.compile(r"\.part-\d{5}-of-\d{5}\.jsonl")


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the processes of one launch."""

    rank: int = 0
    world_size: int = 1
    barrier: Callable[[], None] = lambda: None
    broadcast: Callable[[Any], Any] = lambda value: value  # the main process's value, in every process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def current_process_group() -> ProcessGroup:
    """The launch this process belongs to: read from accelerate's environment (WORLD_SIZE > 1),
    else a single process. accelerate (torch.distributed underneath; gloo on CPU, NCCL on GPU)
    provides the barrier."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessGroup()
    import torch
    from accelerate import PartialState

    # cpu=True selects gloo when no GPU is visible (tests, CPU clusters); NCCL otherwise.
    state = PartialState(cpu=not torch.cuda.is_available())
    return ProcessGroup(
        rank=state.process_index,
        world_size=state.num_processes,
        barrier=state.wait_for_everyone,
        broadcast=_broadcast,
    )


def _broadcast(value: Any) -> Any:
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def shard(items: list[InputItem], rank: int, world_size: int) -> list[InputItem]:
    """Round-robin share of whole input files for one process (balanced, deterministic)."""
    return items[rank::world_size]


def part_path(out: str | Path, rank: int, world_size: int) -> Path:
    out = Path(out)
    return out.with_name(f"{out.name}.part-{rank:05d}-of-{world_size:05d}.jsonl")


def existing_parts(out: str | Path) -> list[Path]:
    """The part files of `out` left by launches of any process count, by exact name (never a glob)."""
    out = Path(out)
    try:
        names = os.listdir(out.parent if str(out.parent) else ".")
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = out.name
    return sorted(out.with_name(n) for n in names if n.startswith(prefix) and PART_SUFFIX.fullmatch(n[len(prefix):]))


def merge_parts(out: str | Path, items: list[InputItem], schema: dict[str, pl.DataType], previous: pl.DataFrame | None) -> int:
    """Write `out` from `previous` rows + every part file, ordered as one process would write them.

    Rows are ordered by their input's position in `items` (stable, so frames keep their order);
    a row key seen twice keeps its first copy. Returns the number of rows written.
    """
    frames = [previous] if previous is not None and len(previous) else []
    parts = existing_parts(out)
    for part in parts:
        if part.stat().st_size:
            with part.open("rb") as fh:  # a file handle: polars would expand a path string as a glob
                frames.append(pl.read_ndjson(fh, schema=schema))
    table = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)
    order = {item.source: index for index, item in enumerate(items)}
    table = (
        table.with_columns(
            pl.col("source").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("__item"),
            pl.col("frame").fill_null(-1).alias("__frame"),
        )
        .unique(subset=["source", "__frame"], keep="first", maintain_order=True)
        .sort("__item", maintain_order=True)
        .drop("__item", "__frame")
    )
    write_table(table, out)  # atomic: a crash before the parts are removed only repeats keys, dropped next time
    for part in parts:
        part.unlink()
    return len(table)
