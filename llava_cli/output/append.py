"""Appending rows to a claimed output as they are produced, and finishing a Parquet output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError
from .files import Key, escape_strings, output_format, partial_path, row_key, write_table


class RowWriter:
    """Append rows of a fixed schema to a CSV or JSON Lines file that `llava_cli.batch.ownership` has
    claimed for this run (and cut back to its last complete row). `done_keys` starts as the keys
    this run skips and grows with every row written.
    """

    def __init__(self, path: str | Path, schema: dict[str, pl.DataType], *, done_keys: set[Key] | None = None):
        self.path = Path(path)
        self.schema = schema
        self.format = "csv" if output_format(self.path) == "csv" else "jsonl"
        self.done_keys: set[Key] = set(done_keys or ())
        try:
            self._fh = open(self.path, "a", encoding="utf-8", newline="")
        except OSError as exc:
            raise OutputError(f"--out {self.path}: cannot write ({exc.strerror})") from exc
        self._needs_header = self.format == "csv" and os.fstat(self._fh.fileno()).st_size == 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append rows and flush them to disk."""
        if not rows:
            return
        df = pl.DataFrame([{k: r.get(k) for k in self.schema} for r in rows], schema=self.schema)
        if self.format == "csv":
            escape_strings(df).write_csv(self._fh, include_header=self._needs_header)
            self._needs_header = False
        else:
            df.write_ndjson(self._fh)
        self._fh.flush()
        for r in rows:
            self.done_keys.add(row_key(r["source"], r.get("frame")))

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        self._fh.close()

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def finish_parquet(out: Path, schema: dict[str, pl.DataType], drop: set[Key]) -> pl.DataFrame:
    """Make `out` (Parquet) from its previous rows, less the keys in `drop` (error rows retried by
    this run), plus the rows collected in `<out>.partial.jsonl`; then remove the partial file.

    A key found in both keeps the partial file's row: after a crash between replacing `out` and
    removing the partial file, the next finish writes each row once. Returns the table written.
    """
    parts = []
    if out.is_file():
        with out.open("rb") as fh:
            previous = pl.read_parquet(fh).cast(schema)  # type: ignore[arg-type]
        parts.append(previous.filter(~_key_in(previous, drop)) if drop else previous)
    partial = partial_path(out)
    if partial.is_file() and partial.stat().st_size:
        with partial.open("rb") as fh:
            parts.append(pl.read_ndjson(fh, schema=schema))
    table = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    table = (
        table.with_columns(pl.col("frame").fill_null(-1).alias("__frame"))
        .unique(subset=["source", "__frame"], keep="last", maintain_order=True)
        .drop("__frame")
    )
    write_table(table, out)
    partial.unlink(missing_ok=True)
    return table


def _key_in(df: pl.DataFrame, keys: set[Key]) -> pl.Series:
    frames = df["frame"].fill_null(-1).to_list()
    return pl.Series([(s, f) in keys for s, f in zip(df["source"].to_list(), frames)], dtype=pl.Boolean)
