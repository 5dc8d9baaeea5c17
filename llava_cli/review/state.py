"""The review of a classify output: `ReviewSession` ties its rows, its decisions and what they add up to.

Each concern has its module: `rows` (reading the output, the page's sort and filter controls),
`log` (the decision log and the review CSV beside the output, locking), `summary` (the header
counts and the video timelines). This module holds the session, the operations the page and the
Python API call, and the names of the files a review keeps beside the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from ..columns import SEPARATOR, UNSURE, split_labels
from ..errors import UsageError
from ..output import Key, row_key
from .log import REVIEW_COLUMNS, Decision, ReviewLog, now, read_review_csv
from .rows import SORTS, STATUSES, Query, Row, filter_rows, index_by_key, load_output, predicted_labels
from .summary import Segment, Summary, Timeline, current_label, summarize, timelines

__all__ = [
    "REVIEW_COLUMNS", "SORTS", "STATUSES", "UNSURE", "Decision", "Query", "ReviewSession", "Row", "Segment",
    "Summary", "Timeline", "load_output", "log_path_for", "read_review_csv", "review_path_for", "thumbs_path_for",
]  # fmt: skip


def review_path_for(output: str | Path) -> Path:
    """`plays.csv` -> `plays.review.csv` (the output's name with `.review.csv` for its extension)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.review.csv")


def log_path_for(review: str | Path) -> Path:
    """`plays.review.csv` -> `plays.review.log`."""
    review = Path(review)
    return review.with_suffix(".log")


def thumbs_path_for(review: str | Path) -> Path:
    """`plays.review.csv` -> `plays.review.thumbs/` (cached thumbnails)."""
    review = Path(review)
    return review.with_suffix(".thumbs")



class ReviewSession:
    """Review one classify output; every method reads the current state from the review log.

    >>> s = ReviewSession("plays.csv")
    >>> rows = s.list_rows(Query(status="unreviewed"))      # lowest confidence first
    >>> s.decide(rows[0].id, "passing"); s.accept(rows[1].id); s.mark_unsure(rows[2].id)
    >>> s.undo(); s.summary().line()

    Raises OutputError (unreadable files), UsageError (bad labels or row ids) from its methods.
    """

    def __init__(self, output: str | Path, review: str | Path | None = None):
        self.output = Path(output)
        self.rows_all, self.labels, self.multi_label = load_output(self.output)
        self.review_path = Path(review) if review else review_path_for(self.output)
        self.log_path = log_path_for(self.review_path)
        self.thumbs_path = thumbs_path_for(self.review_path)
        self.rows = [r for r in self.rows_all if not r.error]
        self.errors = [r for r in self.rows_all if r.error]
        self._by_id = {r.id: r for r in self.rows}
        self._by_key, self.duplicates = index_by_key(self.rows)
        self.log = ReviewLog(self.log_path, self.review_path, {key: row.id for key, row in self._by_key.items()})
        self.log.reconcile()

    # -- state ------------------------------------------------------------------------------------
    def decisions(self) -> dict[Key, Decision]:
        """The current decision per (source, frame)."""
        return self.log.state().decisions

    @property
    def version(self) -> int:
        """How many records the log holds: it grows with every decision and undo."""
        return len(self.log.state().records)

    # -- rows ------------------------------------------------------------------------------------
    def row(self, row_id: int) -> Row:
        """The reviewable row with this id. Raises UsageError for an unknown id or an error row."""
        try:
            return self._by_id[int(row_id)]
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"no reviewable row {row_id!r}") from None

    def media_row(self, row_id: int) -> Row | None:
        """Any row (error rows included) by id, for its picture; None if there is no such row."""
        return self.rows_all[row_id] if 0 <= row_id < len(self.rows_all) else None

    def predicted_labels(self, row: Row) -> set[str]:
        return predicted_labels(row, self.multi_label)

    def list_rows(self, query: Query | None = None) -> list[Row]:
        """The rows to show, filtered and sorted (ties in output order). Error rows are not listed."""
        query = query or Query()
        query.validate(self.labels)
        return filter_rows(self.rows, query, self.decisions(), self.multi_label)

    def item(self, row: Row, decisions: dict[Key, Decision] | None = None) -> dict[str, Any]:
        """A row with its decision, as the page shows it (JSON-ready)."""
        decisions = self.decisions() if decisions is None else decisions
        d = decisions.get(row.key)
        return {
            "id": row.id,
            "source": row.source,
            "name": Path(row.source).name,
            "frame": row.frame,
            "timestamp_s": row.timestamp_s,
            "predicted": row.predicted,
            "confidence": row.confidence,
            "probs": [row.probs.get(lab) for lab in self.labels],
            "review": None if d is None else {
                "label": d.label, "changed": d.changed, "unsure": d.unsure, "reviewed_at": d.reviewed_at
            },
        }

    # -- decisions --------------------------------------------------------------------------------
    def normalize_label(self, label: str | Iterable[str]) -> str:
        """The label text a decision writes. Single-label: one of the labels or 'unsure'.
        Multi-label: a set of labels (a list, or ';'-joined text; may be empty) in label order, or
        'unsure'. Raises UsageError for anything else."""
        if isinstance(label, str) and label.strip() == UNSURE:
            return UNSURE
        if self.multi_label:
            parts = split_labels(label) if isinstance(label, str) else [p.strip() for p in label if p.strip()]
            unknown = [p for p in parts if p not in self.labels]
            if unknown:
                raise UsageError(f"unknown label {unknown[0]!r}; the labels are {', '.join(self.labels)}")
            return SEPARATOR.join(lab for lab in self.labels if lab in parts)
        if not isinstance(label, str) or label.strip() not in self.labels:
            raise UsageError(f"unknown label {label!r}; the labels are {', '.join(self.labels)} (or {UNSURE})")
        return label.strip()

    def decide(self, row_id: int, label: str | Iterable[str]) -> Decision:
        """Record `label` for a row: appended to the log (fsynced), then the review CSV is rewritten."""
        row = self.row(row_id)
        text = self.normalize_label(label)
        decision = Decision(row.source, row.frame, text, row.predicted, row.confidence, now())
        with self.log.lock() as handle:
            previous = self.log.state().decisions.get(row.key)
            record = {**decision.as_record(), "op": "set",
                      "previous": None if previous is None else previous.as_record()}
            self.log.append(handle, [record])
            self.log.write_csv(self.log.state().decisions)
        return decision

    def accept(self, row_id: int) -> Decision:
        """The model's label is right."""
        row = self.row(row_id)
        if row.predicted == UNSURE:
            return self.decide(row_id, UNSURE)
        return self.decide(row_id, row.predicted if self.multi_label else (row.predicted or UNSURE))

    def mark_unsure(self, row_id: int) -> Decision:
        """Skip this row: reviewed, but left out of training and evaluation."""
        return self.decide(row_id, UNSURE)

    def undo(self) -> tuple[Row | None, Decision | None] | None:
        """Take back the last decision not yet undone (from any tab): the row gets the decision it had
        before (or none). Returns (row, its decision now), or None when there is nothing to undo."""
        with self.log.lock() as handle:
            state = self.log.state()
            if not state.stack:
                return None
            n = state.stack[-1]
            undone = state.records[n]
            prev = undone.get("previous")
            if prev:
                record = {**prev, "op": "undo", "undoes": n}
            else:
                record = {"source": undone["source"], "frame": undone.get("frame"), "label": None,
                          "op": "undo", "undoes": n, "reviewed_at": now()}
            self.log.append(handle, [record])
            state = self.log.state()
            self.log.write_csv(state.decisions)
        key = row_key(undone["source"], undone.get("frame"))
        return self._by_key.get(key), state.decisions.get(key)

    # -- what it adds up to -------------------------------------------------------------------------
    def summary(self) -> Summary:
        return summarize(self.decisions(), self._by_key, len(self.errors))

    def current_label(self, row: Row, decisions: dict[Key, Decision]) -> str:
        return current_label(row, decisions)

    def timelines(self) -> list[Timeline]:
        """Per video (in output order): its frames, their current label and the segments (see
        llava_cli.review.summary.timelines)."""
        return timelines(self._by_key, self.decisions())

    def error_items(self) -> list[dict[str, Any]]:
        return [{"id": r.id, "source": r.source, "frame": r.frame, "error": r.error} for r in self.errors]
