"""The shape every batch command shares (classify, annotate): one row per image or sampled frame.

A command supplies its columns, its row settings, a `prepare` (model inputs for one image, run in
the decode workers) and a `handle` (rows for a batch of prepared samples). It claims its output
first (llava_cli.batch.ownership: lock, proof that the file is its own, before the model loads); then
`run_job` does the rest the same way for all of them: resume (skip rows written, redo error rows),
sidecar written at the start and the end, progress bar, error rows in input order, one process or
many under `accelerate launch`, and a result whose exit code says whether the output holds error rows.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .. import __version__
from ..config import OutputConfig
from .distributed import ProcessGroup, current_process_group, merge_parts, part_path, shard
from ..errors import EXIT_OK, EXIT_PARTIAL
from ..model.float8 import FLOAT8
from ..media.inputs import InputItem
from ..media.video import FramePlan
from ..output import RowWriter, finish_parquet, partial_path, read_rows, read_typed, sidecar_path, write_sidecar
from .ownership import OutputClaim, ResumePlan
from .pipeline import RunStats, Sample, estimate_rows, iter_samples, progress_bar, run_batches

# The columns that identify a row, first in every batch command's output.
KEY_COLUMNS: dict[str, pl.DataType] = {"source": pl.String, "frame": pl.Int64, "timestamp_s": pl.Float64}

# Settings that change rows but live in config fields not every version has (the image fit and
# the system prompt): part of the row settings whenever the config carries them.
OPTIONAL_ROW_SETTINGS = ("image_fit", "system", "fast_decode")


@dataclass
class BatchRun:
    """The outcome of a batch command: where rows went and what happened."""

    out: Path
    sidecar: Path
    stats: RunStats
    errors_in_output: int = 0  # error rows in the whole file, this run's and earlier ones'

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.errors_in_output or self.stats.errors else EXIT_OK

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


def normalized_model(name: str | None) -> str | None:
    """A model or adapter as compared between runs: a local folder as its resolved path (`dir/`,
    `./dir` and `/abs/dir` are one checkpoint), a hub id as given without a trailing slash."""
    if not name:
        return name
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name.rstrip("/")


def row_settings(command: str, cfg, **settings: Any) -> dict[str, Any]:
    """Every setting that changes the rows of a batch command, keyed by the flag that sets it.

    An output is resumed only by a run whose row settings equal the ones in its sidecar. `cfg`
    has `model: ModelConfig` and `inputs: InputConfig`; `settings` are the command's own (prompt,
    labels, ...). Device, dtype, batch size, workers and --compile are left out: they do not change
    what a row says beyond rounding, and a run may well be resumed on another machine. The float8
    dtype is the exception: it moves probabilities measurably, so it is a row setting when used.
    """
    plan = frame_plan(cfg)
    out: dict[str, Any] = {
        "command": command,
        "--model": normalized_model(cfg.model.model),
        "--adapter": normalized_model(cfg.model.adapter),
        "--revision": cfg.model.revision,
        "--fps": plan.fps,
        "--every": plan.every,
        "--max-frames": plan.max_frames,
        **settings,
    }
    for name in OPTIONAL_ROW_SETTINGS:
        for owner in (cfg, cfg.model):
            if hasattr(owner, name):
                out["--" + name.replace("_", "-")] = getattr(owner, name)
    if cfg.model.dtype == FLOAT8:
        out["--dtype"] = FLOAT8
    return out


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
    dedup: float | None, model_on_cpu: bool,
) -> RunStats:
    total = estimate_rows(items, plan)
    with progress_bar(total, not show_progress) as bar:
        bar.update(min(len(skip), total))
        # Two batches decoded ahead keep a GPU fed (decoding is ~10x cheaper than scoring) and
        # bound memory by the batch size, whatever the number of inputs. A CPU model shares its
        # cores with decoding, so there each batch is decoded on all cores between model batches.
        samples = iter_samples(
            items, plan, skip=skip, prepare=prepare, workers=workers, lookahead=max(8, 2 * batch_size),
            min_side=min_side, dedup=dedup, between_batches=batch_size if model_on_cpu else None,
        )
        return run_batches(samples, batch_size, handle, error_row, writer, bar)


def _finish(out: str | Path, info: dict[str, Any], stats: RunStats, errors_in_output: int, **extra: Any) -> Path:
    info.update(status="finished", finished=now(), rows_written=stats.written, error_rows=stats.errors,
                error_rows_in_output=errors_in_output, rows_resumed=stats.resumed,
                rows_deduplicated=stats.duplicates, seconds=round(stats.seconds, 3), **extra)
    return write_sidecar(out, info)


def run_job(
    *,
    claim: OutputClaim,
    items: list[InputItem],
    plan: FramePlan,
    output: OutputConfig,
    info: dict[str, Any],
    prepare: Callable,
    handle: Callable[[list[Sample]], list[dict]],
    batch_size: int,
    workers: int | None,
    min_side: int | None = None,
    dedup: float | None = None,
    model_on_cpu: bool = False,
) -> BatchRun:
    """Run `handle` over every input not already in the claimed output; write rows, sidecar, progress.

    Rows already there for these inputs are skipped; their error rows are removed first and
    the inputs tried again. Under `accelerate launch` with several processes, each takes a
    round-robin share of the inputs into its own part file and the main process merges them
    (llava_cli.batch.distributed); every process's result then counts the whole merged output.

    Raises OutputError when the output cannot be written; unreadable inputs become error rows
    instead (see BatchRun.exit_code).
    """
    group = current_process_group()
    info = dict(info, started=now(), status="running", row_settings=claim.settings)
    if claim.segments is not None:
        info["segments"] = os.path.realpath(claim.segments)
    run = dict(plan=plan, prepare=prepare, handle=handle, batch_size=batch_size, workers=workers, min_side=min_side,
               dedup=dedup, model_on_cpu=model_on_cpu)
    if not group.distributed:
        return _run_one(claim, items, info, not output.quiet, run)
    return _run_launch(claim, items, info, not output.quiet, group, run)


def _run_one(claim: OutputClaim, items: list[InputItem], info: dict[str, Any], show_progress: bool, run: dict) -> BatchRun:
    resume = None if claim.overwrite else claim.resume_plan(items, include_parts=False)
    claim.prepare(resume)
    resume = resume or ResumePlan()
    # The sidecar comes before the first row: a data file never exists without its proof.
    write_sidecar(claim.out, dict(info, cwd=claim.base))
    with RowWriter(claim.rows_path, claim.schema, done_keys=resume.skip) as writer:
        stats = _run_into(writer, items, resume.skip, show_progress=show_progress, **run)
    if claim.format == "parquet":
        in_output = int(finish_parquet(claim.out, claim.schema, resume.retry)["error"].is_not_null().sum())
    else:
        in_output = resume.kept_errors + stats.errors
    sidecar = _finish(claim.out, dict(info, cwd=claim.base), stats, in_output)
    return BatchRun(out=claim.out, sidecar=sidecar, stats=stats, errors_in_output=in_output)


def _run_launch(
    claim: OutputClaim, items: list[InputItem], info: dict[str, Any], show_progress: bool, group: ProcessGroup, run: dict
) -> BatchRun:
    out, schema = claim.out, claim.schema
    previous: pl.DataFrame | None = None
    skip: set | None = None
    if group.is_main:
        resume = None if claim.overwrite else claim.resume_plan(items, include_parts=True)
        claim.prepare(resume)
        resume = resume or ResumePlan()
        previous = _previous_rows(claim, resume)
        skip = resume.skip
        write_sidecar(out, dict(info, cwd=claim.base, processes=group.world_size))
    skip = group.broadcast(skip)
    with RowWriter(part_path(out, group.rank, group.world_size), schema, done_keys=skip) as writer:
        mine = shard(items, group.rank, group.world_size)
        stats = _run_into(writer, mine, skip, show_progress=group.is_main and show_progress, **run)
    group.barrier()
    in_output = None
    if group.is_main:
        merged_rows = merge_parts(out, items, schema, previous)
        partial_path(out).unlink(missing_ok=True)  # a single-process Parquet run's rows, now merged
        # The main process reports for the whole launch: rows added by every process, all errors.
        stats.written = merged_rows - (len(previous) if previous is not None else 0)
        in_output = int(read_typed(out, schema)["error"].is_not_null().sum())
        stats.errors = in_output
        _finish(out, dict(info, cwd=claim.base), stats, in_output, processes=group.world_size, rows_in_output=merged_rows)
    in_output = group.broadcast(in_output)
    return BatchRun(out=out, sidecar=sidecar_path(out), stats=stats, errors_in_output=in_output)


def _previous_rows(claim: OutputClaim, resume: ResumePlan) -> pl.DataFrame | None:
    """The rows of the output (and of a Parquet output's partial file) that a launch keeps: all but
    the error rows it redoes."""
    frames = [
        read_typed(scan.path, claim.schema, None if scan.path == claim.out else "jsonl")
        for scan in claim.scans
        if scan.path in (claim.out, partial_path(claim.out)) and scan.rows
    ]
    if not frames:
        return None
    table = pl.concat(frames)
    if resume.retry:
        keys = list(zip(table["source"].to_list(), table["frame"].fill_null(-1).to_list()))
        table = table.filter(pl.Series([key not in resume.retry for key in keys], dtype=pl.Boolean))
    return table
