"""The review's Python API: rows, order, filters, decisions, undo, summary, timelines, files."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

import pytest

from llava_cli.errors import OutputError, UsageError
from llava_cli.review import Query, ReviewSession, read_review_csv, review_path_for
from llava_cli.review.state import REVIEW_COLUMNS
from review_factories import write_output

LOWEST_FIRST = [3, 2, 6, 0, 4, 5, 1]  # row ids by confidence; row 7 is the error row


def review_rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == REVIEW_COLUMNS
        return list(reader)


def log_records(session: ReviewSession) -> list[dict]:
    return [json.loads(line) for line in session.log_path.read_text().splitlines()]


def test_review_file_names():
    assert review_path_for("runs/plays.csv") == Path("runs/plays.review.csv")
    assert review_path_for("plays.jsonl") == Path("plays.review.csv")
    assert review_path_for("a.b.parquet") == Path("a.b.review.csv")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_reads_every_output_format_the_same(tmp_path, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    s = ReviewSession(write_output(tmp_path, fmt))
    assert s.labels == ["red", "blue"] and not s.multi_label
    assert s.review_path == tmp_path / "plays.review.csv"
    assert [r.id for r in s.list_rows()] == LOWEST_FIRST
    assert [e["id"] for e in s.error_items()] == [7]
    assert s.error_items()[0]["error"] == "bad.jpg: not a readable image"
    row = s.row(5)
    assert (row.source, row.frame, row.timestamp_s, row.predicted, row.probs) == (
        "clip.mp4", 10, 1.0, "red", {"red": 0.8, "blue": 0.2})
    assert s.row(0).frame is None


def test_labels_without_a_sidecar_come_from_the_p_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = ReviewSession(write_output(tmp_path, sidecar=False))
    assert s.labels == ["red", "blue"] and not s.multi_label


def test_not_a_classify_output(tmp_path):
    (tmp_path / "x.csv").write_text("source,answer\na.jpg,hello\n")
    with pytest.raises(OutputError, match="not a classify output"):
        ReviewSession(tmp_path / "x.csv")
    with pytest.raises(OutputError, match="not found"):
        ReviewSession(tmp_path / "missing.csv")
    with pytest.raises(UsageError, match="review file"):
        ReviewSession(tmp_path / "plays.review.csv")


def test_sort_and_filters(output):
    s = ReviewSession(output)
    assert [r.id for r in s.list_rows(Query(sort="-confidence"))] == LOWEST_FIRST[::-1]
    assert [r.id for r in s.list_rows(Query(sort="file"))] == [0, 1, 2, 3, 4, 5, 6]
    assert [r.id for r in s.list_rows(Query(label="red"))] == [2, 0, 4, 5]
    assert [r.id for r in s.list_rows(Query(label="unsure"))] == [3]
    assert [r.id for r in s.list_rows(Query(min_confidence=0.55, max_confidence=0.8))] == [6, 0, 4, 5]
    assert [r.id for r in s.list_rows(Query(source="clip.mp4", sort="file"))] == [4, 5, 6]
    s.decide(2, "blue")
    s.accept(6)
    s.mark_unsure(0)
    assert [r.id for r in s.list_rows(Query(status="reviewed"))] == [2, 6, 0]
    assert [r.id for r in s.list_rows(Query(status="unreviewed"))] == [3, 4, 5, 1]
    assert [r.id for r in s.list_rows(Query(status="changed"))] == [2]
    assert [r.id for r in s.list_rows(Query(status="unsure"))] == [0]
    with pytest.raises(UsageError) as info:
        s.list_rows(Query(sort="random", status="maybe", label="green", min_confidence=2))
    assert len(info.value.problems) == 4


def test_every_decision_is_in_the_log_and_the_csv_has_one_row_per_key(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    s.decide(5, "blue")
    s.decide(2, "red")  # changed her mind: one row for img2.png, two records in the log
    s.mark_unsure(3)
    rows = review_rows(s.review_path)
    assert [(r["source"], r["frame"], r["label"], r["predicted"], r["confidence"]) for r in rows] == [
        ("img2.png", "", "red", "red", "0.51"),  # in the output's row order
        ("img3.png", "", "unsure", "unsure", "0.5"),
        ("clip.mp4", "10", "blue", "red", "0.8"),
    ]
    assert all(r["reviewed_at"] for r in rows)
    assert [(r["op"], r["source"], r["label"]) for r in log_records(s)] == [
        ("set", "img2.png", "blue"), ("set", "clip.mp4", "blue"), ("set", "img2.png", "red"), ("set", "img3.png", "unsure"),
    ]
    assert s.version == 4


def test_bad_decisions_are_refused_and_write_nothing(output):
    s = ReviewSession(output)
    with pytest.raises(UsageError, match="unknown label 'green'"):
        s.decide(0, "green")
    with pytest.raises(UsageError, match="no reviewable row"):
        s.decide(7, "red")  # the error row
    with pytest.raises(UsageError, match="no reviewable row"):
        s.decide(99, "red")
    with pytest.raises(UsageError):
        s.decide(0, "red;blue")  # single-label
    assert s.version == 0 and not s.review_path.exists()


def test_accept_and_unsure(output):
    s = ReviewSession(output)
    assert s.accept(1).label == "blue"
    assert s.accept(3).label == "unsure"  # the model said unsure: accepting keeps it out of training
    assert s.mark_unsure(4).label == "unsure"
    d = s.decisions()
    assert not d[("img1.png", -1)].changed and d[("clip.mp4", 0)].unsure


def test_undo_steps_back_through_decisions_and_is_logged(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    s.accept(0)
    s.decide(2, "red")
    row, now = s.undo()  # img2 goes back to blue
    assert row.id == 2 and now.label == "blue"
    row, now = s.undo()  # img0 no longer reviewed
    assert row.id == 0 and now is None
    row, now = s.undo()
    assert row.id == 2 and now is None
    assert s.undo() is None
    assert not s.review_path.read_text().strip().splitlines()[1:]  # the header only
    ops = [r["op"] for r in log_records(s)]
    assert ops == ["set"] * 3 + ["undo"] * 3


def test_reopening_resumes_and_undo_survives_a_restart(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    s.mark_unsure(3)
    again = ReviewSession(output)  # a new server on the same files
    assert again.summary().reviewed == 2
    assert [r.id for r in again.list_rows(Query(status="unreviewed"))] == [6, 0, 4, 5, 1]
    row, now = again.undo()
    assert row.id == 3 and now is None
    assert ReviewSession(output).summary().reviewed == 1


def test_summary_counts_and_model_accuracy(output):
    s = ReviewSession(output)
    assert s.summary().as_dict() == dict(total=7, reviewed=0, changed=0, unsure=0, remaining=7, correct=0,
                                         accuracy=None, errors=1)
    s.decide(2, "blue")  # wrong
    s.accept(1)  # right
    s.decide(5, "red")  # right
    s.mark_unsure(0)  # not counted in accuracy
    s.decide(3, "red")  # the model said unsure: wrong
    summary = s.summary()
    assert (summary.reviewed, summary.changed, summary.unsure, summary.remaining, summary.correct) == (5, 2, 1, 2, 2)
    assert summary.accuracy == pytest.approx(0.5)
    assert "reviewed 5/7" in summary.line() and "0.50 on 4" in summary.line()


def test_video_timeline_segments_follow_the_decisions(output):
    s = ReviewSession(output)
    [tl] = s.timelines()
    assert tl.source == "clip.mp4"
    assert [(g.label, g.start_frame, g.end_frame, g.frames, g.first_id) for g in tl.segments] == [
        ("red", 0, 10, 2, 4), ("blue", 20, 20, 1, 6)]
    s.decide(5, "blue")
    [tl] = s.timelines()
    assert [(g.label, g.start_frame, g.end_frame, g.reviewed) for g in tl.segments] == [
        ("red", 0, 0, 0), ("blue", 10, 20, 1)]
    assert [f["reviewed"] for f in tl.frames] == [False, True, False]
    assert tl.segments[1].start_s == 1.0 and tl.segments[1].end_s == 2.0


def test_multi_label(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = ReviewSession(write_output(tmp_path, multi=True))
    assert s.multi_label
    assert [r.id for r in s.list_rows(Query(label="blue"))] == [3, 6, 1]
    assert [r.id for r in s.list_rows(Query(label=""))] == [2]  # the model gave no label
    assert s.decide(0, ["blue", "red"]).label == "red;blue"  # in label order
    assert s.decide(1, "blue").label == "blue"
    assert s.decide(4, []).label == ""  # none of the labels
    assert s.accept(2).label == ""
    assert s.mark_unsure(3).label == "unsure"
    with pytest.raises(UsageError, match="unknown label 'green'"):
        s.decide(5, ["red", "green"])
    summary = s.summary()
    assert (summary.reviewed, summary.changed, summary.unsure) == (5, 3, 1)
    assert [r["label"] for r in review_rows(s.review_path)] == ["red;blue", "blue", "", "unsure", ""]


def test_a_half_written_log_line_is_ignored_then_cut(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    with s.log_path.open("ab") as fh:
        fh.write(b'{"source": "img0.png", "frame": null, "lab')  # killed mid-write
    assert ReviewSession(output).summary().reviewed == 1
    s.decide(1, "blue")
    assert [r["source"] for r in log_records(s)] == ["img2.png", "img1.png"]


def test_a_crash_between_log_and_csv_is_repaired_on_open(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    stale = s.review_path.read_text()
    s.decide(1, "red")
    s.review_path.write_text(stale)  # as if the rename had not happened
    old = time.time() - 60
    os.utime(s.review_path, (old, old))  # ... so the CSV is older than the log
    again = ReviewSession(output)
    assert [r["source"] for r in review_rows(again.review_path)] == ["img1.png", "img2.png"]


def test_a_review_csv_edited_by_hand_is_taken_in(output):
    s = ReviewSession(output)
    s.decide(2, "blue")
    s.decide(1, "red")
    lines = s.review_path.read_text().splitlines(keepends=True)  # header, img1.png, img2.png
    assert lines[1].startswith("img1.png,,red,") and lines[2].startswith("img2.png,")
    # by hand: img1 relabelled blue, the img2 row deleted (not reviewed any more)
    s.review_path.write_text(lines[0] + lines[1].replace("img1.png,,red,", "img1.png,,blue,"))
    later = time.time() + 5
    os.utime(s.review_path, (later, later))  # edited after the last decision
    again = ReviewSession(output)
    assert {k: d.label for k, d in again.decisions().items()} == {("img1.png", -1): "blue"}
    assert [d.label for d in read_review_csv(again.review_path)] == ["blue"]
    assert {r["op"] for r in log_records(again)[2:]} == {"import"}


def test_a_review_csv_without_a_log_is_imported(output):
    review = output.with_name("plays.review.csv")
    review.write_text("source,frame,label\nclip.mp4,20,red\nimg0.png,,blue\n")
    s = ReviewSession(output)
    assert {k: d.label for k, d in s.decisions().items()} == {("clip.mp4", 20): "red", ("img0.png", -1): "blue"}
    assert s.undo() is None  # imports are not undone


def test_two_writers_at_once_lose_nothing(output):
    sessions = [ReviewSession(output), ReviewSession(output)]  # two tabs (or two servers)
    labels = ["red", "blue"]

    def work(k):
        for i in range(12):
            sessions[k].decide([0, 1, 2, 3, 4, 5, 6][i % 7], labels[(i + k) % 2])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = ReviewSession(output)
    assert final.version == 24
    rows = review_rows(final.review_path)
    assert len(rows) == 7 and len({(r["source"], r["frame"]) for r in rows}) == 7
    assert {(r["source"], r["label"]) for r in rows} == {
        (d.source, d.label) for d in final.decisions().values()}
