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

Which file a run may write to is decided in llava_cli.batch.ownership; this package does the file work:
`files` (whole files by format, sidecar), `scan` (checking an existing output), `append` (rows as
they come, finishing Parquet), `lock` (one run at a time per output), `classify_file` (a classify
output read back, for eval and review).
"""

from .append import RowWriter, finish_parquet
from .classify_file import ClassifyFile, read_classify_output
from .files import (
    CSV_ESCAPE,
    FORMULA_STARTS,
    Key,
    atomic_write,
    escape_cell,
    escape_strings,
    output_format,
    partial_path,
    read_rows,
    read_sidecar,
    read_typed,
    require_regular_file,
    row_key,
    sidecar_path,
    unescape_cell,
    unescape_strings,
    write_sidecar,
    write_table,
)
from .scan import Scan, StoredRow, rewrite_without, scan_csv, scan_jsonl, scan_output, scan_parquet

__all__ = [
    "CSV_ESCAPE", "ClassifyFile", "FORMULA_STARTS", "Key", "RowWriter", "read_classify_output", "Scan", "StoredRow", "atomic_write", "escape_cell",
    "escape_strings", "finish_parquet", "output_format", "partial_path", "read_rows", "read_sidecar", "read_typed",
    "require_regular_file", "rewrite_without", "row_key", "scan_csv", "scan_jsonl", "scan_output", "scan_parquet",
    "sidecar_path", "unescape_cell", "unescape_strings", "write_sidecar", "write_table",
]  # fmt: skip
