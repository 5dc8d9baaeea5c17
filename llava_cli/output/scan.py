"""Checking an existing output row by row against the schema a run writes, before a byte of it
changes: which rows it holds, where the last complete one ends, and the first malformed line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError
from .files import atomic_write, output_format, unescape_cell


@dataclass(slots=True)
class StoredRow:
    """One complete row of an existing output: its key, whether it is an error row, its bytes."""

    source: str
    frame: int
    error: bool
    start: int = 0  # byte span of the row in a CSV / JSON Lines file (unused for Parquet)
    end: int = 0


@dataclass
class Scan:
    """What an existing output holds. `complete` is where its last complete row ends: anything after
    it is a write a kill interrupted, cut off before appending."""

    path: Path
    format: str  # csv | jsonl | parquet
    rows: list[StoredRow] = field(default_factory=list)
    header_end: int = 0  # CSV: the header's bytes (0: no complete header yet)
    complete: int = 0
    size: int = 0

    @property
    def has_tail(self) -> bool:
        return self.complete < self.size


def _malformed(path: Path, line: int, problem: str) -> OutputError:
    return OutputError(
        f"{path} line {line}: {problem}, so it is not a file this run wrote; "
        "fix or delete that line, pass --overwrite to replace the file, or choose another --out"
    )


def _check_value(dtype: pl.DataType, value: Any, *, text: bool) -> str | None:
    """None when `value` fits a column of `dtype` (CSV: as text), else what is wrong."""
    if value is None or (text and value == ""):
        return None
    if dtype == pl.String:
        return None if isinstance(value, str) else "text expected"
    if text:
        try:
            (int if dtype == pl.Int64 else float)(value)
        except ValueError:
            return f"{value!r} is not a number"
        return None
    if dtype == pl.Int64:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r} is not a whole number"
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) else f"{value!r} is not a number"


def _lines(data: bytes) -> tuple[list[bytes], list[int]]:
    """The newline-terminated lines of `data` (without their newline) and where each starts."""
    pieces = data.split(b"\n")[:-1]  # the last piece has no newline: the tail, if anything
    starts, offset = [], 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece) + 1
    return pieces, starts


def _check_csv_header(path: Path, record: list[str], names: list[str]) -> None:
    if record != names:
        raise OutputError(
            f"{path} has other columns than this run writes ({', '.join(record[:6])}...); "
            "pass --overwrite to replace it, or choose another --out"
        )


def _check_csv_record(path: Path, line: int, record: list[str], schema: dict[str, pl.DataType]) -> None:
    """Raise OutputError naming `line` unless `record` is a row of `schema` with a source."""
    if len(record) != len(schema):
        raise _malformed(path, line, f"has {len(record)} fields where this output has {len(schema)}")
    for (name, dtype), value in zip(schema.items(), record):
        problem = _check_value(dtype, value, text=True)
        if problem:
            raise _malformed(path, line, f"column {name}: {problem}")
    if not record[list(schema).index("source")]:
        raise _malformed(path, line, "has an empty source")


def scan_csv(path: Path, schema: dict[str, pl.DataType], data: bytes) -> Scan:
    """Check a CSV output record by record (quoted newlines allowed) against `schema`.

    Raises OutputError naming the line of the first malformed record, or when the header has
    other columns. A record cut short at the end of the file (a killed write) is not an error.
    """
    scan = Scan(path, "csv", size=len(data))
    pieces, starts = _lines(data)
    consumed = 0

    def feed() -> Iterator[str]:
        nonlocal consumed
        for piece in pieces:
            consumed += 1
            yield piece.decode("utf-8") + "\n"

    names = list(schema)
    key_at, frame_at, error_at = names.index("source"), names.index("frame"), names.index("error")
    reader = csv.reader(feed(), strict=True)
    first = 0  # index of the line the next record starts on
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise _malformed(path, consumed, "is not UTF-8 text") from None
        except csv.Error as exc:
            if consumed == len(pieces) and "unexpected end of data" in str(exc):
                break  # a quoted field still open at the end of the file: a killed write
            raise _malformed(path, first + 1, f"is not valid CSV ({exc})") from None
        line, start, end = first + 1, starts[first], starts[consumed - 1] + len(pieces[consumed - 1]) + 1
        first = consumed
        if line == 1:
            _check_csv_header(path, record, names)
            scan.header_end = scan.complete = end
            continue
        _check_csv_record(path, line, record, schema)
        frame = int(record[frame_at]) if record[frame_at] else -1
        scan.rows.append(StoredRow(unescape_cell(record[key_at]), frame, bool(record[error_at]), start, end))
        scan.complete = end
    return scan


def scan_jsonl(path: Path, schema: dict[str, pl.DataType], data: bytes) -> Scan:
    """Check a JSON Lines output line by line against `schema` (same rules as `scan_csv`)."""
    scan = Scan(path, "jsonl", size=len(data))
    pieces, starts = _lines(data)
    for index, (piece, start) in enumerate(zip(pieces, starts)):
        line = index + 1
        try:
            row = json.loads(piece)
        except ValueError:
            raise _malformed(path, line, "is not a JSON object") from None
        if not isinstance(row, dict):
            raise _malformed(path, line, "is not a JSON object")
        if set(row) != set(schema):
            raise OutputError(
                f"{path} line {line} has other columns than this run writes; "
                "pass --overwrite to replace it, or choose another --out"
            )
        for name, dtype in schema.items():
            problem = _check_value(dtype, row[name], text=False)
            if problem:
                raise _malformed(path, line, f"column {name}: {problem}")
        if not row["source"]:
            raise _malformed(path, line, "has an empty source")
        frame = -1 if row["frame"] is None else int(row["frame"])
        scan.rows.append(StoredRow(row["source"], frame, row["error"] is not None, start, start + len(piece) + 1))
        scan.complete = start + len(piece) + 1
    return scan


def scan_parquet(path: Path, schema: dict[str, pl.DataType], data: bytes) -> Scan:
    """Check a Parquet output: exactly the columns of `schema`, of castable types."""
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise OutputError(
            f"{path} is not a Parquet file this run can read ({str(exc).splitlines()[0]}); "
            "pass --overwrite to replace it, or choose another --out"
        ) from exc
    if df.columns != list(schema):
        raise OutputError(
            f"{path} has other columns than this run writes; pass --overwrite to replace it, or choose another --out"
        )
    try:
        df = df.cast(schema)  # type: ignore[arg-type]
    except pl.exceptions.PolarsError as exc:
        raise OutputError(f"{path}: a column has another type than this run writes ({exc}); pass --overwrite or choose another --out") from exc
    frames = df["frame"].fill_null(-1).to_list()
    errors = df["error"].is_not_null().to_list()
    scan = Scan(path, "parquet", size=len(data), complete=len(data))
    scan.rows = [StoredRow(s, int(f), e) for s, f, e in zip(df["source"].to_list(), frames, errors)]
    return scan


def scan_output(path: Path, schema: dict[str, pl.DataType], fmt: str | None = None) -> Scan:
    """Check an existing output (csv, jsonl or parquet by extension, or `fmt`) against `schema`.

    Raises OutputError naming the first line that is not a row of this schema.
    """
    fmt = fmt or output_format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror})") from exc
    return {"csv": scan_csv, "jsonl": scan_jsonl, "parquet": scan_parquet}[fmt](path, schema, data)


def rewrite_without(scan: Scan, drop: set[int]) -> None:
    """Rewrite a CSV / JSON Lines output keeping its bytes, less the rows at indices `drop` and any
    cut-off tail; atomically. Does nothing when there is nothing to remove."""
    if not drop and not scan.has_tail:
        return
    data = scan.path.read_bytes()[: scan.complete]
    if not drop:
        with scan.path.open("rb+") as fh:  # only a tail to cut: no need to copy the file
            fh.truncate(scan.complete)
        return
    kept = [data[: scan.header_end]] + [data[r.start : r.end] for i, r in enumerate(scan.rows) if i not in drop]
    atomic_write(scan.path, lambda tmp: tmp.write_bytes(b"".join(kept)))
