"""What a review adds up to: the header line's counts and, per video, the timeline of its frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..output import Key
from .log import Decision
from .rows import Row


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




def summarize(decisions: dict[Key, Decision], by_key: dict[Key, Row], errors: int) -> Summary:
    """The counts over the reviewable rows `by_key` (decisions on other keys do not count)."""
    reviewed = changed = unsure = correct = 0
    for key, d in decisions.items():
        if key not in by_key:
            continue
        reviewed += 1
        if d.unsure:
            unsure += 1
        elif d.changed:
            changed += 1
        else:
            correct += 1
    judged = reviewed - unsure
    total = len(by_key)
    return Summary(
        total=total, reviewed=reviewed, changed=changed, unsure=unsure, remaining=total - reviewed,
        correct=correct, accuracy=correct / judged if judged else None, errors=errors,
    )


def current_label(row: Row, decisions: dict[Key, Decision]) -> str:
    """The reviewer's label for a row, else the model's."""
    d = decisions.get(row.key)
    return d.label if d is not None else row.predicted


def _segments(rows: list[Row], frames: list[dict[str, Any]]) -> list[Segment]:
    """Runs of consecutive frames with the same current label."""
    segments: list[Segment] = []
    for r, f in zip(rows, frames):
        last = segments[-1] if segments else None
        if last is not None and last.label == f["label"]:
            last.end_frame, last.end_s, last.frames = r.frame, r.timestamp_s, last.frames + 1
            last.reviewed += f["reviewed"]
        else:
            segments.append(Segment(f["label"], r.frame, r.frame, r.timestamp_s, r.timestamp_s, 1, r.id,
                                    int(f["reviewed"])))
    return segments


def timelines(by_key: dict[Key, Row], decisions: dict[Key, Decision]) -> list[Timeline]:
    """Per video (in output order): its frames by frame number, their current label (the decision,
    else the model's), whether reviewed, and the segments: runs of the same current label."""
    videos: dict[str, list[Row]] = {}
    for row in by_key.values():
        if row.frame is not None:
            videos.setdefault(row.source, []).append(row)
    out = []
    for source, rows in videos.items():
        rows.sort(key=lambda r: r.frame)
        frames = [
            {"id": r.id, "frame": r.frame, "timestamp_s": r.timestamp_s,
             "label": current_label(r, decisions), "reviewed": r.key in decisions}
            for r in rows
        ]
        out.append(Timeline(source, frames, _segments(rows, frames)))
    return out
