"""Issue 12, items 9, 11, 12 for finetune: data outside --image-folder, bad rows with their true row
numbers, and one-line errors (never a traceback) for bad files and recipes."""

from __future__ import annotations

import json

import pytest
from factories import make_image, make_video
from typer.testing import CliRunner

from llava_cli.finetune.data import read_data
from llava_cli.errors import EXIT_USAGE


def one_error_line(result, *needles):
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == EXIT_USAGE, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def finetune(cli_app, *args):
    return CliRunner().invoke(cli_app, ["finetune", "--model", "/no/such/model", "--output", "never-written", *map(str, args)])


# -- item 9 --------------------------------------------------------------------------------------------
def test_video_rows_are_confined_to_the_image_folder(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    make_video(root / "inside.mp4", frames=5, fps=5.0)
    (tmp_path / "outside").mkdir()
    make_video(tmp_path / "outside" / "clip.mp4", frames=5, fps=5.0)
    csv = root / "labels.csv"
    csv.write_text(
        "source,frame,label\n"
        "inside.mp4,0,cat\n"
        "../outside/clip.mp4,0,dog\n"
        f"{tmp_path / 'outside' / 'clip.mp4'},1,dog\n"
    )
    data = read_data(csv, labels=["cat", "dog"], prompt=None, image_folder=str(root), frame_dir=tmp_path / "frames")
    assert [c.row for c in data.conversations] == [2]
    assert [(b.row, "escapes --image-folder" in b.reason) for b in data.bad] == [(3, True), (4, True)]
    assert len(list((tmp_path / "frames").iterdir())) == 1  # nothing outside was even decoded


def test_class_folders_do_not_follow_links_out(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    make_image(secret / "private.png")
    data_root = tmp_path / "classes"
    for name in ("cat", "dog"):
        (data_root / name).mkdir(parents=True)
        make_image(data_root / name / "ok.png")
    (data_root / "cat" / "leak.png").symlink_to(secret / "private.png")
    (data_root / "dog" / "linked").symlink_to(secret, target_is_directory=True)  # not walked into by rglob
    (data_root / "cat" / "inner.png").symlink_to(data_root / "dog" / "ok.png")  # inside the root: fine
    data = read_data(data_root, labels=[], prompt=None, image_folder=None)
    assert sorted(c.image.name for c in data.conversations) == ["inner.png", "ok.png", "ok.png"]
    (bad,) = data.bad
    assert "leak.png" in bad.reason and "outside" in bad.reason


# -- item 11 -------------------------------------------------------------------------------------------
def conversation(question="<image>\nWhat is it?", answer="A cat."):
    return {"image": "a.png", "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]}


def test_every_llava_sample_is_checked_with_its_number(tmp_path):
    make_image(tmp_path / "a.png")
    items = [conversation() for _ in range(9)]
    items[1]["conversations"][1]["value"] = None
    items[2]["conversations"][1]["value"] = ["list", "answer"]
    items[6]["conversations"].reverse()  # gpt first, far past the first few samples
    items[7]["conversations"].append({"from": "gpt", "value": "twice"})
    items[8]["conversations"][0]["value"] = 42
    path = tmp_path / "train.json"
    path.write_text(json.dumps(items))
    data = read_data(path, labels=[], prompt=None, image_folder=str(tmp_path))
    reasons = {b.row: b.reason for b in data.bad}
    assert sorted(reasons) == [2, 3, 7, 8, 9]
    assert "'value' must be text (got NoneType)" in reasons[2] and "(got list)" in reasons[3]
    assert "first turn must be human" in reasons[7] and "take turns" in reasons[8]
    assert [c.row for c in data.conversations] == [1, 4, 5, 6]
    assert all(isinstance(t.text, str) and t.text not in ("None", "['list', 'answer']") for c in data.conversations for t in c.turns)


def test_json_lines_rows_are_line_numbers(tmp_path):
    make_image(tmp_path / "a.png")
    lines = [json.dumps(conversation()), "", json.dumps(conversation(answer=None)), "{broken", "", json.dumps(conversation())]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    data = read_data(path, labels=[], prompt=None, image_folder=str(tmp_path))
    assert [(b.row, b.reason.split(" (")[0]) for b in data.bad] == [(3, "turn 2: 'value' must be text"), (4, "not valid JSON")]
    assert [c.row for c in data.conversations] == [1, 6]


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    make_image(tmp_path / "a.png")
    csv = tmp_path / "labels.csv"
    # row 1 header, 2 ok, 3 blank, 4 ok, 5 blank, 6 NaN label, 7 a quoted newline in a cell, 8 missing image
    csv.write_text('source,label\na.png,cat\n\na.png,dog\n,\na.png,NaN\n"a.png",dog\nnone.png,cat\n')
    data = read_data(csv, labels=[], prompt=None, image_folder=None)
    assert data.labels == ["cat", "dog"]  # NaN is no class
    assert [(b.row, b.reason.split(" ")[0]) for b in data.bad] == [(6, "label"), (8, "image")]
    assert "missing value" in data.bad[0].reason
    assert [c.row for c in data.conversations] == [2, 4, 7]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('source,label\n"a.png",cat\nnone.png,"two\nlines"\nnone.png,cat\n')
    assert [b.row for b in read_data(quoted, labels=["cat"], prompt=None, image_folder=None).bad] == [3, 4]


# -- item 12: one line, not a traceback, before any model loads -------------------------------------------
def test_non_utf8_csv_is_one_line(cli_app, tmp_path):
    data = tmp_path / "labels.csv"
    data.write_bytes(b"source,label\na.png,cat\nb.png,caf\xe9\n")
    one_error_line(finetune(cli_app, "--data", data), "labels.csv row 3: not UTF-8")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [("batch_size: abc", "batch_size must be a whole number (got 'abc')"), ("lora_r: 4.5", "lora_r must be a whole number (got 4.5)"),
     ("gradient_checkpointing: maybe", "must be true or false"), ("lr: [1]", "lr must be a finite number")],
)
def test_recipe_values_of_the_wrong_type_are_one_line(cli_app, tmp_path, setting, needle):
    data = tmp_path / "labels.csv"
    data.write_text("source,label\na.png,cat\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"stage: lora\n{setting}\n")
    one_error_line(finetune(cli_app, "--config", recipe, "--data", data), needle)


def test_recipe_number_without_a_dot_is_a_number(tmp_path):
    from llava_cli.finetune.config import load_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("lr: 1e-4\n")  # YAML 1.1 reads this as text
    assert load_recipe(str(recipe))["lr"] == 1e-4


def test_fifo_as_data_is_refused(cli_app, tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.csv")
    one_error_line(finetune(cli_app, "--data", tmp_path / "pipe.csv"), "not a regular file")
