"""The review's store: the decision log and the review CSV it adds up to, beside the output.

For an output `plays.csv` (or `.jsonl` / `.parquet`):

- `plays.review.log`: the record. One JSON line per decision, appended, flushed and fsynced before
  the call returns; an undo is a line too. The last line per (source, frame) wins.
- `plays.review.csv`: what the log adds up to, one row per reviewed (source, frame):
  `source, frame, label, predicted, confidence, reviewed_at`. Rewritten atomically (temporary file,
  fsync, rename) after every decision, so `finetune --data` and `eval --truth` read it as it is and
  never see a key twice. A row marked unsure has the label `unsure` (finetune leaves it out of
  training, eval treats it as no truth).

Nothing is kept in memory between calls: `ReviewLog.state` reads the log (cheaply, cached by its
size and mtime), and writes take a lock (a thread lock and an flock on the log), so two browser
tabs, or two servers, on one output do not lose or corrupt each other's decisions. A review CSV
edited by hand (newer than the log) is taken in as the new state on open (`reconcile`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..columns import UNSURE
from ..errors import OutputError
from ..output import Key, row_key
from .rows import _frame, _number

REVIEW_COLUMNS = ("source", "frame", "label", "predicted", "confidence", "reviewed_at")


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


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
        return row_key(self.source, self.frame)

    @property
    def unsure(self) -> bool:
        return self.label == UNSURE

    @property
    def changed(self) -> bool:
        return not self.unsure and self.label != self.predicted

    def as_record(self) -> dict[str, Any]:
        """source, frame, label, predicted, confidence, reviewed_at: a log record's fields."""
        return asdict(self)


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
        key = row_key(rec["source"], rec.get("frame"))
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




class ReviewLog:
    """The log and review CSV of one review; `order` maps each key to its row id in the output, the
    order the review CSV lists decisions in."""

    def __init__(self, log_path: Path, review_path: Path, order: dict[Key, int]):
        self.log_path = log_path
        self.review_path = review_path
        self.order = order
        self._cache: tuple[tuple, _LogState] | None = None
        self._cache_lock = threading.Lock()

    def lock(self) -> _FileLock:
        """Hold for a write; entering gives the log's handle for `append`."""
        return _FileLock(self.log_path)

    def state(self) -> _LogState:
        """What the log says now (re-read only when the file changed)."""
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

    def reconcile(self) -> None:
        """On open: take in a review CSV edited by hand (or one without a log), else make sure the CSV
        says what the log says (a crash between the log append and the CSV rewrite)."""
        if not self.review_path.exists():
            if self.log_path.exists():
                with self.lock():
                    self.write_csv(self.state().decisions)
            return
        csv_decisions = {d.key: d for d in read_review_csv(self.review_path)}
        logged = self.state().decisions
        if csv_decisions == logged:
            return
        csv_newer = (
            not self.log_path.exists() or self.review_path.stat().st_mtime_ns > self.log_path.stat().st_mtime_ns
        )
        with self.lock() as handle:
            if csv_newer:
                records = [{**d.as_record(), "op": "import"} for k, d in csv_decisions.items() if logged.get(k) != d]
                records += [
                    {"source": d.source, "frame": d.frame, "label": None, "op": "import", "reviewed_at": now()}
                    for k, d in logged.items()
                    if k not in csv_decisions
                ]
                self.append(handle, records)
            self.write_csv(self.state().decisions)

    def append(self, handle, records: list[dict[str, Any]]) -> None:
        """Append records to the log (under `lock`), fsynced; a half-written last line is cut first."""
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

    def write_csv(self, decisions: dict[Key, Decision]) -> None:
        """Rewrite the review CSV atomically: one row per decision, in the output's row order."""
        order = self.order
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
