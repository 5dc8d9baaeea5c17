"""--system on classify, annotate and finetune: the system message comes first, as the template renders it,
and finetune asks exactly what classify asks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factories import make_image
from llava_cli.annotate.api import AnnotateConfig, Annotator, run_annotate
from llava_cli.model.chat_templates import LLAVA15_SYSTEM_PROMPT
from llava_cli.classify.api import Classifier, run_classify
from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig
from llava_cli.errors import UsageError
from llava_cli.model.prompts import render, system_message, user_message

LABELS = ["shooting", "dribbling", "passing"]


def system_as_rendered(processor, text: str) -> str:
    """How the template writes the system message on its own (llava-1.5: the text, then a space)."""
    return render(processor, [system_message(text)], add_generation_prompt=False)


def test_classify_prompt_starts_with_the_system_message(tiny_loaded):
    clf = Classifier(tiny_loaded, LABELS, system=LLAVA15_SYSTEM_PROMPT)
    head = system_as_rendered(tiny_loaded.processor, LLAVA15_SYSTEM_PROMPT)
    assert head.startswith(LLAVA15_SYSTEM_PROMPT)
    assert clf.prefix_text.startswith(head)
    plain = Classifier(tiny_loaded, LABELS)
    assert clf.prefix_text == head + plain.prefix_text  # the system message is all that changes
    assert not plain.prefix_text.startswith(LLAVA15_SYSTEM_PROMPT)


def test_classify_dry_run_shows_the_system_message(cli_app, tiny_model_dir, tmp_path):
    image = make_image(tmp_path / "a.png")
    result = CliRunner().invoke(
        cli_app,
        ["classify", str(image), "--labels", ",".join(LABELS), "--model", tiny_model_dir, "--system", LLAVA15_SYSTEM_PROMPT, "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[lines.index("system:") + 1].strip() == LLAVA15_SYSTEM_PROMPT
    rendered = lines[lines.index("rendered:") + 1]
    assert rendered.strip().startswith(LLAVA15_SYSTEM_PROMPT + " USER:")
    assert "images: fit pad, decoding full (exact)" in result.output


def test_empty_system_is_a_usage_error(tmp_path):
    cfg = ClassifyConfig(labels=LABELS, inputs=InputConfig(paths=["x.jpg"]), system="  ")
    with pytest.raises(UsageError, match="--system is empty"):
        cfg.validate()
    with pytest.raises(UsageError, match="--system is empty"):
        AnnotateConfig(prompt="Hi", inputs=InputConfig(paths=["x.jpg"]), system="").validate()


def test_classify_and_annotate_record_the_system_message(tiny_loaded, tiny_model_dir, tmp_path):
    image = make_image(tmp_path / "a.png")
    model = ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32")
    run = run_classify(
        ClassifyConfig(labels=LABELS, model=model, inputs=InputConfig(paths=[str(image)]),
                       output=OutputConfig(out=str(tmp_path / "c.csv"), quiet=True), system=LLAVA15_SYSTEM_PROMPT),
        loaded=tiny_loaded,
    )
    sidecar = json.loads(run.sidecar.read_text())
    assert sidecar["system"] == LLAVA15_SYSTEM_PROMPT and sidecar["config"]["system"] == LLAVA15_SYSTEM_PROMPT

    annotator = Annotator(tiny_loaded, "Describe it.", system=LLAVA15_SYSTEM_PROMPT)
    assert annotator.prompt_text.startswith(system_as_rendered(tiny_loaded.processor, LLAVA15_SYSTEM_PROMPT))
    run = run_annotate(
        AnnotateConfig(prompt="Describe it.", model=model, inputs=InputConfig(paths=[str(image)]),
                       output=OutputConfig(out=str(tmp_path / "a.csv"), quiet=True), max_new_tokens=2,
                       system=LLAVA15_SYSTEM_PROMPT),
        loaded=tiny_loaded,
    )
    assert json.loads(run.sidecar.read_text())["system"] == LLAVA15_SYSTEM_PROMPT


def test_finetune_asks_what_classify_asks_with_system(tiny_loaded, tmp_path):
    from llava_cli.finetune.collate import ConversationEncoder
    from llava_cli.finetune.data import read_data
    from llava_cli.finetune.train import with_system_turn

    image = make_image(tmp_path / "a.png")
    csv = tmp_path / "train.csv"
    csv.write_text(f"source,label\n{image},dribbling\n")
    data = read_data(csv, labels=LABELS, prompt=None, image_folder=None)
    conversations = with_system_turn(LLAVA15_SYSTEM_PROMPT, data.conversations, str(csv))
    plan = ConversationEncoder(tiny_loaded.processor).plan(conversations[0])
    clf = Classifier(tiny_loaded, LABELS, system=LLAVA15_SYSTEM_PROMPT)
    assert plan.text.startswith(system_as_rendered(tiny_loaded.processor, LLAVA15_SYSTEM_PROMPT))
    prefix, answer = plan.answers[0]
    assert prefix == clf.prefix_text
    assert answer.ids == clf.answers[LABELS.index("dribbling")].ids

    assert with_system_turn(None, data.conversations, str(csv)) is data.conversations
    captions = tmp_path / "captions.csv"
    captions.write_text(f"image,caption\n{image},a red square\n")
    with pytest.raises(UsageError, match="--system applies to labelled data"):
        with_system_turn("Be brief.", read_data(captions, labels=[], prompt=None, image_folder=None).conversations, str(captions))
