"""The review of a classify output: its rows, the decisions taken on them, and what they add up to.

For an output `plays.csv` (or `.jsonl` / `.parquet`) two files sit beside it:

- `plays.review.log`: the record. One JSON line per decision, appended, flushed and fsynced before
  the call returns; an undo is a line too. The last line per (source, frame) wins.
- `plays.review.csv`: what the log adds up to, one row per reviewed (source, frame):
  `source, frame, label, predicted, confidence, reviewed_at`. Rewritten atomically (temporary file,
  fsync, rename) after every decision, so `finetune --data` and `eval --truth` read it as it is and
  never see a key twice. A row marked unsure has the label `unsure` (finetune leaves it out of
  training, eval treats it as no truth).

Nothing is kept in memory between calls: every call reads the log (cheaply, cached by its size and
mtime), and writes take a lock (a thread lock and an flock on the log), so two browser tabs, or two
servers, on one output do not lose or corrupt each other's decisions. A review CSV edited by hand
(newer than the log) is taken in as the new state on open.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from ..errors import OutputError, UsageError

UNSURE = "unsure"  # as classify writes below --min-confidence; a reviewer's "skip / not sure"
SEPARATOR = ";"  # multi-label labels, as classify joins them
REVIEW_COLUMNS = ("source", "frame", "label", "predicted", "confidence", "reviewed_at")
SORTS = ("confidence", "-confidence", "file")
STATUSES = ("all", "unreviewed", "reviewed", "changed", "unsure")

Key = tuple[str, int]  # (source, frame); frame -1 for a still image


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


def _key(source: str, frame: int | None) -> Key:
    return (source, -1 if frame is None else int(frame))


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


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
        return _key(self.source, self.frame)

    @property
    def is_video_frame(self) -> bool:
        return self.frame is not None


@dataclass(frozen=True)
class Decision:
    """What the reviewer said about one (source, frame): a row of the review CSV."""

    source: str
    frame: int | None
    label: str  # a label, ';'-joined labels (multi-label, possibly ''), or 'unsure'
    predicted: str
    confidence: float | None
    reviewed_at: str

    @property
    def key(self) -> Key:
        return _key(self.source, self.frame)

    @property
    def unsure(self) -> bool:
        return self.label == UNSURE

    @property
    def changed(self) -> bool:
        return not self.unsure and self.label != self.predicted

    def as_record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "frame": self.frame,
            "label": self.label,
            "predicted": self.predicted,
            "confidence": self.confidence,
            "reviewed_at": self.reviewed_at,
        }


@dataclass
class Summary:
    """The header line: how far the review is, and how the model did on what was reviewed."""

    total: int  # rows that can be reviewed (error rows are not)
    reviewed: int  # rows with a decision (unsure included)
    changed: int  # decisions other than the model's label (unsure excluded)
    unsure: int
    remaining: int
    correct: int  # decisions equal to the model's label (unsure excluded)
    accuracy: float | None  # correct / (reviewed - unsure); None before any such decision
    errors: int  # error rows, listed apart

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.2f} on {self.reviewed - self.unsure}"
        return (
            f"reviewed {self.reviewed}/{self.total}, changed {self.changed}, unsure {self.unsure}, "
            f"remaining {self.remaining}; model accuracy on reviewed: {acc}"
        )


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


@dataclass
class Segment:
    """A run of consecutive sampled frames of one video with the same (current) label."""

    label: str
    start_frame: int
    end_frame: int
    start_s: float | None
    end_s: float | None
    frames: int
    first_id: int
    reviewed: int  # frames of the run that have a decision


@dataclass
class Timeline:
    """One video: its sampled frames in order with their current labels, and the segments."""

    source: str
    frames: list[dict[str, Any]]  # id, frame, timestamp_s, label, reviewed
    segments: list[Segment] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "frames": self.frames, "segments": [s.__dict__ for s in self.segments]}


# -- reading the classify output -----------------------------------------------------------------


def _read_output(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # every column as text first: labels like "1" must stay text
            return pl.read_csv(path, infer_schema_length=0)
        if suffix == ".jsonl":
            return pl.read_ndjson(path, infer_schema_length=None)
        if suffix == ".parquet":
            return pl.read_parquet(path)
    except FileNotFoundError as exc:
        raise OutputError(f"{path}: file not found") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise OutputError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from exc
    raise UsageError(f"{path}: unknown extension {suffix!r}; expected a classify output (.csv, .jsonl or .parquet)")


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


def _sidecar(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(f"{path}.run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_output(path: str | Path) -> tuple[list[Row], list[str], bool]:
    """The rows of a classify output, its labels (label order) and whether it is multi-label.

    Labels come from `<output>.run.json` when present, else from the `p_<label>` columns, else from
    the labels seen. Raises OutputError when the file is unreadable or not a classify output.
    """
    path = Path(path)
    if path.name.endswith(".review.csv"):
        raise UsageError(f"{path} is a review file; review the classify output it was made from")
    df = _read_output(path)
    missing = [c for c in ("source", "label") if c not in df.columns]
    if missing:
        raise OutputError(
            f"{path} is not a classify output: no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(df.columns[:12])})"
        )
    end = df.columns.index("error") if "error" in df.columns else len(df.columns)
    p_columns = [c for c in df.columns[:end] if c.startswith("p_")]
    info = _sidecar(path)
    if isinstance(info.get("labels"), list) and info["labels"]:
        labels = [str(x) for x in info["labels"]]
    else:
        labels = [c[2:] for c in p_columns]
    records = df.to_dicts()
    rows: list[Row] = []
    for i, rec in enumerate(records):
        probs = {lab: p for lab in labels if (p := _number(rec.get(f"p_{lab}"))) is not None}
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


# -- the log --------------------------------------------------------------------------------------


@dataclass
class _LogState:
    """What the log adds up to: the decision per key, the undo stack, the record count."""

    decisions: dict[Key, Decision]
    stack: list[int]  # record numbers of decisions that an undo would take back, last on top
    records: list[dict[str, Any]]


def _replay(records: list[dict[str, Any]]) -> _LogState:
    decisions: dict[Key, Decision] = {}
    stack: list[int] = []
    for n, rec in enumerate(records):
        key = _key(rec["source"], rec.get("frame"))
        if rec.get("label") is None:
            decisions.pop(key, None)
        else:
            decisions[key] = Decision(
                source=rec["source"],
                frame=rec.get("frame"),
                label=rec["label"],
                predicted=rec.get("predicted") or "",
                confidence=rec.get("confidence"),
                reviewed_at=rec.get("reviewed_at") or "",
            )
        op = rec.get("op")
        if op == "set":
            stack.append(n)
        elif op == "undo" and rec.get("undoes") in stack:
            stack.remove(rec["undoes"])
    return _LogState(decisions, stack, records)


def _parse_log(data: bytes) -> list[dict[str, Any]]:
    records = []
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if i == len(lines) - 1:  # a half-written last line: the write a crash interrupted
                break
            raise OutputError(f"review log line {i + 1} is not JSON; fix or remove that line") from None
        if isinstance(rec, dict) and isinstance(rec.get("source"), str):
            records.append(rec)
    return records


class _FileLock:
    """An exclusive lock on the log for one write: a thread lock plus flock (other processes)."""

    _threads = threading.Lock()

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self._threads.acquire()
        try:
            self.handle = open(self.path, "ab+")
            try:
                import fcntl

                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - not POSIX: the thread lock only
                pass
        except BaseException:
            self._threads.release()
            raise
        return self.handle

    def __exit__(self, *exc):
        try:
            self.handle.close()  # closing releases the flock
        finally:
            self._threads.release()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _csv_text(decisions: Iterable[Decision]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    for d in decisions:
        writer.writerow(
            [d.source, "" if d.frame is None else d.frame, d.label, d.predicted,
             "" if d.confidence is None else repr(float(d.confidence)), d.reviewed_at]
        )
    return buffer.getvalue()


def read_review_csv(path: str | Path) -> list[Decision]:
    """The decisions in a review CSV (e.g. one edited by hand). Raises OutputError if unreadable."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "source" not in columns or "label" not in columns:
                raise OutputError(f"{path} needs 'source' and 'label' columns; it has: {', '.join(columns)}")
            out = []
            for raw in reader:
                rec = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
                if not rec.get("source"):
                    continue
                out.append(
                    Decision(
                        source=rec["source"],
                        frame=_frame(rec.get("frame")),
                        label=rec.get("label", ""),
                        predicted=rec.get("predicted", ""),
                        confidence=_number(rec.get("confidence")),
                        reviewed_at=rec.get("reviewed_at", ""),
                    )
                )
            return out
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror})") from exc


# -- the session ----------------------------------------------------------------------------------


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
        self._by_key: dict[Key, Row] = {}
        self.duplicates = 0
        for r in self.rows:
            if r.key in self._by_key:
                self.duplicates += 1  # a key listed twice: the first row is the one reviewed
            else:
                self._by_key[r.key] = r
        self._cache: tuple[tuple, _LogState] | None = None
        self._cache_lock = threading.Lock()
        self._reconcile()

    # -- state ------------------------------------------------------------------------------------
    def _state(self) -> _LogState:
        try:
            st = self.log_path.stat()
            signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return _LogState({}, [], [])
        with self._cache_lock:
            if self._cache and self._cache[0] == signature:
                return self._cache[1]
        try:
            data = self.log_path.read_bytes()
        except OSError as exc:
            raise OutputError(f"{self.log_path}: cannot read ({exc.strerror})") from exc
        state = _replay(_parse_log(data))
        with self._cache_lock:
            self._cache = (signature, state)
        return state

    def decisions(self) -> dict[Key, Decision]:
        """The current decision per (source, frame)."""
        return self._state().decisions

    @property
    def version(self) -> int:
        """How many records the log holds: it grows with every decision and undo."""
        return len(self._state().records)

    def _reconcile(self) -> None:
        """On open: take in a review CSV edited by hand (or one without a log), else make sure the CSV
        says what the log says (a crash between the log append and the CSV rewrite)."""
        if not self.review_path.exists():
            if self.log_path.exists():
                with _FileLock(self.log_path):
                    self._write_csv(self._state().decisions)
            return
        csv_decisions = {d.key: d for d in read_review_csv(self.review_path)}
        logged = self._state().decisions
        if csv_decisions == logged:
            return
        csv_newer = (
            not self.log_path.exists() or self.review_path.stat().st_mtime_ns > self.log_path.stat().st_mtime_ns
        )
        with _FileLock(self.log_path) as handle:
            if csv_newer:
                records = [{**d.as_record(), "op": "import"} for k, d in csv_decisions.items() if logged.get(k) != d]
                records += [
                    {"source": d.source, "frame": d.frame, "label": None, "op": "import", "reviewed_at": _now()}
                    for k, d in logged.items()
                    if k not in csv_decisions
                ]
                self._append(handle, records)
            self._write_csv(self._state().decisions)

    def _append(self, handle, records: list[dict[str, Any]]) -> None:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size:  # a half-written last line (a crash mid-write) is cut off before appending
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                handle.seek(0)
                data = handle.read()
                handle.truncate(data.rfind(b"\n") + 1)
        handle.seek(0, os.SEEK_END)
        handle.write(b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records))
        handle.flush()
        os.fsync(handle.fileno())

    def _write_csv(self, decisions: dict[Key, Decision]) -> None:
        """Rewrite the review CSV atomically: one row per decision, in the output's row order."""
        order = {key: row.id for key, row in self._by_key.items()}
        ordered = sorted(decisions.values(), key=lambda d: (order.get(d.key, len(order)), d.key))
        tmp = self.review_path.with_name(f".{self.review_path.name}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(_csv_text(ordered))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.review_path)
        except OSError as exc:
            raise OutputError(f"{self.review_path}: cannot write ({exc.strerror})") from exc
        _fsync_dir(self.review_path.parent)

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
        if self.multi_label:
            return {p.strip() for p in row.predicted.split(SEPARATOR) if p.strip()}
        return {row.predicted} if row.predicted else set()

    def list_rows(self, query: Query | None = None) -> list[Row]:
        """The rows to show, filtered and sorted (ties in output order). Error rows are not listed."""
        query = query or Query()
        query.validate(self.labels)
        decisions = self.decisions()
        out = []
        for row in self.rows:
            if query.source is not None and row.source != query.source:
                continue
            if query.label is not None:
                if query.label == "" and row.predicted != "":
                    continue
                if query.label and query.label not in self.predicted_labels(row):
                    continue
            d = decisions.get(row.key)
            status = query.status
            if status == "unreviewed" and d is not None:
                continue
            if status == "reviewed" and d is None:
                continue
            if status == "changed" and not (d is not None and d.changed):
                continue
            if status == "unsure" and not (d is not None and d.unsure):
                continue
            conf = row.confidence
            if query.min_confidence is not None and (conf is None or conf < query.min_confidence - 1e-12):
                continue
            if query.max_confidence is not None and (conf is None or conf > query.max_confidence + 1e-12):
                continue
            out.append(row)
        if query.sort == "confidence":
            out.sort(key=lambda r: (-1.0 if r.confidence is None else r.confidence, r.id))
        elif query.sort == "-confidence":
            out.sort(key=lambda r: (-(-1.0 if r.confidence is None else r.confidence), r.id))
        return out

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
            parts = [p.strip() for p in (label.split(SEPARATOR) if isinstance(label, str) else label) if p.strip()]
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
        decision = Decision(row.source, row.frame, text, row.predicted, row.confidence, _now())
        with _FileLock(self.log_path) as handle:
            previous = self._state().decisions.get(row.key)
            record = {**decision.as_record(), "op": "set",
                      "previous": None if previous is None else previous.as_record()}
            self._append(handle, [record])
            self._write_csv(self._state().decisions)
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
        with _FileLock(self.log_path) as handle:
            state = self._state()
            if not state.stack:
                return None
            n = state.stack[-1]
            undone = state.records[n]
            prev = undone.get("previous")
            if prev:
                record = {**prev, "op": "undo", "undoes": n}
            else:
                record = {"source": undone["source"], "frame": undone.get("frame"), "label": None,
                          "op": "undo", "undoes": n, "reviewed_at": _now()}
            self._append(handle, [record])
            state = self._state()
            self._write_csv(state.decisions)
        key = _key(undone["source"], undone.get("frame"))
        return self._by_key.get(key), state.decisions.get(key)

    # -- what it adds up to -------------------------------------------------------------------------
    def summary(self) -> Summary:
        decisions = self.decisions()
        reviewed = changed = unsure = correct = 0
        for key, d in decisions.items():
            if key not in self._by_key:
                continue
            reviewed += 1
            if d.unsure:
                unsure += 1
            elif d.changed:
                changed += 1
            else:
                correct += 1
        judged = reviewed - unsure
        total = len(self._by_key)
        return Summary(
            total=total, reviewed=reviewed, changed=changed, unsure=unsure, remaining=total - reviewed,
            correct=correct, accuracy=correct / judged if judged else None, errors=len(self.errors),
        )

    def current_label(self, row: Row, decisions: dict[Key, Decision]) -> str:
        d = decisions.get(row.key)
        return d.label if d is not None else row.predicted

    def timelines(self) -> list[Timeline]:
        """Per video (in output order): its frames by frame number, their current label (the decision,
        else the model's), whether reviewed, and the segments: runs of the same current label."""
        decisions = self.decisions()
        videos: dict[str, list[Row]] = {}
        for row in self._by_key.values():
            if row.frame is not None:
                videos.setdefault(row.source, []).append(row)
        out = []
        for source, rows in videos.items():
            rows.sort(key=lambda r: r.frame)
            frames = [
                {"id": r.id, "frame": r.frame, "timestamp_s": r.timestamp_s,
                 "label": self.current_label(r, decisions), "reviewed": r.key in decisions}
                for r in rows
            ]
            segments: list[Segment] = []
            for r, f in zip(rows, frames):
                last = segments[-1] if segments else None
                if last is not None and last.label == f["label"]:
                    last.end_frame, last.end_s, last.frames = r.frame, r.timestamp_s, last.frames + 1
                    last.reviewed += f["reviewed"]
                else:
                    segments.append(Segment(f["label"], r.frame, r.frame, r.timestamp_s, r.timestamp_s, 1, r.id,
                                            int(f["reviewed"])))
            out.append(Timeline(source, frames, segments))
        return out

    def error_items(self) -> list[dict[str, Any]]:
        return [{"id": r.id, "source": r.source, "frame": r.frame, "error": r.error} for r in self.errors]
