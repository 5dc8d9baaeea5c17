"""Issue 12, data loss: a run writes only to a file it can prove is its own, or to none.

Each test makes the bad thing, runs the CLI, and checks the bytes of every file before and after,
the rows, the exit code, and that the refusal is a single `error:` line.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

import polars as pl
import pytest
from factories import make_image, make_video
from typer.testing import CliRunner

from llava_cli.batch.distributed import existing_parts, part_path
from llava_cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL
from llava_cli.output import escape_strings, read_rows, unescape_strings, write_sidecar
from llava_cli.batch.ownership import OutputLock

LABELS = "cat,dog"


def classify(cli_app, model, *args, labels=LABELS):
    argv = ["classify", *map(str, args), "--labels", labels, "--model", str(model), "--dtype", "float32", "--quiet"]
    return CliRunner().invoke(cli_app, argv)


def one_error_line(result, *needles):
    """The run printed exactly one line on stderr, an `error:` line holding every needle."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder):
    """Every file under `folder` with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """tmp_path as the working folder, with in/im01..im04.png."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    for i in range(1, 5):
        make_image(tmp_path / "in" / f"im{i:02d}.png", seed=i)
    return tmp_path


# -- item 1: an unrelated existing file is never damaged ----------------------------------------------
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("budget.csv", b"name,amount\nalice,10\nbob,20\ncarol,30"),  # no final newline: looked like a killed write
        ("notes.jsonl", b'{"important":"data"}\n'),
        ("table.parquet", b"PAR1 not really parquet"),
    ],
)
def test_unrelated_out_is_refused_before_a_byte_changes(cli_app, work, name, content):
    (work / name).write_bytes(content)
    (work / "link.csv").symlink_to(work / "budget.csv") if name == "budget.csv" else None
    before = snapshot(work)
    # a model that does not exist: the refusal must come before any attempt to load one
    for out in [name] + (["link.csv"] if name == "budget.csv" else []):
        result = classify(cli_app, work / "no-model", "in", "--out", out)
        assert result.exit_code == EXIT_FAILURE
        one_error_line(result, out, "--overwrite", "--out")
    assert snapshot(work) == before
    assert not (work / f"{name}.lock").exists()


def test_from_list_file_as_out_is_refused_even_with_overwrite(cli_app, tiny_model_dir, work):
    (work / "list.csv").write_text("source\nin/im01.png\nin/im02.png\n")
    before = snapshot(work)
    result = classify(cli_app, tiny_model_dir, "--from-list", "list.csv", "--out", "list.csv")
    assert result.exit_code == EXIT_FAILURE
    one_error_line(result, "--from-list", "another --out")
    result = classify(cli_app, tiny_model_dir, "--from-list", "list.csv", "--out", "./list.csv", "--overwrite")
    assert result.exit_code == EXIT_FAILURE
    one_error_line(result, "--from-list")
    assert snapshot(work) == before


# -- item 2 -----------------------------------------------------------------------------------------
def test_segments_naming_the_out_file_is_refused(cli_app, tiny_model_dir, work):
    make_video(work / "clip.mp4", frames=10, fps=5.0)
    assert classify(cli_app, tiny_model_dir, "clip.mp4", "--out", "rows.csv").exit_code == EXIT_OK
    before = snapshot(work)
    for segments in ("rows.csv", "./rows.csv", str(work / "rows.csv")):
        result = classify(cli_app, tiny_model_dir, "clip.mp4", "--out", "rows.csv", "--segments", segments)
        assert result.exit_code == EXIT_FAILURE
        one_error_line(result, "--segments")
    assert snapshot(work) == before


def test_segments_file_of_someone_else_is_refused(cli_app, tiny_model_dir, work):
    make_video(work / "clip.mp4", frames=10, fps=5.0)
    (work / "seg.csv").write_text("my,own\n1,2\n")
    before = snapshot(work)
    result = classify(cli_app, tiny_model_dir, "clip.mp4", "--out", "rows.csv", "--segments", "seg.csv")
    assert result.exit_code == EXIT_FAILURE
    one_error_line(result, "--segments seg.csv", "--overwrite")
    assert snapshot(work) == before
    # the segments file a run wrote is its own: rerunning the same command rewrites it
    assert classify(cli_app, tiny_model_dir, "clip.mp4", "--out", "rows.csv", "--segments", "s2.csv").exit_code == EXIT_OK
    assert classify(cli_app, tiny_model_dir, "clip.mp4", "--out", "rows.csv", "--segments", "s2.csv").exit_code == EXIT_OK


# -- item 3: Parquet's partial file gets the same check; no duplicate after a crash -------------------------
def test_parquet_partial_file_with_other_settings_is_refused(cli_app, tiny_model_dir, work):
    # a Parquet run killed after two rows: its sidecar and partial file, no Parquet file yet
    assert classify(cli_app, tiny_model_dir, "in", "--out", "full.jsonl").exit_code == EXIT_OK
    lines = (work / "full.jsonl").read_text().splitlines(keepends=True)
    (work / "o.parquet.partial.jsonl").write_text("".join(lines[:2]))
    shutil.copy(work / "full.jsonl.run.json", work / "o.parquet.run.json")
    before = snapshot(work)
    for other in (["--labels", "cat,bird"], ["--prompt", "Is it {labels_or}?"]):
        result = CliRunner().invoke(cli_app, ["classify", "in", "--out", "o.parquet", "--model", tiny_model_dir, "-q",
                                              *(other if other[0] == "--labels" else ["--labels", LABELS, *other])])
        assert result.exit_code == EXIT_FAILURE
        one_error_line(result, "o.parquet", "--overwrite")
    assert snapshot(work) == before
    # the same settings resume it: every image exactly once, the same rows as the JSON Lines run
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.parquet").exit_code == EXIT_OK
    done = read_rows(work / "o.parquet")
    assert sorted(done["source"].to_list()) == sorted(read_rows(work / "full.jsonl")["source"].to_list())
    assert not (work / "o.parquet.partial.jsonl").exists()


def test_crash_between_parquet_replace_and_partial_removal_does_not_duplicate(cli_app, tiny_model_dir, work):
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.parquet").exit_code == EXIT_OK
    finished = read_rows(work / "o.parquet")
    # the crash: the Parquet file already holds the partial file's rows, which are still there
    finished.write_ndjson(work / "o.parquet.partial.jsonl")
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.parquet").exit_code == EXIT_OK
    again = read_rows(work / "o.parquet")
    assert again.height == finished.height == 4
    assert again.select("source", "frame").is_duplicated().sum() == 0


# -- item 4: output names are files, never patterns ---------------------------------------------------------
def test_output_names_are_not_glob_patterns(cli_app, tiny_model_dir, work):
    assert classify(cli_app, tiny_model_dir, "in", "--out", "ab.csv").exit_code == EXIT_OK
    ab = (work / "ab.csv").read_bytes()
    result = classify(cli_app, tiny_model_dir, "in", "--out", "a?.csv")
    assert result.exit_code == EXIT_OK, result.output
    assert (work / "ab.csv").read_bytes() == ab
    assert json.loads((work / "a?.csv.run.json").read_text())["rows_resumed"] == 0
    assert read_rows(work / "a?.csv").height == 4
    # brackets: written, resumed (nothing new) and read by eval
    assert classify(cli_app, tiny_model_dir, "in", "--out", "res[v2].csv").exit_code == EXIT_OK
    assert classify(cli_app, tiny_model_dir, "in", "--out", "res[v2].csv").exit_code == EXIT_OK
    sidecar = json.loads((work / "res[v2].csv.run.json").read_text())
    assert (sidecar["rows_written"], sidecar["rows_resumed"]) == (0, 4)
    rows = read_rows(work / "res[v2].csv")
    pl.DataFrame({"source": rows["source"], "label": rows["label"]}).write_csv(work / "truth[1].csv")
    result = CliRunner().invoke(cli_app, ["eval", "res[v2].csv", "--truth", "truth[1].csv", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["accuracy"] == 1.0


def test_part_files_are_matched_by_exact_name(tmp_path):
    for name in ("ab.csv", "a*.csv"):
        part_path(tmp_path / name, 0, 2).write_text("")
    (tmp_path / "a*.csv.part-1-of-2.jsonl").write_text("")  # not a part file's name
    assert existing_parts(tmp_path / "a*.csv") == [part_path(tmp_path / "a*.csv", 0, 2)]
    assert existing_parts(tmp_path / "a?.csv") == []


# -- item 5: one writer per output ----------------------------------------------------------------------------
def test_a_second_run_on_an_output_in_use_stops_in_one_line(cli_app, tiny_model_dir, work):
    assert classify(cli_app, tiny_model_dir, "in/im01.png", "--out", "o.csv").exit_code == EXIT_OK
    before = snapshot(work)
    lock = OutputLock(work / "o.csv").acquire()  # as a running classify holds it
    try:
        result = classify(cli_app, tiny_model_dir, "in", "--out", "o.csv")
        assert result.exit_code == EXIT_FAILURE
        one_error_line(result, "in use", f"pid {os.getpid()}", "another --out")
    finally:
        lock.release()
    assert snapshot(work) == before
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.csv").exit_code == EXIT_OK  # free again
    assert read_rows(work / "o.csv").height == 4


def test_sidecar_writers_never_share_a_temporary_file(tmp_path):
    failures = []

    def write(n):
        try:
            for k in range(30):
                write_sidecar(tmp_path / "o.csv", {"writer": n, "k": k})
        except Exception as exc:  # collected: the assertion below reports it
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not failures
    assert json.loads((tmp_path / "o.csv.run.json").read_text())["k"] == 29
    assert [p.name for p in tmp_path.iterdir()] == ["o.csv.run.json"]


# -- item 6: every setting that changes rows is part of the proof --------------------------------------------
CHANGED_SETTINGS = [
    ["--calibrate"],
    ["--multi-label", "--threshold", "0.4"],
    ["--min-confidence", "0.6"],
    ["--fps", "2"],
    ["--every", "3"],
    ["--max-frames", "2"],
    ["--dedup", "0.02"],
    ["--prompt", "Which is it, {labels_or}?"],
]


def test_resume_refuses_any_other_row_setting(cli_app, tiny_model_dir, work):
    make_video(work / "clip.mp4", frames=10, fps=5.0)
    assert classify(cli_app, tiny_model_dir, "in", "clip.mp4", "--out", "o.csv").exit_code == EXIT_OK
    assert classify(cli_app, tiny_model_dir, "in", "clip.mp4", "--out", "m.csv", "--multi-label").exit_code == EXIT_OK
    before = snapshot(work)
    for extra in CHANGED_SETTINGS:
        result = classify(cli_app, tiny_model_dir, "in", "clip.mp4", "--out", "o.csv", *extra)
        assert result.exit_code == EXIT_FAILURE, extra
        one_error_line(result, f"another {extra[0]}", "--overwrite")
    # the threshold matters to multi-label rows only
    result = classify(cli_app, tiny_model_dir, "in", "clip.mp4", "--out", "m.csv", "--multi-label", "--threshold", "0.3")
    one_error_line(result, "another --threshold")
    assert snapshot(work) == before
    # the model folder spelled another way is the same model: nothing to redo
    assert classify(cli_app, tiny_model_dir + "/", "in", "clip.mp4", "--out", "o.csv").exit_code == EXIT_OK
    assert json.loads((work / "o.csv.run.json").read_text())["rows_written"] == 0


@pytest.mark.parametrize("sidecar", ["deleted", "broken", "old"])
def test_without_a_valid_sidecar_nothing_is_appended(cli_app, tiny_model_dir, work, sidecar):
    assert classify(cli_app, tiny_model_dir, "in/im01.png", "--out", "o.jsonl").exit_code == EXIT_OK
    path = work / "o.jsonl.run.json"
    if sidecar == "deleted":
        path.unlink()
    elif sidecar == "broken":
        path.write_text('{"model": ')
    else:
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "row_settings"}))
    before = snapshot(work)
    result = classify(cli_app, tiny_model_dir, "in", "--out", "o.jsonl", "--labels", "cat,bird")
    assert result.exit_code == EXIT_FAILURE
    one_error_line(result, "o.jsonl", "--overwrite")
    assert snapshot(work) == before


# -- item 7: a malformed row is refused, not counted as done ----------------------------------------------------
@pytest.mark.parametrize("bad", ["in/im04.png,,,dog,0.", "garbage here", "in/im04.png,x,,dog,0.5,0.5,0.5,"])
def test_malformed_row_in_the_middle_is_refused_by_line(cli_app, tiny_model_dir, work, bad):
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.csv").exit_code == EXIT_OK
    lines = (work / "o.csv").read_text().splitlines(keepends=True)
    (work / "o.csv").write_text("".join(lines[:2]) + bad + "\n" + "".join(lines[2:4]))  # im04's row replaced
    before = snapshot(work)
    result = classify(cli_app, tiny_model_dir, "in", "--out", "o.csv")
    assert result.exit_code == EXIT_FAILURE
    one_error_line(result, "o.csv line 3", "--overwrite")
    assert snapshot(work) == before


def test_killed_write_is_still_resumed(cli_app, tiny_model_dir, work):
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.csv").exit_code == EXIT_OK
    full = (work / "o.csv").read_bytes()
    (work / "o.csv").write_bytes(full[: full.index(b"\n", full.index(b"\n") + 1) + 20])  # header, a row, a part
    assert classify(cli_app, tiny_model_dir, "in", "--out", "o.csv").exit_code == EXIT_OK
    assert (work / "o.csv").read_bytes() == full


# -- item 8: error rows are redone, and the exit code covers the whole file -------------------------------------
def test_error_rows_are_retried_and_the_exit_code_reflects_the_file(cli_app, tiny_model_dir, work):
    (work / "in" / "im03.png").write_bytes(b"not yet an image")
    result = classify(cli_app, tiny_model_dir, "in", "--out", "o.csv")
    assert result.exit_code == EXIT_PARTIAL
    # rerun, still broken: the error row is redone (one row, not two) and the exit code says so
    result = classify(cli_app, tiny_model_dir, "in", "--out", "o.csv")
    assert result.exit_code == EXIT_PARTIAL
    rows = read_rows(work / "o.csv")
    assert rows.height == 4 and rows["error"].is_not_null().sum() == 1
    # a run on other inputs adds its rows; the file's error row still sets the exit code
    make_image(work / "extra.png", seed=9)
    result = CliRunner().invoke(cli_app, ["classify", "extra.png", "--labels", LABELS, "--model", tiny_model_dir, "--out", "o.csv"])
    assert result.exit_code == EXIT_PARTIAL
    assert "0 errors, 1 in the file" in result.stderr
    # fixed: the rerun replaces the error row with a real one
    make_image(work / "in" / "im03.png", seed=3)
    result = classify(cli_app, tiny_model_dir, "in", "extra.png", "--out", "o.csv")
    assert result.exit_code == EXIT_OK
    rows = read_rows(work / "o.csv")
    assert rows.height == 5 and rows["error"].is_null().all()
    assert sorted(rows["source"].to_list()) == sorted(["extra.png"] + [f"in/im{i:02d}.png" for i in range(1, 5)])


# -- item 10: CSV cells are safe in a spreadsheet and exact when read back ---------------------------------------
def test_csv_is_spreadsheet_safe_and_values_come_back_exact(cli_app, tiny_model_dir, work):
    from llava_cli.finetune.data import read_data

    make_image(work / "=2+2.png", seed=5)
    labels = ["=1+1", "+cmd", "@sum", "-x", "'quoted"]
    result = classify(cli_app, tiny_model_dir, "=2+2.png", "in/im01.png", "--out", "o.csv",
                      labels=",".join(labels))
    assert result.exit_code == EXIT_OK, result.output
    import csv

    records = list(csv.reader((work / "o.csv").open(newline="")))
    header, body = records[0], records[1:]
    assert header[3:5] == ["label", "confidence"] and header[5:10] == [f"p_{lab}" for lab in labels]
    for record in body:
        for name, cell in zip(header, record):
            if name in ("source", "label", "error"):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert body[0][0] == "'=2+2.png"
    rows = read_rows(work / "o.csv")
    assert rows["source"].to_list() == ["=2+2.png", "in/im01.png"]
    assert set(rows["label"].to_list()) <= set(labels)
    # resume reads the escaped sources exactly: nothing is redone
    assert classify(cli_app, tiny_model_dir, "=2+2.png", "in/im01.png", "--out", "o.csv", labels=",".join(labels)).exit_code == 0
    assert json.loads((work / "o.csv.run.json").read_text())["rows_written"] == 0
    # eval and finetune see the labels as they are
    rows.select("source", "label").write_csv(work / "truth.csv")  # plain CSV written by hand: no escaping
    result = CliRunner().invoke(cli_app, ["eval", "o.csv", "--truth", "truth.csv", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["metrics"]["accuracy"] == 1.0, result.output
    data = read_data(work / "o.csv", labels=labels, prompt=None, image_folder=None)
    assert not data.bad and [c.label for c in data.conversations] == rows["label"].to_list()
    assert data.conversations[0].image.name == "=2+2.png"


def test_number_columns_are_never_escaped():
    df = pl.DataFrame({"source": ["-a.png", "b.png"], "timestamp_s": [-0.5, 1.0], "frame": [-1, 2]})
    escaped = escape_strings(df)
    assert escaped["source"].to_list() == ["'-a.png", "b.png"]
    assert escaped["timestamp_s"].to_list() == [-0.5, 1.0] and escaped["frame"].to_list() == [-1, 2]
    assert unescape_strings(escaped).equals(df)


# -- smaller: one row per file, however it is named ------------------------------------------------------------
def test_same_file_by_relative_and_absolute_path_is_one_row(cli_app, tiny_model_dir, work):
    assert classify(cli_app, tiny_model_dir, "in/im01.png", "--out", "o.csv").exit_code == EXIT_OK
    result = classify(cli_app, tiny_model_dir, str(work / "in" / "im01.png"), "./in/im01.png", "in/im02.png", "--out", "o.csv")
    assert result.exit_code == EXIT_OK
    rows = read_rows(work / "o.csv")
    assert rows["source"].to_list() == ["in/im01.png", "in/im02.png"]  # written as given


def test_dangling_symlink_in_a_folder_is_an_error_row(cli_app, tiny_model_dir, work):
    (work / "in" / "gone.png").symlink_to(work / "nowhere.png")
    result = classify(cli_app, tiny_model_dir, "in", "--out", "o.csv")
    assert result.exit_code == EXIT_PARTIAL
    rows = read_rows(work / "o.csv")
    (error,) = rows.filter(pl.col("error").is_not_null())["error"].to_list()
    assert "in/gone.png: broken symbolic link" in error and rows.height == 5


# -- under accelerate launch: the main process decides for all --------------------------------------------------
@pytest.mark.slow
def test_launch_refuses_in_every_process_and_retries_error_rows(cli_app, tiny_model_dir, tmp_path):
    from test_distributed import launch

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        make_image(folder / f"im{i}.png", seed=i)
    (folder / "late.png").write_bytes(b"not written yet")
    out = tmp_path / "o.csv"
    assert classify(cli_app, tiny_model_dir, folder, "--out", out, labels="shooting,dribbling,passing").exit_code == EXIT_PARTIAL
    before = snapshot(tmp_path)
    refused = launch(tiny_model_dir, [folder], out, "--prompt", "Is it {labels_or}?")
    assert refused.returncode != 0 and "another --prompt" in refused.stderr, refused.stdout + refused.stderr
    # each process stops with the main one's line (accelerate then reports the exit in its own words)
    assert len({line for line in refused.stderr.splitlines() if line.startswith("error: ")}) == 1
    assert "llava_cli/" not in refused.stderr  # no traceback of ours
    assert snapshot(tmp_path) == before
    make_image(folder / "late.png", seed=7)
    done = launch(tiny_model_dir, [folder], out)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_rows(out)
    assert rows.height == 4 and rows["error"].is_null().all()
    assert not existing_parts(out)
