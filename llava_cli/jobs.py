"""Run a batch job (classify, annotate) into a resumable output, in one process or many.

A job is data: the inputs, the output schema, how to prepare a sample and how to turn a batch into
rows. `run_job` drives the shared pipeline, writes rows and the sidecar, and under
`accelerate launch` splits the inputs across processes (see llava_cli.distributed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .distributed import current_process_group, existing_parts, merge_parts, part_path, shard
from .inputs import InputItem
from .media import FramePlan
from .output import RowWriter, keys_of, load_rows, sidecar_path, write_sidecar
from .pipeline import RunStats, Sample, estimate_rows, iter_samples, progress_bar, run_batches


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class BatchJob:
    """Everything `run_job` needs; `info` is the sidecar written beside the output."""

    out: str
    items: list[InputItem]
    plan: FramePlan
    schema: dict[str, pl.DataType]
    prepare: Callable[[Any], Any]
    handle: Callable[[list[Sample]], list[dict]]
    batch_size: int
    info: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    quiet: bool = False
    workers: int | None = None
    min_side: int | None = None

    def error_row(self, sample: Sample) -> dict:
        return {"source": sample.source, "frame": sample.frame, "timestamp_s": sample.timestamp_s, "error": sample.error}


def _run_into(job: BatchJob, writer: RowWriter, items: list[InputItem], skip: set, show_progress: bool) -> RunStats:
    total = estimate_rows(items, job.plan)
    with progress_bar(total, job.quiet or not show_progress) as bar:
        bar.update(min(len(skip), total))
        samples = iter_samples(
            items,
            job.plan,
            skip=skip,
            prepare=job.prepare,
            workers=job.workers,
            lookahead=max(8, 4 * job.batch_size),
            min_side=job.min_side,
        )
        return run_batches(samples, job.batch_size, job.handle, job.error_row, writer, bar)


def _finish_info(job: BatchJob, stats: RunStats, **extra) -> Path:
    job.info.update(
        status="finished",
        finished=now(),
        rows_written=stats.written,
        error_rows=stats.errors,
        rows_resumed=stats.resumed,
        seconds=round(stats.seconds, 3),
        **extra,
    )
    return write_sidecar(job.out, job.info)


def run_job(job: BatchJob) -> RunStats:
    """Process every input of `job` into `job.out`; returns what this process did.

    Raises OutputError when the output cannot be written or resumed. Under a multi-process launch
    the returned stats of the main process count the error rows of the merged output.
    """
    group = current_process_group()
    job.info.update(started=now(), status="running")
    if not group.distributed:
        with RowWriter(job.out, job.schema, overwrite=job.overwrite) as writer:
            write_sidecar(job.out, job.info)
            stats = _run_into(job, writer, job.items, writer.done_keys, show_progress=True)
        _finish_info(job, stats)
        return stats

    out = Path(job.out)
    if group.is_main and job.overwrite:
        for stale in [out, sidecar_path(out), *existing_parts(out)]:
            stale.unlink(missing_ok=True)
    group.barrier()
    previous = load_rows(out, job.schema) if out.exists() else None
    mine = part_path(out, group.rank, group.world_size)
    # Parts of an earlier launch with another process count: nobody writes them now.
    other_launch = [p for p in existing_parts(out) if not p.name.endswith(f"-of-{group.world_size:05d}.jsonl")]
    done = keys_of(previous) if previous is not None else set()
    for part in other_launch:
        done |= keys_of(load_rows(part, job.schema))
    if group.is_main:
        write_sidecar(out, {**job.info, "processes": group.world_size})
    with RowWriter(mine, job.schema) as writer:
        skip = done | writer.done_keys
        stats = _run_into(job, writer, shard(job.items, group.rank, group.world_size), skip, show_progress=group.is_main)
    group.barrier()
    if group.is_main:
        merged_rows = merge_parts(out, job.items, job.schema, previous)
        merged = load_rows(out, job.schema)
        stats.errors = int(merged["error"].is_not_null().sum())
        _finish_info(job, stats, processes=group.world_size, rows_in_output=merged_rows)
    group.barrier()
    return stats
