"""A classify output read back by eval and review: one reader, CSV escaping undone, labels as written."""

from __future__ import annotations

from llava_cli.evaluation.data import load_predictions
from llava_cli.output import read_classify_output
from llava_cli.review.rows import load_output

CSV = (
    "source,frame,timestamp_s,label,confidence,p_01,p_=x,error\n"
    "'=2+2.png,,,01,0.7,0.7,0.3,\n"
    "b.png,,,'=x,0.6,0.4,0.6,\n"
)


def test_eval_and_review_read_the_same_exact_values(tmp_path):
    out = tmp_path / "plays.csv"
    out.write_text(CSV)
    read = read_classify_output(out)
    assert read.labels == ["01", "=x"] and read.labels_from == "p_ columns"
    assert read.rows["source"].to_list() == ["=2+2.png", "b.png"]  # the spreadsheet quote is undone
    assert read.rows["label"].to_list() == ["01", "=x"]  # "01" stays text, not the number 1

    preds = load_predictions(out)
    assert preds.rows["source"].to_list() == ["=2+2.png", "b.png"]
    assert preds.rows["label"].to_list() == ["01", "=x"] and preds.labels == ["01", "=x"]

    rows, labels, multi = load_output(out)
    assert [r.source for r in rows] == ["=2+2.png", "b.png"] and [r.predicted for r in rows] == ["01", "=x"]
    assert labels == ["01", "=x"] and not multi
    assert rows[0].probs == {"01": 0.7, "=x": 0.3}
