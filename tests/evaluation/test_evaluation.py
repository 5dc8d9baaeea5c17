"""Metrics against hand-computed numbers and independent implementations; loading, joining,
report files and the one-line errors of `run_eval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from llava_cli.errors import LlavaCliError, OutputError, UsageError
from llava_cli.evaluation import EvalConfig, run_eval
from llava_cli.evaluation import metrics as M
from llava_cli.evaluation.data import Truth, match_sources

LABELS = ["shooting", "jump shot", "dribble"]


# -- metrics: hand-computed ---------------------------------------------------------------------
def test_single_label_hand_example():
    # truth a a a b b c ; predicted a a b b unsure a ; label d never occurs on either side
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "unsure", "a"]
    m = M.single_label_metrics(y_true, y_pred, ["a", "b", "c", "d"])
    assert m.confusion[:3, :3].tolist() == [[2, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert m.unsure.tolist() == [0, 1, 0, 0]
    assert m.accuracy == 3 / 6
    by = {s.label: s for s in m.per_class}
    assert (by["a"].precision, by["a"].recall, by["a"].f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3), abs=1e-15)
    assert (by["b"].precision, by["b"].recall, by["b"].f1) == pytest.approx((1 / 2, 1 / 2, 1 / 2), abs=1e-15)
    assert (by["c"].precision, by["c"].recall, by["c"].f1) == (0.0, 0.0, 0.0)
    assert [by[k].support for k in "abcd"] == [3, 2, 1, 0]
    assert [by[k].predicted for k in "abcd"] == [3, 2, 0, 0]
    # macro over labels present in truth or predictions: d is left out
    assert m.macro_f1 == pytest.approx(7 / 18, abs=1e-15)
    assert m.balanced_accuracy == pytest.approx(7 / 18, abs=1e-15)


def test_single_label_rejects_unknown_truth():
    with pytest.raises(ValueError, match="zebra"):
        M.single_label_metrics(["zebra"], ["a"], ["a", "b"])


def test_multi_label_hand_example():
    truth = [{"a", "b"}, {"a"}, set(), {"c"}]
    pred = [{"a"}, {"a", "c"}, set(), {"c"}]
    m = M.multi_label_metrics(truth, pred, ["a", "b", "c"])
    assert m.subset_accuracy == 2 / 4
    assert m.hamming_loss == 2 / 12  # b missed in row 0, c extra in row 1
    by = {s.label: s for s in m.per_class}
    assert (by["a"].precision, by["a"].recall, by["a"].f1) == (1.0, 1.0, 1.0)
    assert (by["b"].precision, by["b"].recall, by["b"].f1, by["b"].support) == (0.0, 0.0, 0.0, 1)
    assert (by["c"].precision, by["c"].recall) == (0.5, 1.0)
    assert by["c"].f1 == pytest.approx(2 / 3)
    assert m.micro_precision == pytest.approx(3 / 4) and m.micro_recall == pytest.approx(3 / 4)
    assert m.macro_f1 == pytest.approx((1 + 0 + 2 / 3) / 3)


def test_ece_hand_example_and_bin_edges():
    conf = np.array([0.8, 0.6, 0.7, 0.9, 0.4, 0.5])
    hit = np.array([1, 0, 1, 1, 1, 0])
    cal = M.calibration(conf, hit, bins=10)
    assert cal.ece == pytest.approx((0.2 + 0.6 + 0.3 + 0.1 + 0.6 + 0.5) / 6)
    # bins are closed on the right: 0.3 is in (0.2, 0.3]; 0 in the first bin, 1 in the last
    edge = M.calibration(np.array([0.0, 0.3, 1.0]), np.array([1, 1, 1]), bins=10)
    assert edge.counts == [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert M.calibration(np.array([0.5, 0.5]), np.array([1, 0]), bins=1).ece == 0.0


def test_coverage_table_uses_classify_rule():
    conf = np.array([0.5, 0.7, 0.9, 0.3])
    hit = np.array([False, True, True, False])
    rows = M.coverage_table(conf, hit, [0.0, 0.5, 0.7, 0.95])
    assert [(r.kept, r.coverage) for r in rows] == [(4, 1.0), (3, 0.75), (2, 0.5), (0, 0.0)]
    assert rows[0].accuracy == 0.5 and rows[1].accuracy == pytest.approx(2 / 3) and rows[2].accuracy == 1.0
    assert math.isnan(rows[3].accuracy)


# -- metrics: against independent implementations --------------------------------------------
def _ref_ece(conf, hit, bins):
    """Loop version: bins (lo, hi], the first also holds 0."""
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for b in range(bins):
        lo, hi = edges[b], edges[b + 1]
        members = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0)]
        if members:
            acc = sum(hit[i] for i in members) / len(members)
            mean = sum(conf[i] for i in members) / len(members)
            total += len(members) / len(conf) * abs(acc - mean)
    return total


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_single_label_matches_sklearn_on_random_data(seed):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    labels = [f"c{i}" for i in range(rng.integers(2, 7))]
    n = int(rng.integers(20, 300))
    y_true = list(rng.choice(labels[:-1], n))  # the last label never true: tests the conventions
    y_pred = list(rng.choice(labels + ["unsure"], n))
    m = M.single_label_metrics(y_true, y_pred, labels)
    assert m.accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert m.balanced_accuracy == pytest.approx(sk.balanced_accuracy_score(y_true, y_pred))
    present = sorted(set(y_true) | (set(y_pred) - {"unsure"}))
    assert m.macro_f1 == pytest.approx(sk.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    p, r, f, s = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert [c.precision for c in m.per_class] == pytest.approx(list(p))
    assert [c.recall for c in m.per_class] == pytest.approx(list(r))
    assert [c.f1 for c in m.per_class] == pytest.approx(list(f))
    assert [c.support for c in m.per_class] == list(s)
    cm = sk.confusion_matrix(y_true, y_pred, labels=labels + ["unsure"])
    assert m.confusion.tolist() == cm[:-1, :-1].tolist()
    assert m.unsure.tolist() == cm[:-1, -1].tolist()


@pytest.mark.parametrize("seed", range(5))
def test_multi_label_matches_sklearn_on_random_data(seed):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    labels = [f"l{i}" for i in range(rng.integers(2, 6))]
    n = int(rng.integers(10, 200))
    truth = rng.random((n, len(labels))) < 0.4
    pred = rng.random((n, len(labels))) < 0.4
    sets = lambda ind: [{labels[j] for j in np.flatnonzero(row)} for row in ind]  # noqa: E731
    m = M.multi_label_metrics(sets(truth), sets(pred), labels)
    assert m.subset_accuracy == pytest.approx(sk.accuracy_score(truth, pred))
    assert m.hamming_loss == pytest.approx(sk.hamming_loss(truth, pred))
    assert m.micro_f1 == pytest.approx(sk.f1_score(truth, pred, average="micro", zero_division=0))
    assert [c.f1 for c in m.per_class] == pytest.approx(list(sk.f1_score(truth, pred, average=None, zero_division=0)))
    assert [c.precision for c in m.per_class] == pytest.approx(list(sk.precision_score(truth, pred, average=None, zero_division=0)))
    assert [c.recall for c in m.per_class] == pytest.approx(list(sk.recall_score(truth, pred, average=None, zero_division=0)))
    present = [j for j in range(len(labels)) if truth[:, j].any() or pred[:, j].any()]
    assert m.macro_f1 == pytest.approx(sk.f1_score(truth, pred, labels=present, average="macro", zero_division=0))


@pytest.mark.parametrize("bins", [1, 5, 10, 15])
def test_ece_matches_loop_reference(bins):
    rng = np.random.default_rng(bins)
    conf = rng.random(500)
    hit = (rng.random(500) < conf ** 2).astype(int)
    cal = M.calibration(conf, hit, bins)
    assert cal.ece == pytest.approx(_ref_ece(list(conf), list(hit), bins))
    assert sum(cal.counts) == 500


# -- files: a small classify output ------------------------------------------------------------
def write_plays(folder: Path, fmt: str = "csv", sidecar: bool = True) -> Path:
    """8 rows: 3 frames of a.mp4, 2 of b.mp4, 3 images (one an error row)."""
    rows = [
        ("clips/a.mp4", 0, "shooting", 0.8, 0.8, 0.1, 0.1, None),
        ("clips/a.mp4", 1, "shooting", 0.6, 0.6, 0.3, 0.1, None),
        ("clips/a.mp4", 2, "jump shot", 0.7, 0.2, 0.7, 0.1, None),
        ("clips/b.mp4", 0, "dribble", 0.9, 0.05, 0.05, 0.9, None),
        ("clips/b.mp4", 1, "unsure", 0.4, 0.3, 0.3, 0.4, None),
        ("img/c.jpg", None, "jump shot", 0.5, 0.3, 0.5, 0.2, None),
        ("img/d.jpg", None, None, None, None, None, None, "cannot decode"),
        ("img/e.jpg", None, "dribble", 0.95, 0.0, 0.05, 0.95, None),
    ]
    schema = {"source": pl.Utf8, "frame": pl.Int64, "label": pl.Utf8, "confidence": pl.Float64,
              "p_shooting": pl.Float64, "p_jump shot": pl.Float64, "p_dribble": pl.Float64, "error": pl.Utf8}
    df = pl.DataFrame(rows, schema=schema, orient="row")
    df = df.insert_column(2, pl.Series("timestamp_s", [None if r[1] is None else r[1] / 30 for r in rows]))
    df = df.with_columns(pl.lit(None, pl.Utf8).alias("duplicate_of"))  # an extra column to ignore
    out = folder / f"plays.{fmt}"
    {"csv": df.write_csv, "jsonl": df.write_ndjson, "parquet": df.write_parquet}[fmt](out)
    if sidecar:
        Path(f"{out}.run.json").write_text(json.dumps({"labels": LABELS, "multi_label": False, "threshold": 0.5}))
    return out


TRUTH_CSV = (
    "source,frame,label\n"
    "clips/a.mp4,0,shooting\nclips/a.mp4,1,jump shot\nclips/a.mp4,2,jump shot\n"
    "clips/b.mp4,,dribble\n"  # no frame: labels every frame of b.mp4
    "img/c.jpg,,shooting\nimg/d.jpg,,dribble\nimg/zz.jpg,,dribble\n"
)


@pytest.fixture
def plays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "truth.csv").write_text(TRUTH_CSV)
    return write_plays(tmp_path)


def check_example(report):
    s = report.summary
    assert s["counts"] == {
        "prediction_rows": 8, "error_rows": 1, "evaluated": 6, "predictions_without_truth": 1,
        "truth_without_predictions": 1, "duplicate_predictions": 0, "duplicate_truth": 0, "unsure": 1,
    }
    assert s["examples"]["predictions_without_truth"] == ["img/e.jpg"]
    assert s["examples"]["truth_without_predictions"] == ["img/zz.jpg"]
    assert s["metrics"]["accuracy"] == 0.5
    assert s["confusion"]["counts"] == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]]
    assert s["metrics"]["macro_f1"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert s["metrics"]["ece"] == pytest.approx(2.3 / 6)
    # argmax of b.mp4 frame 1 is dribble (right), so accuracy at level 0 is 4/6
    assert s["levels"]["rows"][0]["accuracy"] == pytest.approx(4 / 6)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_run_eval_truth_csv_every_format(tmp_path, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "truth.csv").write_text(TRUTH_CSV)
    check_example(run_eval(EvalConfig(str(write_plays(tmp_path, fmt)), truth="truth.csv")))


def test_run_eval_without_sidecar_infers_labels(plays):
    Path(f"{plays}.run.json").unlink()
    report = run_eval(EvalConfig(str(plays), truth="truth.csv"))
    assert report.summary["labels_from"] == "p_ columns" and report.summary["labels"] == LABELS
    check_example(report)


def test_report_folder_files(plays, tmp_path):
    report = run_eval(EvalConfig(str(plays), truth="truth.csv", report_dir="rep"))
    names = sorted(p.name for p in report.files)
    assert names == ["confusion.png", "eval.config.json", "metrics.json", "per_class.png", "reliability.png"]
    assert json.loads((tmp_path / "rep/metrics.json").read_text()) == report.summary
    assert json.loads((tmp_path / "rep/eval.config.json").read_text())["truth"] == "truth.csv"
    for name in ("confusion.png", "reliability.png", "per_class.png"):
        with Image.open(tmp_path / "rep" / name) as im:
            im.load()
            pixels = np.asarray(im.convert("RGB"))
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels.std() > 10
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20


def test_truth_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = write_plays(tmp_path)
    df = pl.read_csv(out).with_columns(
        pl.Series("true_label", ["shooting", "jump shot", "jump shot", "dribble", "dribble", "shooting", "dribble", None])
    )
    df.write_csv(out)
    s = run_eval(EvalConfig(str(out), truth_column="true_label")).summary
    assert s["counts"]["predictions_without_truth"] == 1 and s["counts"]["truth_without_predictions"] == 0
    assert s["metrics"]["accuracy"] == 0.5


def test_folder_truth_matches_absolute_and_tail(tmp_path, monkeypatch):
    truth = tmp_path / "truth"
    for label, names in {"cat": ["1.jpg", "2.jpg"], "dog": ["3.jpg", "sub/4.png"]}.items():
        for name in names:
            (truth / label / name).parent.mkdir(parents=True, exist_ok=True)
            (truth / label / name).write_bytes(b"")
    (truth / "notes.txt").write_text("ignored")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    rows = pl.DataFrame({
        "source": [str(truth / "cat/1.jpg"),  # absolute
                   "truth/cat/2.jpg",  # relative to the cwd: same file
                   "/mnt/other/copy/dog/3.jpg",  # tail dog/3.jpg
                   "/mnt/other/copy/dog/sub/4.png",
                   "/mnt/x/5.jpg"],  # no truth
        "frame": pl.Series([None] * 5, dtype=pl.Int64),
        "label": ["cat", "dog", "dog", "cat", "cat"],
        "confidence": [0.9, 0.6, 0.8, 0.7, 0.9],
        "p_cat": [0.9, 0.4, 0.2, 0.7, 0.9],
        "p_dog": [0.1, 0.6, 0.8, 0.3, 0.1],
        "error": pl.Series([None] * 5, dtype=pl.Utf8),
    })
    rows.write_csv(elsewhere / "p.csv")
    s = run_eval(EvalConfig(str(elsewhere / "p.csv"), truth=str(truth))).summary
    assert s["counts"]["evaluated"] == 4
    assert s["counts"]["predictions_without_truth"] == 1 and s["counts"]["truth_without_predictions"] == 0
    assert s["confusion"]["counts"] == [[1, 1], [1, 1]]


def test_match_prefers_longest_tail():
    truth = Truth("t", pl.DataFrame({"tsource": ["a/x.jpg", "b/a/x.jpg"], "frame": [None, None], "truth": ["p", "q"]},
                                    schema={"tsource": pl.Utf8, "frame": pl.Int64, "truth": pl.Utf8}))
    assert match_sources(["/r/b/a/x.jpg", "/r/c/a/x.jpg", "./a/x.jpg"], truth) == {
        "/r/b/a/x.jpg": "b/a/x.jpg", "/r/c/a/x.jpg": "a/x.jpg", "./a/x.jpg": "a/x.jpg"}


def test_multi_label_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    df = pl.DataFrame({
        "source": ["1.jpg", "2.jpg", "3.jpg", "4.jpg"],
        "frame": pl.Series([None] * 4, dtype=pl.Int64),
        "label": ["a", "a;c", "", "c"],
        "confidence": [0.9, 0.8, 0.3, 0.7],
        "p_a": [0.9, 0.8, 0.3, 0.1], "p_b": [0.4, 0.1, 0.2, 0.2], "p_c": [0.1, 0.6, 0.1, 0.7],
        "error": pl.Series([None] * 4, dtype=pl.Utf8),
    })
    df.write_csv("m.csv")
    Path("t.csv").write_text("source,label\n1.jpg,a;b\n2.jpg,a\n3.jpg,\n4.jpg,c\n")
    s = run_eval(EvalConfig("m.csv", truth="t.csv", min_confidence_levels=[0.5])).summary
    assert s["mode"] == "multi-label" and s["mode_from"] == "inferred"
    assert s["metrics"]["subset_accuracy"] == 0.5
    assert s["metrics"]["hamming_loss"] == pytest.approx(2 / 12)
    assert s["confusion"] is None
    assert s["levels"]["rows"][0]["accuracy"] == 0.5  # re-deciding at 0.5 gives the same sets
    # calibration over (row, label) pairs: 12 events
    assert s["calibration"]["n"] == 12


# -- one clear line per problem ----------------------------------------------------------------
def test_label_mismatch_is_one_line(plays):
    Path("truth.csv").write_text("source,label\nimg/c.jpg,Shooting\n")
    with pytest.raises(LlavaCliError, match=r"label sets differ.*'Shooting'.*case differs") as err:
        run_eval(EvalConfig(str(plays), truth="truth.csv"))
    assert "\n" not in str(err.value)


def test_empty_join_is_one_line(plays):
    Path("truth.csv").write_text("source,label\nnowhere/q.jpg,shooting\n")
    with pytest.raises(LlavaCliError, match=r"no prediction matched.*0 of 7 rows.*nowhere/q.jpg") as err:
        run_eval(EvalConfig(str(plays), truth="truth.csv"))
    assert "\n" not in str(err.value)


def test_truth_without_columns(plays):
    Path("truth.csv").write_text("file,class\nimg/c.jpg,shooting\n")
    with pytest.raises(OutputError, match=r"needs a 'source'.*and a 'label' column.*--truth-label-column.*file, class"):
        run_eval(EvalConfig(str(plays), truth="truth.csv"))
    Path("truth.csv").write_text("image,class\nimg/c.jpg,shooting\n")
    s = run_eval(EvalConfig(str(plays), truth="truth.csv", truth_label_column="class")).summary
    assert s["counts"]["evaluated"] == 1


def test_single_label_run_with_multi_label_truth(plays):
    Path("truth.csv").write_text("source,label\nimg/c.jpg,shooting;dribble\n")
    with pytest.raises(LlavaCliError, match="single-label"):
        run_eval(EvalConfig(str(plays), truth="truth.csv"))


def test_validate_lists_every_problem(tmp_path):
    with pytest.raises(UsageError) as err:
        EvalConfig(str(tmp_path / "none.csv"), truth="x.csv", truth_column="t", bins=0,
                   min_confidence_levels=[1.5]).validate()
    text = " | ".join(err.value.problems)
    for flag in ("PREDICTIONS", "--truth and --truth-column", "--truth x.csv", "--bins", "--min-confidence-levels"):
        assert flag in text
    with pytest.raises(UsageError, match="no ground truth"):
        EvalConfig(str(tmp_path / "none.csv")).validate()


def test_blank_single_label_truth_counts_as_no_truth(plays):
    Path("truth.csv").write_text(TRUTH_CSV + "img/e.jpg,,\n")
    s = run_eval(EvalConfig(str(plays), truth="truth.csv")).summary
    assert s["counts"]["evaluated"] == 6 and s["counts"]["predictions_without_truth"] == 1
    assert s["examples"]["predictions_without_truth"] == ["img/e.jpg"]
