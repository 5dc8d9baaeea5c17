"""Which file a batch run may write to, decided before a byte is changed.

The rule: a run writes only to a file it can prove is its own, or to one that does not exist.
Proof is the sidecar `<out>.run.json` naming the same command and exactly the same row settings
(every setting that changes what rows say: model, adapter, prompt, labels, calibration, frame
sampling...; see `llava_cli.batch.jobs.row_settings`) plus a header and rows that this run would write,
checked row by row. Anything else is refused with one line naming `--overwrite` or another `--out`.
An empty file counts as not existing: there is nothing in it to lose.

One run at a time: the claim holds an exclusive OS lock on `<out>.lock` from before the model
loads until the run ends; a second run on the same output stops at once, saying so. Under
`accelerate launch` the main process claims for the whole launch and tells the others.

Resuming: rows already in the file (matched by the resolved path of their source, so `a.jpg` and
`/abs/a.jpg` are one input) are skipped; error rows of this run's inputs are removed and those
inputs tried again, so the file's error rows always say what failed last time.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..config import OutputConfig
from .distributed import current_process_group, existing_parts
from ..errors import LlavaCliError, OutputError
from ..media.inputs import InputItem
from ..output import Key, Scan, output_format, partial_path, rewrite_without, scan_output, sidecar_path
from ..output.lock import OutputLock, lock_path

__all__ = ["OutputClaim", "OutputLock", "ResumePlan", "claim_output", "lock_path"]

@dataclass
class ResumePlan:
    """What a run does with the rows already in its output, for its inputs."""

    skip: set[Key] = field(default_factory=set)  # keys of rows to keep, in the spelling of this run's inputs
    retry: set[Key] = field(default_factory=set)  # error rows to drop and redo, in the spelling stored
    drop: dict[Path, set[int]] = field(default_factory=dict)  # per CSV / JSON Lines file: row indices to remove
    kept_rows: int = 0
    kept_errors: int = 0  # error rows of inputs that are not in this run: they stay


@dataclass
class OutputClaim:
    """The right to write `out` (and its partial, part and segments files) for this run.

    Use as a context manager around the model load and the run: leaving it releases the lock.
    """

    out: Path
    schema: dict[str, pl.DataType]
    settings: dict[str, Any]
    overwrite: bool = False
    scans: list[Scan] = field(default_factory=list)  # the existing data files, checked row by row
    base: str = field(default_factory=os.getcwd)  # folder stored relative sources are relative to
    segments: Path | None = None
    lock: OutputLock | None = None

    @property
    def format(self) -> str:
        return output_format(self.out)

    @property
    def rows_path(self) -> Path:
        """The file rows are appended to: the output, or a Parquet output's partial file."""
        return partial_path(self.out) if self.format == "parquet" else self.out

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "OutputClaim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # -- resuming ------------------------------------------------------------------------------------
    def resume_plan(self, items: list[InputItem], *, include_parts: bool) -> ResumePlan:
        """Which stored rows this run keeps, skips and redoes. Raises OutputError when stored
        relative paths were written from another folder than this run's relative inputs use."""
        plan = ResumePlan()
        by_path = {os.path.realpath(item.source): item.source for item in items}
        # Relative sources are relative to the folder their run started in; mixing two such
        # folders in one file would make its paths ambiguous.
        moved = os.path.realpath(self.base) != os.path.realpath(os.getcwd())
        relative_now = moved and any(not os.path.isabs(item.source) for item in items)
        resolved: dict[str, str | None] = {}  # stored source -> this run's spelling (frames share one)
        for scan in self.scans:
            if not include_parts and scan.path not in (self.out, partial_path(self.out)):
                continue
            drop = plan.drop.setdefault(scan.path, set()) if scan.format != "parquet" else set()
            for index, row in enumerate(scan.rows):
                if row.source not in resolved:
                    if relative_now and not os.path.isabs(row.source):
                        raise OutputError(
                            f"{self.out} holds paths relative to {self.base}; run from that folder "
                            "(or give absolute paths), or pass --overwrite, or choose another --out"
                        )
                    resolved[row.source] = by_path.get(os.path.realpath(os.path.join(self.base, row.source)))
                mine = resolved[row.source]
                if mine is None:
                    plan.kept_rows += 1
                    plan.kept_errors += row.error
                elif row.error:
                    plan.retry.add((row.source, row.frame))
                    drop.add(index)
                else:
                    plan.kept_rows += 1
                    plan.skip.add((mine, row.frame))
        return plan

    def prepare(self, plan: ResumePlan | None) -> None:
        """Make the files ready to append to: with --overwrite remove them; else cut off a killed
        write's tail and remove the error rows to redo (each file replaced atomically)."""
        if self.overwrite:
            for path in [self.out, partial_path(self.out), *existing_parts(self.out), sidecar_path(self.out)]:
                path.unlink(missing_ok=True)  # the sidecar last: until then it still covers the rest
            return
        for scan in self.scans:
            if scan.format != "parquet" and (plan is None or scan.path in plan.drop):
                rewrite_without(scan, plan.drop.get(scan.path, set()) if plan else set())


def claim_output(
    output: OutputConfig,
    schema: dict[str, pl.DataType],
    settings: dict[str, Any],
    *,
    protected: dict[str, str | None] | None = None,
    segments: str | None = None,
) -> OutputClaim:
    """Lock `output.out` and prove this run may write it (see the module docstring).

    `settings` are the run's row settings; `protected` maps flags to files the run reads (e.g.
    --from-list) and so must never write; `segments` is classify's --segments file. Raises
    OutputError (refused, in use, unwritable) before any file is changed. Under `accelerate
    launch` every process calls this; the main one checks and holds the lock.
    """
    group = current_process_group()
    if not group.distributed:
        return _claim(output, schema, settings, protected or {}, segments)
    refusal: str | None = None
    claim = None
    if group.is_main:
        try:
            claim = _claim(output, schema, settings, protected or {}, segments)
        except LlavaCliError as exc:
            refusal = str(exc)
    refusal = group.broadcast(refusal)  # every process stops, not only the main one
    if refusal is not None:
        raise OutputError(refusal)
    return claim or OutputClaim(Path(output.out), schema, settings, overwrite=output.overwrite,
                                segments=Path(segments) if segments else None)


def _claim(output: OutputConfig, schema, settings, protected: dict[str, str | None], segments: str | None) -> OutputClaim:
    out = Path(output.out)
    _check_target("--out", out)
    for flag, path in protected.items():
        for what, target in (("--out", out), ("--segments", Path(segments) if segments else None)):
            if path and target and _same_file(target, Path(path)):
                raise OutputError(f"{what} {target} is the {flag} file this run reads; choose another {what}")
    if segments:
        _check_target("--segments", Path(segments))
        if _same_file(Path(segments), out):
            raise OutputError(f"--segments {segments} is the --out file; choose another --segments")
    lock = OutputLock(out).acquire()
    try:
        claim = OutputClaim(out, schema, settings, overwrite=output.overwrite, lock=lock,
                            segments=Path(segments) if segments else None)
        if not output.overwrite:
            _prove_own(claim)
        return claim
    except BaseException:
        lock.release()
        raise


def _check_target(flag: str, path: Path) -> None:
    """A file a run may create or replace: not a folder or FIFO, in a folder that can be written."""
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; name a file in it, e.g. {flag} {path / ('labels' + (path.suffix or '.csv'))}")
    if os.path.lexists(path) and path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise OutputError(f"{flag} {path} is not a regular file (a FIFO, socket or device); choose another {flag}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {path}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"{flag} {path}: not writable; check the permissions, or choose another {flag}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def _has_rows(path: Path) -> bool:
    """True when `path` exists and is not empty (an empty file has nothing to lose)."""
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _prove_own(claim: OutputClaim) -> None:
    """Raise OutputError unless every existing file of the output is provably this run's."""
    out = claim.out
    files = [p for p in [out, partial_path(out), *existing_parts(out)] if _has_rows(p)]
    if claim.format != "parquet" and partial_path(out) in files:
        files.remove(partial_path(out))  # only Parquet outputs have a partial file; this is someone else's
    sidecar, problem = _load_sidecar(out)
    fix = "pass --overwrite to replace it, or choose another --out"
    if problem:
        raise OutputError(f"{out}: {problem}; {fix}")
    if sidecar is not None and files:
        changed = _changed_settings(sidecar, claim.settings)
        if changed:
            raise OutputError(f"{out} was made with another {', '.join(changed)}; {fix}")
    if files and sidecar is None:
        raise OutputError(f"{out} exists but has no {sidecar_path(out).name} beside it, so it is not this command's output; {fix}")
    # Stored relative sources are relative to the folder the run that wrote them started in.
    claim.base = str((sidecar or {}).get("cwd") or os.getcwd()) if files else os.getcwd()
    for path in files:
        fmt = "jsonl" if path != out else None
        claim.scans.append(scan_output(path, claim.schema, fmt))
    if claim.segments is not None and _has_rows(claim.segments):
        recorded = (sidecar or {}).get("segments")
        if not (recorded and files and _same_file(Path(recorded), claim.segments)):
            raise OutputError(
                f"--segments {claim.segments} exists and is not this output's segments file; "
                "pass --overwrite to replace it, or choose another --segments"
            )


def _load_sidecar(out: Path) -> tuple[dict | None, str | None]:
    """(the sidecar, None), (None, None) when there is none, or (None, what is wrong with it)."""
    path = sidecar_path(out)
    if not os.path.lexists(path):
        return None, None
    if not path.is_file():
        return None, f"{path.name} is not a regular file"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, f"its {path.name} cannot be read as JSON, so the output cannot be proven to be this command's"
    if not isinstance(data, dict) or "row_settings" not in data:
        return None, f"its {path.name} was not written by this version of llava-cli (no row_settings)"
    return data, None


def _changed_settings(sidecar: dict, settings: dict[str, Any]) -> list[str]:
    """The flags whose value differs between the sidecar's row settings and this run's."""
    stored = sidecar.get("row_settings") or {}
    current = json.loads(json.dumps(settings, default=str))  # as it would be stored
    return [name for name in sorted(set(stored) | set(current)) if stored.get(name) != current.get(name)]
