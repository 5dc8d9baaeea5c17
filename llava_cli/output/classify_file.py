"""A classify output read back for people and tools (eval, review): its rows, its labels and where
they came from. Both readers need the same answer, so it is worked out once here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..columns import is_prob_column, label_of, prob_column
from ..errors import OutputError
from .files import read_rows, read_sidecar


@dataclass
class ClassifyFile:
    rows: pl.DataFrame  # as written; CSV cells as text, unescaped
    labels: list[str]  # in the run's order; [] when neither the sidecar nor p_ columns say
    p_columns: list[str]  # the p_<label> columns present, in label order
    labels_from: str  # "run.json" | "p_ columns" | "labels seen"
    sidecar: dict[str, Any] = field(default_factory=dict)


def read_classify_output(path: str | Path) -> ClassifyFile:
    """Read a classify output (CSV, JSONL or Parquet). Labels come from `<path>.run.json` when it
    names them, else from the `p_<label>` columns. Raises OutputError if the file is unreadable
    or lacks `source` / `label`."""
    df = read_rows(path, text=True)
    missing = [c for c in ("source", "label") if c not in df.columns]
    if missing:
        raise OutputError(
            f"{path} is not a classify output: no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(df.columns[:12])})"
        )
    end = df.columns.index("error") if "error" in df.columns else len(df.columns)
    p_columns = [c for c in df.columns[:end] if is_prob_column(c)]
    sidecar = read_sidecar(path) or {}
    if isinstance(sidecar.get("labels"), list) and sidecar["labels"]:
        labels = [str(x) for x in sidecar["labels"]]
        wanted = [prob_column(label) for label in labels]
        return ClassifyFile(df, labels, wanted if all(c in df.columns for c in wanted) else [], "run.json", sidecar)
    if p_columns:
        return ClassifyFile(df, [label_of(c) for c in p_columns], p_columns, "p_ columns", sidecar)
    return ClassifyFile(df, [], [], "labels seen", sidecar)
