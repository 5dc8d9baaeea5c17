"""Held-out label accuracy scores with classify's own Classifier, built straight from the model in
training (`Classifier.from_model`), with no LoadedModel or ModelConfig made up for it."""

from pathlib import Path

from PIL import Image

from llava_cli.classify.api import Classifier
from llava_cli.finetune.data import labelled_conversation
from llava_cli.finetune.trainer import LabelAccuracy
from llava_cli.media.video import load_image

LABELS = ["red", "green", "blue"]
COLOURS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}


def test_from_model_scores_exactly_as_from_a_loaded_model(tiny_loaded):
    images = [Image.new("RGB", (40, 40), c) for c in COLOURS.values()]
    direct = Classifier.from_model(tiny_loaded.model, tiny_loaded.processor, LABELS, system="Be brief.")
    loaded = Classifier(tiny_loaded, LABELS, system="Be brief.")
    assert direct.loaded is None and direct.prompt == loaded.prompt
    assert direct.scorer.device == loaded.scorer.device
    assert (direct.predict_proba(images) - loaded.predict_proba(images)).abs().max() == 0


def test_label_accuracy_is_the_share_classify_gets_right(tiny_loaded, tmp_path):
    val = []
    for row, (label, colour) in enumerate(COLOURS.items(), start=1):
        path = Path(tmp_path / f"{label}.png")
        Image.new("RGB", (40, 40), colour).save(path)
        val.append(labelled_conversation(path, label, LABELS, None, row))
    probs = Classifier(tiny_loaded, LABELS).predict_proba([load_image(c.image) for c in val])
    expected = sum(LABELS[int(p.argmax())] == c.label for p, c in zip(probs, val)) / len(val)
    model = tiny_loaded.model
    model.train()
    try:
        accuracy = LabelAccuracy(tiny_loaded.processor, LABELS, None, val, batch_size=2)(model)
        assert model.training  # put back as it was
    finally:
        model.eval()  # the shared fixture stays as loaded
    assert accuracy == expected
