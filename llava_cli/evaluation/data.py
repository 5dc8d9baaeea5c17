"""Read a classify output and its ground truth, and join them row by row.

Truth comes from one of three places:

- a table (CSV, JSONL or Parquet) with a `source` (or `image` / `path`) column, an optional
  `frame` column and a label column (`label`, or the one --truth-label-column names);
- a folder per class, `truth_dir/<label>/<image or video files>` (nested folders allowed);
- a column of the predictions file itself (--truth-column).

Rows join on (source, frame). A truth row without a frame (an empty `frame`, or any file in a
folder-per-class layout) labels every row of that source: a still image, or every frame of a
video. A truth row with a frame labels only that frame and wins over a frame-less one.

Sources are matched in this order, because classify writes paths as the user typed them:
1. the same path once normalised (`./a/b.jpg` == `a/b.jpg`);
2. the same file: both resolved to absolute paths (relative ones against the current folder);
3. the tail: a truth path that is relative (for a folder-per-class truth: the path inside the
   truth folder, e.g. `dog/001.jpg`) matches a source whose last path parts are the same
   (`/data/eval/dog/001.jpg`); the longest such tail wins.

Multi-label labels (in predictions and truth) are joined with `;`. In a truth table, a listed
source with an empty label means "no labels" for a multi-label run and "no truth" for a
single-label one; an empty cell of a --truth-column always means "no truth".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..columns import SEPARATOR
from ..errors import LlavaCliError, OutputError
from ..media.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from ..output import read_classify_output, read_rows, require_regular_file, unescape_strings
from .matching import match_sources

SOURCE_COLUMNS = ("source", "image", "path")
SAMPLE = 5  # how many example sources a count shows


@dataclass
class Predictions:
    """A classify output, typed: `rows` has source, frame, label, error plus the p_ columns."""

    path: str
    rows: pl.DataFrame
    labels: list[str]
    prob_columns: list[str]  # p_<label>, in label order; empty when the file has none
    multi_label: bool
    mode_from: str  # why multi_label is what it is: "--multi-label", "run.json", "inferred"
    labels_from: str  # "run.json", "p_ columns" or "labels seen"


@dataclass
class Truth:
    """Ground truth keyed by source (as written in the truth) and optional frame."""

    where: str
    rows: pl.DataFrame  # tsource (str), frame (Int64, null = whole source), truth (str)
    relative_tails: bool = True  # relative truth paths may match the tail of a source
    base: Path | None = None  # folder that relative truth paths resolve against (None: cwd)
    duplicates: int = 0


@dataclass
class Joined:
    """Predictions with their truth, plus what did not join."""

    rows: pl.DataFrame  # non-error prediction rows that have a truth: adds column `truth`
    prediction_rows: int
    error_rows: int
    duplicate_predictions: int
    duplicate_truth: int
    predictions_without_truth: int
    truth_without_predictions: int
    samples: dict[str, list[str]] = field(default_factory=dict)


def _first(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in columns), None)


def split_labels(text: str | None) -> set[str]:
    """`a;b` -> {'a', 'b'}; empty or None -> set()."""
    if text is None:
        return set()
    return {part.strip() for part in str(text).split(SEPARATOR) if part.strip()}


def load_predictions(path: str | Path, multi_label: bool | None = None) -> Predictions:
    """Read a classify output and work out its labels and mode.

    Uses `<path>.run.json` for the label order and multi-label flag when present; otherwise the
    p_ columns give the labels and a `;` in any label makes it multi-label. Raises OutputError
    if the file is unreadable or lacks `source` / `label`.
    """
    read = read_classify_output(path)
    df, labels, p_cols, labels_from, sidecar = read.rows, read.labels, read.p_columns, read.labels_from, read.sidecar

    frame = pl.col("frame").cast(pl.Int64, strict=False) if "frame" in df.columns else pl.lit(None, pl.Int64)
    error = pl.col("error").cast(pl.Utf8) if "error" in df.columns else pl.lit(None, pl.Utf8)
    rows = df.select(
        pl.col("source").cast(pl.Utf8),
        frame.alias("frame"),
        pl.col("label").cast(pl.Utf8).str.strip_chars(),
        error.alias("error"),
        *[pl.col(c).cast(pl.Float64, strict=False) for c in p_cols],
    ).with_columns(
        # a CSV writes an empty error as an empty field; either way, no text means no error
        (pl.col("error").is_not_null() & (pl.col("error").str.strip_chars() != "")).alias("is_error")
    )

    if multi_label is not None:
        mode_from = "--multi-label" if multi_label else "--single-label"
    elif isinstance(sidecar.get("multi_label"), bool):
        multi_label, mode_from = sidecar["multi_label"], "run.json"
    else:
        ok = rows.filter(~pl.col("is_error"))
        multi_label = bool(ok["label"].str.contains(SEPARATOR, literal=True).any())
        mode_from = "inferred"
    return Predictions(str(path), rows, labels, p_cols, bool(multi_label), mode_from, labels_from)


def _truth_frame(source: pl.Series, frame: pl.Series | None, label: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "tsource": source.cast(pl.Utf8).str.strip_chars(),
            "frame": frame.cast(pl.Utf8).str.strip_chars().replace("", None).cast(pl.Int64, strict=False)
            if frame is not None
            else pl.Series([None] * len(source), dtype=pl.Int64),
            # a listed source with an empty label stays: for a multi-label run it means "no labels"
            "truth": label.cast(pl.Utf8).str.strip_chars().fill_null(""),
        }
    )


def load_truth_table(path: str | Path, label_column: str = "label") -> Truth:
    """Read a truth table. Raises OutputError if unreadable or without the needed columns."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        require_regular_file(path, "--truth")
        # every column as text: labels like "1" or frames with blanks must not change type; read
        # from a handle (a path string would be expanded as a glob), cells unescaped like classify's
        try:
            with path.open("rb") as fh:
                df = unescape_strings(pl.read_csv(fh, infer_schema_length=0))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise OutputError(f"--truth {path}: cannot read ({str(exc).splitlines()[0]})") from exc
    else:
        df = read_rows(path, "--truth")
    src = _first(df.columns, SOURCE_COLUMNS)
    problems = []
    if src is None:
        problems.append("a 'source' (or 'image' / 'path') column")
    if label_column not in df.columns:
        problems.append(f"a {label_column!r} column (name another with --truth-label-column)")
    if problems:
        raise OutputError(
            f"--truth {path} needs {' and '.join(problems)}; its columns are: {', '.join(df.columns) or '(none)'}"
        )
    rows = _truth_frame(df[src], df["frame"] if "frame" in df.columns else None, df[label_column])
    rows = rows.filter(pl.col("tsource").is_not_null() & (pl.col("tsource") != ""))
    return Truth(str(path), rows)


def load_truth_folder(folder: str | Path) -> Truth:
    """Truth from `folder/<label>/<files>`: every image or video under a label folder.

    Raises LlavaCliError when the folder has no label folders with media in them.
    """
    folder = Path(folder)
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    sources, labels = [], []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(label_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in wanted and not f.name.startswith("."):
                sources.append(f.relative_to(folder).as_posix())
                labels.append(label_dir.name)
    if not sources:
        raise LlavaCliError(
            f"--truth {folder}: no images or videos in label folders; expected {folder}/<label>/<files>"
        )
    rows = _truth_frame(pl.Series(sources), None, pl.Series(labels))
    return Truth(str(folder), rows, base=folder)


def _dedupe(df: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, int]:
    kept = df.unique(subset=keys, keep="first", maintain_order=True)
    return kept, df.height - kept.height


def join(preds: Predictions, truth: Truth) -> Joined:
    """Attach truth to predictions; count what joined and what did not (never dropped silently)."""
    rows, dup_pred = _dedupe(preds.rows, ["source", "frame"])
    tr, dup_truth = _dedupe(truth.rows, ["tsource", "frame"])
    mapping = match_sources(rows["source"].unique().to_list(), truth)
    rows = rows.with_columns(
        pl.col("source").replace_strict(mapping, default=None, return_dtype=pl.Utf8).alias("tsource")
    )
    framed = tr.filter(pl.col("frame").is_not_null()).rename({"truth": "truth_f"})
    whole = tr.filter(pl.col("frame").is_null()).select("tsource", pl.col("truth").alias("truth_w"))
    rows = (
        rows.join(framed, on=["tsource", "frame"], how="left")
        .join(whole, on="tsource", how="left")
        .with_columns(pl.coalesce("truth_f", "truth_w").alias("truth"))
        .drop("truth_f", "truth_w")
    )
    ok = rows.filter(~pl.col("is_error"))
    no_truth = ok.filter(pl.col("truth").is_null())
    lost_framed = framed.join(rows, on=["tsource", "frame"], how="anti")
    lost_whole = whole.join(rows.filter(pl.col("tsource").is_not_null()), on="tsource", how="anti")
    lost = lost_framed["tsource"].to_list() + lost_whole["tsource"].to_list()
    return Joined(
        rows=ok.filter(pl.col("truth").is_not_null()),
        prediction_rows=rows.height,
        error_rows=int(rows["is_error"].sum()),
        duplicate_predictions=dup_pred,
        duplicate_truth=dup_truth,
        predictions_without_truth=no_truth.height,
        truth_without_predictions=len(lost),
        samples={
            "predictions_without_truth": no_truth["source"].unique(maintain_order=True).head(SAMPLE).to_list(),
            "truth_without_predictions": list(dict.fromkeys(lost))[:SAMPLE],
            "error_rows": rows.filter(pl.col("is_error"))["source"].unique(maintain_order=True).head(SAMPLE).to_list(),
        },
    )


def join_column(preds: Predictions, column: str) -> Joined:
    """Truth from a column of the predictions file. Raises OutputError if it is not there."""
    df = read_rows(preds.path)
    if column not in df.columns:
        raise OutputError(
            f"--truth-column {column!r} is not in {preds.path}; its columns are: {', '.join(df.columns)}"
        )
    truth = df[column].cast(pl.Utf8).str.strip_chars().replace("", None)
    rows = preds.rows.with_columns(truth.alias("truth"))
    rows, dup = _dedupe(rows, ["source", "frame"])
    ok = rows.filter(~pl.col("is_error"))
    no_truth = ok.filter(pl.col("truth").is_null())
    return Joined(
        rows=ok.filter(pl.col("truth").is_not_null()),
        prediction_rows=rows.height,
        error_rows=int(rows["is_error"].sum()),
        duplicate_predictions=dup,
        duplicate_truth=0,
        predictions_without_truth=no_truth.height,
        truth_without_predictions=0,
        samples={
            "predictions_without_truth": no_truth["source"].unique(maintain_order=True).head(SAMPLE).to_list(),
            "truth_without_predictions": [],
            "error_rows": rows.filter(pl.col("is_error"))["source"].unique(maintain_order=True).head(SAMPLE).to_list(),
        },
    )
