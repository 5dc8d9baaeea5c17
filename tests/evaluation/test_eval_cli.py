"""`llava-cli eval` end to end through typer: printed numbers, --json, report files, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from test_evaluation import TRUTH_CSV, write_plays


@pytest.fixture
def cli(cli_app):
    return cli_app


@pytest.fixture
def plays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "truth.csv").write_text(TRUTH_CSV)
    return write_plays(tmp_path)


def invoke(cli, *args):
    return CliRunner().invoke(cli, ["eval", *map(str, args)])


def test_text_report_matches_metrics_json(cli, plays, tmp_path):
    res = invoke(cli, plays, "--truth", "truth.csv", "--report", "rep", "--min-confidence-levels", "0.5,0.9")
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "rep/metrics.json").read_text())
    text = res.output

    def printed(name):
        return float(re.search(rf"^{re.escape(name)}\s+([0-9.]+)", text, re.M).group(1))

    assert printed("accuracy") == round(saved["metrics"]["accuracy"], 4)
    assert printed("balanced accuracy") == round(saved["metrics"]["balanced_accuracy"], 4)
    assert printed("macro-F1") == round(saved["metrics"]["macro_f1"], 4)
    assert printed("ECE, 10 bins") == round(saved["calibration"]["ece"], 4)
    for row in saved["per_class"]:
        line = re.search(rf"^  {re.escape(row['label'])}\s+(.*)$", text, re.M).group(1).split()
        assert [float(x) for x in line[:3]] == [round(row[k], 4) for k in ("precision", "recall", "f1")]
        assert [int(x) for x in line[3:5]] == [row["support"], row["predicted"]]
    for row in saved["levels"]["rows"]:
        line = re.search(rf"^  {row['level']:.2f}\s+(.*)$", text, re.M).group(1).split()
        assert int(line[0]) == row["kept"] and float(line[1]) == round(row["coverage"], 4)
    assert "truth without predictions  1 (e.g. img/zz.jpg)" in text
    assert "error rows (not scored)    1 (e.g. img/d.jpg)" in text
    for name in ("metrics.json", "confusion.png", "reliability.png", "per_class.png"):
        assert (tmp_path / "rep" / name).is_file()


def test_json_output_is_the_report(cli, plays, tmp_path):
    res = invoke(cli, plays, "--truth", "truth.csv", "--json", "--report", "rep")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == json.loads((tmp_path / "rep/metrics.json").read_text())


def test_truth_column_flag(cli, plays):
    import polars as pl

    truth = ["shooting", "jump shot", "jump shot", "dribble", "dribble", "shooting", "dribble", None]
    pl.read_csv(plays).with_columns(pl.Series("true_label", truth)).write_csv(plays)
    res = invoke(cli, plays, "--truth-column", "true_label", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["metrics"]["accuracy"] == 0.5
    # the run's own labels as truth: 'unsure' is no label of the run, said in one line
    res = invoke(cli, plays, "--truth-column", "label")
    assert res.exit_code == 1 and res.output.startswith("error: label sets differ") and "'unsure'" in res.output


@pytest.mark.parametrize(
    "truth, pattern, code",
    [
        ("source,label\nimg/c.jpg,layup\n", r"^error: label sets differ: .*'layup'", 1),
        ("source,label\nelsewhere.jpg,dribble\n", r"^error: no prediction matched", 1),
        ("name,label\nimg/c.jpg,dribble\n", r"^error: --truth truth.csv needs a 'source'", 1),
    ],
)
def test_problems_are_one_line(cli, plays, truth, pattern, code):
    Path("truth.csv").write_text(truth)
    res = invoke(cli, plays, "--truth", "truth.csv")
    assert res.exit_code == code
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), res.output
    assert "Traceback" not in res.output


def test_usage_errors_exit_2(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke(cli, "missing.csv", "--min-confidence-levels", "0.5,x")
    assert res.exit_code == 2 and res.output.startswith("error: --min-confidence-levels")
    res = invoke(cli, "missing.csv", "--bins", "0")
    assert res.exit_code == 2
    assert [ln.split(":")[0] for ln in res.output.strip().splitlines()] == ["error"] * 3  # file, truth, bins
