"""Issue 12, items 12, 13 and the smaller ones: one `error:` line instead of a traceback (checked
before the model loads), never a hang on a FIFO, list files and labels read exactly, and no
library warnings on the user's terminal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_image, make_video
from typer.testing import CliRunner

from llava_cli.config import parse_labels
from llava_cli.errors import EXIT_FAILURE, EXIT_PARTIAL, EXIT_USAGE, UsageError
from llava_cli.media.inputs import find_inputs
from llava_cli.output import read_rows

NO_MODEL = "/no/such/model"  # errors must come before any model is loaded


def one_error_line(result, code, *needles):
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def invoke(cli_app, *args, stdin=None):
    return CliRunner().invoke(cli_app, [str(a) for a in args], input=stdin)


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image(tmp_path / "a.png", seed=1)
    return tmp_path


# -- item 12: one line, before the model loads ---------------------------------------------------------
def test_out_or_segments_naming_a_folder_is_one_line(cli_app, work):
    (work / "results").mkdir()
    one_error_line(invoke(cli_app, "classify", "a.png", "--labels", "a,b", "--model", NO_MODEL, "--out", "results"),
                   EXIT_USAGE, "--out results is a folder")
    one_error_line(invoke(cli_app, "classify", "a.png", "--labels", "a,b", "--model", NO_MODEL, "--segments", "results"),
                   EXIT_USAGE, "--segments results is a folder")
    (work / "plain.txt").write_text("a file, so nothing can be made under it")
    one_error_line(invoke(cli_app, "classify", "a.png", "--labels", "a,b", "--model", NO_MODEL, "--segments", "plain.txt/seg.csv"),
                   EXIT_FAILURE, "--segments plain.txt/seg.csv: cannot create its folder")
    assert sorted(p.name for p in work.iterdir()) == ["a.png", "plain.txt", "results"]


def test_non_utf8_prompt_file_and_list_are_one_line(cli_app, work):
    (work / "prompt.txt").write_bytes(b"Is it a caf\xe9?")
    one_error_line(invoke(cli_app, "classify", "a.png", "--labels", "a,b", "--model", NO_MODEL, "--prompt-file", "prompt.txt"),
                   EXIT_USAGE, "--prompt-file prompt.txt line 1: not UTF-8")
    (work / "list.txt").write_bytes(b"a.png\n\xff\xfe.png\n")
    one_error_line(invoke(cli_app, "classify", "--from-list", "list.txt", "--labels", "a,b", "--model", NO_MODEL),
                   EXIT_USAGE, "--from-list list.txt line 2: not UTF-8")


@pytest.mark.parametrize("at", ["nan", "inf", "-1"])
def test_chat_at_not_a_time_is_one_line(cli_app, work, at):
    make_video(work / "clip.mp4", frames=10, fps=5.0)
    one_error_line(invoke(cli_app, "chat", "clip.mp4", "--at", at, "-p", "What?", "--model", NO_MODEL), EXIT_USAGE, "--at")


def test_chat_at_past_the_end_is_one_line(cli_app, work):
    make_video(work / "clip.mp4", frames=10, fps=5.0)
    one_error_line(invoke(cli_app, "chat", "clip.mp4", "--at", "1e308", "-p", "What?", "--model", NO_MODEL),
                   EXIT_FAILURE, "past the end of the video (2.00 s long)")


def test_chat_session_rejects_a_nan_time_and_goes_on(tiny_loaded, work):
    from llava_cli.chat.session import ChatSession
    from llava_cli.errors import InputError

    make_video(work / "clip.mp4", frames=10, fps=5.0)
    session = ChatSession(tiny_loaded, str(work / "a.png"))
    with pytest.raises(InputError, match="--at nan"):
        session.set_image(str(work / "clip.mp4"), at=float("nan"))
    assert session.image.source == str(work / "a.png")


@pytest.mark.parametrize("command", ["annotate", "chat"])
def test_temperature_nan_is_refused(cli_app, work, command):
    args = ["annotate", "a.png", "--prompt", "What?"] if command == "annotate" else ["chat", "a.png", "-p", "What?"]
    one_error_line(invoke(cli_app, *args, "--temperature", "nan", "--model", NO_MODEL), EXIT_USAGE, "--temperature must be a number >= 0")


# -- item 13: FIFOs are never opened -------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_fifos_in_inputs_become_error_rows(cli_app, tiny_model_dir, work):
    os.mkfifo(work / "v.mp4")
    (work / "imgs").mkdir()
    make_image(work / "imgs" / "b.png", seed=2)
    os.mkfifo(work / "imgs" / "pipe.png")
    (work / "list.txt").write_text("a.png\nv.mp4\n")
    result = invoke(cli_app, "classify", "imgs", "--from-list", "list.txt", "--labels", "a,b", "--model", tiny_model_dir,
                    "--out", "o.csv", "-q")
    assert result.exit_code == EXIT_PARTIAL, result.output
    rows = read_rows(work / "o.csv")
    errors = {Path(s).name: e for s, e in zip(rows["source"], rows["error"]) if e}
    assert set(errors) == {"v.mp4", "pipe.png"} and all("not a regular file" in e for e in errors.values())
    assert rows.height == 4


@pytest.mark.timeout(60)
def test_chat_never_opens_a_fifo(cli_app, tiny_loaded, work):
    from llava_cli.chat.session import ChatSession
    from llava_cli.chat.repl import ChatRepl

    os.mkfifo(work / "pipe.mp4")
    os.mkfifo(work / "pipe.md")
    one_error_line(invoke(cli_app, "chat", "pipe.mp4", "-p", "What?", "--model", NO_MODEL), EXIT_FAILURE, "not a regular file")
    err = io.StringIO()
    repl = ChatRepl(ChatSession(tiny_loaded, str(work / "a.png")), stdin=io.StringIO("/image pipe.mp4\n/save pipe.md\n/quit\n"),
                    out=io.StringIO(), err=err)
    assert repl.run() == 0
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "pipe.mp4: not a regular file" in errors[0] and "pipe.md: not a regular file" in errors[1]


@pytest.mark.timeout(60)
def test_fifo_out_list_and_prompt_file_are_refused(cli_app, work):
    for name in ("o.csv", "list.txt", "prompt.txt"):
        os.mkfifo(work / name)
    base = ["classify", "a.png", "--labels", "a,b", "--model", NO_MODEL]
    one_error_line(invoke(cli_app, *base, "--out", "o.csv"), EXIT_USAGE, "--out o.csv is not a regular file")
    one_error_line(invoke(cli_app, *base, "--from-list", "list.txt"), EXIT_USAGE, "--from-list list.txt: not a regular file")
    one_error_line(invoke(cli_app, *base, "--prompt-file", "prompt.txt"), EXIT_USAGE, "--prompt-file prompt.txt: not a regular file")


# -- smaller -------------------------------------------------------------------------------------------------
def test_from_list_keeps_names_exactly(work):
    for name in ("#x.png", " lead.png", "new\nline.png"):
        make_image(work / name, seed=3)
    (work / "list.txt").write_text("#x.png\n lead.png\n\n")
    assert [i.source for i in find_inputs([], "list.txt")] == ["#x.png", " lead.png"]
    (work / "list.csv").write_text('source,label\n"new\nline.png",x\n" lead.png",y\n\'#x.png,z\n')
    assert [i.source for i in find_inputs([], "list.csv")] == ["new\nline.png", " lead.png", "#x.png"]


def test_labels_take_csv_quoting(cli_app, tiny_model_dir, work):
    assert parse_labels('"a,b",c') == ["a,b", "c"]
    assert parse_labels('a, "say ""hi""",c') == ["a", 'say "hi"', "c"]
    with pytest.raises(UsageError, match="quote a label"):
        parse_labels('"a,b,c')
    result = invoke(cli_app, "classify", "a.png", "--labels", '"a,b",c', "--model", tiny_model_dir, "--out", "o.csv", "-q")
    assert result.exit_code == 0, result.output
    assert read_rows(work / "o.csv").columns[5:7] == ["p_a,b", "p_c"]


def test_semicolon_label_with_multi_label_is_refused(cli_app, work):
    one_error_line(invoke(cli_app, "classify", "a.png", "--labels", "a;b,c", "--multi-label", "--model", NO_MODEL, "--dry-run"),
                   EXIT_USAGE, "a;b")


@pytest.mark.slow
def test_pillow_warnings_do_not_reach_the_terminal(tiny_model_dir, work):
    """DecompressionBombWarning (an allowed but large image) and a corrupt EXIF block: the image
    decodes, its row is written, and stderr holds no warning."""
    from PIL import Image

    Image.new("RGB", (40, 30), (9, 9, 9)).save(work / "large.png")  # 1200 px > the limit set below
    bad_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x0f\x01\x02\x00\x10\x00\x00\x00\x1a\x00\x00\x00"
    Image.new("RGB", (20, 10), (1, 2, 3)).save(work / "exif.jpg", exif=bad_exif)
    script = (
        "import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = 1000; from llava_cli.cli import main; "
        f"sys.argv = ['llava-cli', 'classify', 'large.png', 'exif.jpg', '--labels', 'a,b', '--model', {tiny_model_dir!r}, '-o', 'o.csv']; main()"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]), "PYTHONWARNINGS": "default"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and proc.stderr.startswith("wrote 2 rows"), proc.stderr
    assert read_rows(work / "o.csv")["error"].is_null().all()
