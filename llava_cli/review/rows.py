"""The rows of a classify output as the review sees them, and the page's sort and filter controls.

`load_output` reads any classify output (CSV, JSONL, Parquet) leniently: every cell as text first,
so labels like `1` stay text; labels come from `<output>.run.json`, else the `p_<label>` columns,
else the labels seen. `filter_rows` is what the page's controls select.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..columns import SEPARATOR, UNSURE, prob_column, split_labels
from ..errors import UsageError
from ..output import Key, read_classify_output, row_key

SORTS = ("confidence", "-confidence", "file")
STATUSES = ("all", "unreviewed", "reviewed", "changed", "unsure")


@dataclass(frozen=True)
class Row:
    """One row of the classify output. `id` is its position in the file (error rows included)."""

    id: int
    source: str
    frame: int | None
    timestamp_s: float | None
    predicted: str  # the model's label ('' when the model gave none: multi-label below threshold)
    confidence: float | None
    probs: dict[str, float]
    error: str | None = None

    @property
    def key(self) -> Key:
        return row_key(self.source, self.frame)

    @property
    def is_video_frame(self) -> bool:
        return self.frame is not None



@dataclass
class Query:
    """Which rows to list and in what order (the page's sort and filter controls)."""

    sort: str = "confidence"  # confidence (lowest first) | -confidence | file (output order)
    label: str | None = None  # predicted label (a multi-label row matches any of its labels)
    status: str = "all"  # all | unreviewed | reviewed | changed | unsure
    min_confidence: float | None = None
    max_confidence: float | None = None
    source: str | None = None  # only this source (one video's frames)

    def validate(self, labels: list[str]) -> None:
        problems = []
        if self.sort not in SORTS:
            problems.append(f"sort {self.sort!r}: expected one of {', '.join(SORTS)}")
        if self.status not in STATUSES:
            problems.append(f"status {self.status!r}: expected one of {', '.join(STATUSES)}")
        if self.label is not None and self.label not in labels and self.label not in (UNSURE, ""):
            problems.append(f"label {self.label!r} is not one of {', '.join(labels)}")
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None and not (0.0 <= value <= 1.0):
                problems.append(f"{name} {value}: expected a number from 0 to 1")
        if problems:
            raise UsageError(problems)



# -- reading the classify output -----------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _frame(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def load_output(path: str | Path) -> tuple[list[Row], list[str], bool]:
    """The rows of a classify output, its labels (label order) and whether it is multi-label.

    Labels come from `<output>.run.json` when present, else from the `p_<label>` columns, else from
    the labels seen. Raises OutputError when the file is unreadable or not a classify output.
    """
    path = Path(path)
    if path.name.endswith(".review.csv"):
        raise UsageError(f"{path} is a review file; review the classify output it was made from")
    read = read_classify_output(path)
    df, labels, info = read.rows, read.labels, read.sidecar
    records = df.to_dicts()
    rows: list[Row] = []
    for i, rec in enumerate(records):
        probs = {lab: p for lab in labels if (p := _number(rec.get(prob_column(lab)))) is not None}
        rows.append(
            Row(
                id=i,
                source=str(rec["source"]).strip() if rec["source"] is not None else "",
                frame=_frame(rec.get("frame")),
                timestamp_s=_number(rec.get("timestamp_s")),
                predicted=(_text(rec.get("label")) or ""),
                confidence=_number(rec.get("confidence")),
                probs=probs,
                error=_text(rec.get("error")),
            )
        )
    seen_multi = any(SEPARATOR in r.predicted for r in rows if not r.error)
    multi = info["multi_label"] if isinstance(info.get("multi_label"), bool) else seen_multi
    if not labels:
        seen: dict[str, None] = {}
        for r in rows:
            if not r.error:
                for part in r.predicted.split(SEPARATOR) if multi else [r.predicted]:
                    if part.strip() and part.strip() != UNSURE:
                        seen[part.strip()] = None
        labels = list(seen)
    return rows, labels, bool(multi)




def index_by_key(rows: list[Row]) -> tuple[dict[Key, Row], int]:
    """The rows by (source, frame), and how many keys were listed twice (the first row is reviewed)."""
    by_key: dict[Key, Row] = {}
    duplicates = 0
    for r in rows:
        if r.key in by_key:
            duplicates += 1
        else:
            by_key[r.key] = r
    return by_key, duplicates


def predicted_labels(row: Row, multi_label: bool) -> set[str]:
    if multi_label:
        return set(split_labels(row.predicted))
    return {row.predicted} if row.predicted else set()


def _status_matches(status: str, d) -> bool:
    """Whether a row whose decision is `d` (None: not reviewed) passes the status filter."""
    if status == "unreviewed":
        return d is None
    if status == "reviewed":
        return d is not None
    if status == "changed":
        return d is not None and d.changed
    if status == "unsure":
        return d is not None and d.unsure
    return True


def _matches(row: Row, query: Query, decisions: dict, multi_label: bool) -> bool:
    if query.source is not None and row.source != query.source:
        return False
    if query.label is not None:
        if query.label == "" and row.predicted != "":
            return False
        if query.label and query.label not in predicted_labels(row, multi_label):
            return False
    if not _status_matches(query.status, decisions.get(row.key)):
        return False
    conf = row.confidence
    if query.min_confidence is not None and (conf is None or conf < query.min_confidence - 1e-12):
        return False
    if query.max_confidence is not None and (conf is None or conf > query.max_confidence + 1e-12):
        return False
    return True


def filter_rows(rows: list[Row], query: Query, decisions: dict, multi_label: bool) -> list[Row]:
    """The rows `query` selects, sorted (ties in output order); `decisions` by key."""
    out = [row for row in rows if _matches(row, query, decisions, multi_label)]
    if query.sort == "confidence":
        out.sort(key=lambda r: (-1.0 if r.confidence is None else r.confidence, r.id))
    elif query.sort == "-confidence":
        out.sort(key=lambda r: (-(-1.0 if r.confidence is None else r.confidence), r.id))
    return out
