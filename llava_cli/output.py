"""Write result rows as they are produced, resumably, as CSV, JSON Lines or Parquet.

Rows are appended and flushed after every batch, so a run killed at any moment leaves a valid file
(a half-written last line is cut off on the next start). Rerunning the same command reads the keys
already written (source, frame) and skips them. Parquet cannot be appended to, so its rows collect
in `<out>.partial.jsonl` and become the Parquet file when the run finishes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from .errors import OutputError

Key = tuple[str, int]  # (source, frame); frame -1 for a still image


def row_key(source: str, frame: int | None) -> Key:
    return (source, -1 if frame is None else int(frame))


def sidecar_path(out: str | Path) -> Path:
    return Path(f"{out}.run.json")


def _cut_partial_line(path: Path) -> None:
    """Drop a trailing line without newline: the write that a kill interrupted."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        data_start = max(0, size - (1 << 20))
        fh.seek(data_start)
        tail = fh.read()
        cut = tail.rfind(b"\n")
        fh.truncate(data_start + cut + 1 if cut >= 0 else 0)


def keys_of(df: pl.DataFrame) -> set[Key]:
    """The (source, frame) keys of result rows."""
    return set(zip(df["source"].to_list(), df["frame"].fill_null(-1).cast(pl.Int64).to_list()))


def load_rows(path: str | Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Read rows an earlier run wrote to `path` (by extension; .partial.jsonl too), typed by `schema`.

    A half-written last line (a killed run) is cut off first. Raises OutputError when the file has
    other columns (a run with other labels) or cannot be parsed, naming the flag that fixes it.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt != "parquet":
        _cut_partial_line(path)
    if path.stat().st_size == 0:
        return pl.DataFrame(schema=schema)
    mismatch = OutputError(
        f"{path} has other columns than this run writes (other labels?); "
        "pass --overwrite to replace it, or choose another --out"
    )
    try:
        if fmt == "csv":
            header = path.open(encoding="utf-8").readline().strip()
            if [c.strip('"') for c in header.split(",")] != list(schema):
                raise mismatch
            df = pl.read_csv(path, schema_overrides=schema, infer_schema_length=0)
        elif fmt == "jsonl":
            df = pl.read_ndjson(path, schema=schema)
        else:
            df = pl.read_parquet(path)
    except OutputError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise OutputError(f"cannot resume from {path} ({str(exc).splitlines()[0]}); pass --overwrite to start fresh") from exc
    if list(df.columns) != list(schema):
        raise mismatch
    return df


class RowWriter:
    """Append rows of a fixed schema to `out`; `done_keys` lists what a previous run already wrote.

    Raises OutputError when the existing file has other columns (a run with other labels) or
    cannot be read, with the flag that fixes it.
    """

    def __init__(self, out: str | Path, schema: dict[str, pl.DataType], *, overwrite: bool = False):
        self.out = Path(out)
        self.schema = schema
        self.format = self.out.suffix.lower().lstrip(".")
        self.rows_path = self.out.with_name(self.out.name + ".partial.jsonl") if self.format == "parquet" else self.out
        self.done_keys: set[Key] = set()
        self.previous: pl.DataFrame | None = None  # rows of a finished Parquet file being resumed
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--out {self.out}: cannot create its folder ({exc.strerror})") from exc
        if overwrite:
            for path in (self.out, self.rows_path, sidecar_path(self.out)):
                path.unlink(missing_ok=True)
        else:
            self._load_existing()
        try:
            self._fh = open(self.rows_path, "a", encoding="utf-8", newline="")
        except OSError as exc:
            raise OutputError(f"--out {self.out}: cannot write ({exc.strerror})") from exc
        self._needs_header = self.format == "csv" and self.rows_path.stat().st_size == 0

    # -- resume ------------------------------------------------------------------------------
    def _load_existing(self) -> None:
        if self.format == "parquet" and self.out.exists():
            self.previous = load_rows(self.out, self.schema)
            self.done_keys.update(keys_of(self.previous))
        if self.rows_path.exists():
            self.done_keys.update(keys_of(load_rows(self.rows_path, self.schema)))

    # -- writing -----------------------------------------------------------------------------
    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append rows and flush them to disk."""
        if not rows:
            return
        df = pl.DataFrame([{k: r.get(k) for k in self.schema} for r in rows], schema=self.schema)
        if self.format == "csv":
            df.write_csv(self._fh, include_header=self._needs_header)
            self._needs_header = False
        else:
            df.write_ndjson(self._fh)
        self._fh.flush()
        for r in rows:
            self.done_keys.add(row_key(r["source"], r.get("frame")))

    def close(self) -> None:
        """Finish the file (Parquet: convert the collected rows). Safe to call twice."""
        if self._fh.closed:
            return
        self._fh.close()
        if self.format == "parquet":
            parts = [self.previous] if self.previous is not None else []
            if self.rows_path.exists() and self.rows_path.stat().st_size:
                parts.append(pl.read_ndjson(self.rows_path, schema=self.schema))
            table = pl.concat(parts) if parts else pl.DataFrame(schema=self.schema)
            tmp = self.out.with_name(self.out.name + ".tmp")
            table.write_parquet(tmp)
            os.replace(tmp, self.out)
            self.rows_path.unlink(missing_ok=True)

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_rows(path: str | Path) -> pl.DataFrame:
    """Read a result file written by any command (by extension). Raises OutputError if unreadable."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=10000)
        if suffix == ".jsonl":
            return pl.read_ndjson(path)
        if suffix == ".parquet":
            return pl.read_parquet(path)
    except FileNotFoundError as exc:
        raise OutputError(f"{path}: file not found") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise OutputError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from exc
    raise OutputError(f"{path}: unknown extension {suffix!r}; expected .csv, .jsonl or .parquet")


def write_table(df: pl.DataFrame, path: str | Path) -> None:
    """Write a whole table by extension (.csv, .jsonl, .parquet)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.write_csv(path)
    elif suffix == ".jsonl":
        df.write_ndjson(path)
    elif suffix == ".parquet":
        df.write_parquet(path)
    else:
        raise OutputError(f"{path}: unknown extension {suffix!r}; expected .csv, .jsonl or .parquet")


def write_sidecar(out: str | Path, info: dict[str, Any]) -> Path:
    """Write `<out>.run.json` atomically: what made this output (model, prompt, labels, versions...)."""
    path = sidecar_path(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_sidecar(out: str | Path) -> dict[str, Any] | None:
    path = sidecar_path(out)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
