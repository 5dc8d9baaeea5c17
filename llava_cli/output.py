"""Result files: append rows as they are produced, read them back, and check an existing file row by row.

Rows are appended and flushed after every batch, so a run killed at any moment leaves a file whose
only damage is a half-written last record (cut off by the next run of the same command). Parquet
cannot be appended to, so its rows collect in `<out>.partial.jsonl` and become the Parquet file
when the run finishes.

Files are always opened as files, never handed to polars as path strings: polars expands `?`, `*`
and `[...]` in a path string as a glob, so `--out 'a?.csv'` would read `ab.csv`.

CSV cells are made safe to open in a spreadsheet: a text cell starting with `=`, `+`, `-`, `@`, a
tab, a carriage return or `'` gets one `'` in front (OWASP's advice against formula injection).
Every reader here (`read_rows`, resume, eval, finetune, `--from-list`) removes that one quote again,
so values come back exactly as they were. Number columns are never escaped (-0.5 stays a number).

Which file a run may write to is decided in llava_cli.ownership; this module does the file work.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .errors import OutputError

Key = tuple[str, int]  # (source, frame); frame -1 for a still image

CSV_ESCAPE = "'"
# Cells starting with these run as formulas in Excel, LibreOffice and Google Sheets; `'` is escaped
# too, so that removing one leading quote on reading is always exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", CSV_ESCAPE)
_FORMULA_PATTERN = r"^[=+\-@\t\r']"


def row_key(source: str, frame: int | None) -> Key:
    return (source, -1 if frame is None else int(frame))


def sidecar_path(out: str | Path) -> Path:
    return Path(f"{out}.run.json")


def partial_path(out: str | Path) -> Path:
    """Where a Parquet output's rows collect until the run finishes."""
    out = Path(out)
    return out.with_name(out.name + ".partial.jsonl")


def output_format(path: str | Path) -> str:
    """`csv`, `jsonl` or `parquet`, from the extension."""
    return Path(path).suffix.lower().lstrip(".")


# -- CSV escaping ------------------------------------------------------------------------------
def escape_cell(text: str) -> str:
    """A text cell as written to CSV: one `'` in front when a spreadsheet would run it as a formula."""
    return CSV_ESCAPE + text if text.startswith(FORMULA_STARTS) else text


def unescape_cell(text: str) -> str:
    """The value of a CSV text cell written by `escape_cell`."""
    return text[1:] if text.startswith(CSV_ESCAPE) else text


def escape_strings(df: pl.DataFrame) -> pl.DataFrame:
    """`escape_cell` on every text column (numbers are never formulas)."""
    return df.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_PATTERN)).then(pl.lit(CSV_ESCAPE) + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name, dtype in df.schema.items()
        if dtype == pl.String
    )


def unescape_strings(df: pl.DataFrame) -> pl.DataFrame:
    """`unescape_cell` on every text column of a table read from CSV."""
    return df.with_columns(
        pl.when(pl.col(name).str.starts_with(CSV_ESCAPE)).then(pl.col(name).str.slice(1)).otherwise(pl.col(name)).alias(name)
        for name, dtype in df.schema.items()
        if dtype == pl.String
    )


# -- whole files ---------------------------------------------------------------------------------
def require_regular_file(path: Path, flag: str = "") -> None:
    """Raise OutputError unless `path` is a regular file: a FIFO or device would block or never end."""
    where = f"{flag} {path}" if flag else str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise OutputError(f"{where}: file not found") from exc
    except OSError as exc:
        raise OutputError(f"{where}: cannot read ({exc.strerror})") from exc
    if stat.S_ISDIR(mode):
        raise OutputError(f"{where} is a folder; name a file")
    if not stat.S_ISREG(mode):
        raise OutputError(f"{where} is not a regular file (a FIFO, socket or device); name a file")


def read_rows(path: str | Path, flag: str = "") -> pl.DataFrame:
    """Read a result file written by any command (by extension). Raises OutputError if unreadable.

    CSV text cells are unescaped (see the module docstring). `flag` names the option the path came
    from, for messages.
    """
    path = Path(path)
    where = f"{flag} {path}" if flag else str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".parquet"):
        raise OutputError(f"{where}: unknown extension {suffix!r}; expected .csv, .jsonl or .parquet")
    require_regular_file(path, flag)
    try:
        with path.open("rb") as fh:
            if suffix == ".csv":
                return unescape_strings(pl.read_csv(fh, infer_schema_length=10000))
            if suffix == ".jsonl":
                return pl.read_ndjson(fh)
            return pl.read_parquet(fh)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise OutputError(f"{where}: cannot read ({str(exc).splitlines()[0]})") from exc


def read_typed(path: Path, schema: dict[str, pl.DataType], fmt: str | None = None) -> pl.DataFrame:
    """The rows of an output already checked by `scan_output`, typed by `schema` (CSV unescaped)."""
    fmt = fmt or output_format(path)
    with path.open("rb") as fh:
        if fmt == "csv":
            return unescape_strings(pl.read_csv(fh, schema_overrides=schema, infer_schema_length=0))
        if fmt == "jsonl":
            return pl.read_ndjson(fh, schema=schema)
        return pl.read_parquet(fh).cast(schema)  # type: ignore[arg-type]


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)` on a uniquely named file beside `path`, then move it over `path`.

    Readers see the old file or the new one, never half of one; two writers never share a
    temporary name; a crash leaves at most a stray `.tmp` file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pl.DataFrame, path: str | Path) -> None:
    """Write a whole table by extension (.csv escaped, .jsonl, .parquet), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {
        ".csv": lambda tmp: escape_strings(df).write_csv(tmp),
        ".jsonl": lambda tmp: df.write_ndjson(tmp),
        ".parquet": lambda tmp: df.write_parquet(tmp),
    }
    if suffix not in writers:
        raise OutputError(f"{path}: unknown extension {suffix!r}; expected .csv, .jsonl or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, writers[suffix])


def write_sidecar(out: str | Path, info: dict[str, Any]) -> Path:
    """Write `<out>.run.json` atomically: what made this output (model, prompt, labels, versions...)."""
    path = sidecar_path(out)
    text = json.dumps(info, indent=2, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def read_sidecar(out: str | Path) -> dict[str, Any] | None:
    """The sidecar of `out` as a dict; None when it is missing, not a file, or not a JSON object."""
    path = sidecar_path(out)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -- checking an existing output row by row --------------------------------------------------------
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
    dtypes = list(schema.values())
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
            if record != names:
                raise OutputError(
                    f"{path} has other columns than this run writes ({', '.join(record[:6])}...); "
                    "pass --overwrite to replace it, or choose another --out"
                )
            scan.header_end = scan.complete = end
            continue
        if len(record) != len(names):
            raise _malformed(path, line, f"has {len(record)} fields where this output has {len(names)}")
        for name, dtype, value in zip(names, dtypes, record):
            problem = _check_value(dtype, value, text=True)
            if problem:
                raise _malformed(path, line, f"column {name}: {problem}")
        if not record[key_at]:
            raise _malformed(path, line, "has an empty source")
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


# -- appending ---------------------------------------------------------------------------------------
class RowWriter:
    """Append rows of a fixed schema to a CSV or JSON Lines file that `llava_cli.ownership` has
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
