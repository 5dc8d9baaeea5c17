"""The shape every batch command shares (classify, annotate): one row per image or sampled frame.

A command supplies its columns, a `prepare` (model inputs for one image, run in the decode
workers) and a `handle` (rows for a batch of prepared samples); `run_job` does the rest the same
way for all of them: resumable RowWriter, sidecar written at the start and the end, progress bar,
error rows in input order, one process or many under `accelerate launch`, and a result whose exit
code says whether some inputs failed.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__
from .config import OutputConfig
from .errors import EXIT_OK, EXIT_PARTIAL, OutputError
from .inputs import InputItem
from .media import FramePlan
from .distributed import current_process_group, existing_parts, merge_parts, part_path, shard
from .output import RowWriter, keys_of, load_rows, read_rows, read_sidecar, sidecar_path, write_sidecar
from .pipeline import RunStats, Sample, estimate_rows, iter_samples, progress_bar, run_batches

# The columns that identify a row, first in every batch command's output.
KEY_COLUMNS: dict[str, pl.DataType] = {"source": pl.String, "frame": pl.Int64, "timestamp_s": pl.Float64}


@dataclass
class BatchRun:
    """The outcome of a batch command: where rows went and what happened."""

    out: Path
    sidecar: Path
    stats: RunStats

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.stats.errors else EXIT_OK

    def rows(self) -> pl.DataFrame:
        """The whole output file. Raises OutputError if it cannot be read."""
        return read_rows(self.out)


def frame_plan(cfg) -> FramePlan:
    """How videos are sampled, from a config with an `inputs: InputConfig` (fps 1 by default)."""
    if cfg.inputs.every:
        return FramePlan(fps=None, every=cfg.inputs.every, max_frames=cfg.inputs.max_frames)
    return FramePlan(fps=cfg.inputs.fps or 1.0, every=None, max_frames=cfg.inputs.max_frames)


def sample_key(sample: Sample) -> dict[str, Any]:
    """The key columns of a sample's row."""
    return {"source": sample.source, "frame": sample.frame, "timestamp_s": sample.timestamp_s}


def error_row(sample: Sample) -> dict[str, Any]:
    """The row written for an input that could not be read or processed."""
    return {**sample_key(sample), "error": sample.error}


def check_resumable(cfg, prompt: str, labels: list[str]) -> None:
    """Refuse to append to `cfg.output.out` when its sidecar records another model, adapter, prompt
    or label set than `cfg` (a config with `model: ModelConfig` and `output: OutputConfig`).

    Raises OutputError naming what changed, unless --overwrite or there is nothing to resume.
    """
    output: OutputConfig = cfg.output
    current = {"model": cfg.model.model, "adapter": cfg.model.adapter, "prompt": prompt, "labels": labels}
    previous = read_sidecar(output.out)
    if output.overwrite or previous is None or not Path(output.out).exists():
        return
    changed = [k for k, v in current.items() if previous.get(k) != v]
    if changed:
        raise OutputError(
            f"{output.out} was made with another {', '.join(changed)}; "
            "pass --overwrite to replace it, or choose another --out"
        )


def run_info(command: str, cfg, loaded=None, **fields: Any) -> dict[str, Any]:
    """The sidecar's common part: command, argv, versions, model; `fields` go after model/adapter."""
    import torch
    import transformers

    info: dict[str, Any] = {
        "command": command,
        "argv": sys.argv,
        "llava_cli_version": __version__,
        "model": cfg.model.model,
        "adapter": cfg.model.adapter,
        **fields,
        "config": asdict(cfg),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "polars": pl.__version__,
        },
    }
    if loaded is not None:
        info.update(loaded.describe())
    return info


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _run_into(
    writer: RowWriter, items: list[InputItem], skip: set, plan: FramePlan, prepare: Callable,
    handle: Callable, batch_size: int, workers: int | None, show_progress: bool, min_side: int | None,
    dedup: float | None,
) -> RunStats:
    total = estimate_rows(items, plan)
    with progress_bar(total, not show_progress) as bar:
        bar.update(min(len(skip), total))
        # Two batches decoded ahead keep the model fed (decoding is ~10x cheaper than scoring)
        # and bound memory by the batch size, whatever the number of inputs.
        samples = iter_samples(
            items, plan, skip=skip, prepare=prepare, workers=workers, lookahead=max(8, 2 * batch_size),
            min_side=min_side, dedup=dedup,
        )
        return run_batches(samples, batch_size, handle, error_row, writer, bar)


def _finish(out: str | Path, info: dict[str, Any], stats: RunStats, **extra: Any) -> Path:
    info.update(status="finished", finished=now(), rows_written=stats.written, error_rows=stats.errors,
                rows_resumed=stats.resumed, rows_deduplicated=stats.duplicates, seconds=round(stats.seconds, 3), **extra)
    return write_sidecar(out, info)


def run_job(
    *,
    items: list[InputItem],
    plan: FramePlan,
    output: OutputConfig,
    schema: dict[str, pl.DataType],
    info: dict[str, Any],
    prepare: Callable,
    handle: Callable[[list[Sample]], list[dict]],
    batch_size: int,
    workers: int | None,
    min_side: int | None = None,
    dedup: float | None = None,
) -> BatchRun:
    """Run `handle` over every input not already in `output.out`; write rows, sidecar and progress.

    Under `accelerate launch` with several processes, each takes a round-robin share of the inputs
    into its own part file and the main process merges them (llava_cli.distributed); the main
    process's result then counts the error rows of the whole merged output.

    Raises OutputError when the output cannot be written or resumed; unreadable inputs become
    error rows instead (see BatchRun.exit_code).
    """
    group = current_process_group()
    info = dict(info, started=now(), status="running")
    run = dict(plan=plan, prepare=prepare, handle=handle, batch_size=batch_size, workers=workers, min_side=min_side,
               dedup=dedup)
    if not group.distributed:
        with RowWriter(output.out, schema, overwrite=output.overwrite) as writer:
            write_sidecar(output.out, info)
            stats = _run_into(writer, items, writer.done_keys, show_progress=not output.quiet, **run)
        return BatchRun(out=Path(output.out), sidecar=_finish(output.out, info, stats), stats=stats)

    out = Path(output.out)
    if group.is_main and output.overwrite:
        for stale in [out, sidecar_path(out), *existing_parts(out)]:
            stale.unlink(missing_ok=True)
    group.barrier()
    previous = load_rows(out, schema) if out.exists() else None
    done = keys_of(previous) if previous is not None else set()
    # Parts of an earlier launch with another process count: nobody writes them now.
    for part in existing_parts(out):
        if not part.name.endswith(f"-of-{group.world_size:05d}.jsonl"):
            done |= keys_of(load_rows(part, schema))
    if group.is_main:
        write_sidecar(out, dict(info, processes=group.world_size))
    with RowWriter(part_path(out, group.rank, group.world_size), schema) as writer:
        mine = shard(items, group.rank, group.world_size)
        stats = _run_into(writer, mine, done | writer.done_keys, show_progress=group.is_main and not output.quiet, **run)
    group.barrier()
    if group.is_main:
        merged_rows = merge_parts(out, items, schema, previous)
        # The main process reports for the whole launch: rows added by every process, all errors.
        stats.written = merged_rows - (len(previous) if previous is not None else 0)
        stats.errors = int(load_rows(out, schema)["error"].is_not_null().sum())
        _finish(out, info, stats, processes=group.world_size, rows_in_output=merged_rows)
    group.barrier()
    return BatchRun(out=out, sidecar=sidecar_path(out), stats=stats)
