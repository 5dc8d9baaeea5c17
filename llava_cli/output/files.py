"""Whole result files by format (CSV, JSON Lines, Parquet): paths, CSV escaping, reading, atomic
writing, and the `<out>.run.json` sidecar. See llava_cli.output for the rules they keep."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError

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


def read_rows(path: str | Path, flag: str = "", *, text: bool = False) -> pl.DataFrame:
    """Read a result file written by any command (by extension). Raises OutputError if unreadable.

    CSV text cells are unescaped (see the module docstring). With `text`, every CSV column stays
    text, so labels such as "1" or "01" come back as written. `flag` names the option the path
    came from, for messages.
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
                return unescape_strings(pl.read_csv(fh, infer_schema_length=0 if text else 10000))
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
