"""Label probabilities against an independent reference computation on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.classify.api import Classifier, content_free_images, decide
from llava_cli.model.prompts import render, render_prompt, user_message

LABELS = ["shooting", "dribbling", "passing", "pass", "zebra crossing"]


def _images(n=3):
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 255, (30 + 9 * i, 44, 3), dtype=np.uint8)) for i in range(n)]


def reference_log_likelihood(loaded, image, prompt_text, label):
    """Sum of log P(token) over the label's tokens and the end token, by a plain forward pass
    over the whole text prompt + answer + "</s>" (no cache, no packing, no batching)."""
    processor, model = loaded.processor, loaded.model
    prefix = render(processor, [user_message(prompt_text)], add_generation_prompt=True)
    prefix_ids = processor(images=[image], text=[prefix], return_tensors="pt")["input_ids"]
    full = processor(images=[image], text=[prefix + " " + label + processor.tokenizer.eos_token], return_tensors="pt")
    with torch.no_grad():
        logits = model(**full).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    ids = full["input_ids"][0]
    start = prefix_ids.shape[1]
    assert torch.equal(ids[:start], prefix_ids[0]), "prompt tokens must be a prefix of prompt+answer"
    return sum(logp[pos - 1, ids[pos]].item() for pos in range(start, len(ids)))


def test_probabilities_match_reference(tiny_loaded):
    clf = Classifier(tiny_loaded, LABELS)
    images = _images()
    got = clf.predict_proba(images, batch_size=2)
    prompt = render_prompt(None, LABELS)
    ref_ll = torch.tensor([[reference_log_likelihood(tiny_loaded, im, prompt, lab) for lab in LABELS] for im in images])
    ref = torch.softmax(ref_ll, dim=-1)
    assert got.shape == (3, len(LABELS))
    assert torch.allclose(got, ref, atol=1e-5), (got, ref)
    assert torch.allclose(got.sum(-1), torch.ones(3), atol=1e-6)


def test_prefix_labels_are_distinct(tiny_loaded):
    """'pass' is a token prefix of 'passing'-like labels: the end token keeps them apart."""
    clf = Classifier(tiny_loaded, ["pass", "pass word", "passing"])
    ids = [a.ids for a in clf.answers]
    assert ids[1][: len(ids[0]) - 1] == ids[0][:-1], "test needs labels that share a token prefix"
    logp = clf.log_likelihoods([clf.encode(im) for im in _images(2)])
    assert not torch.allclose(logp[:, 0], logp[:, 1])
    assert all(a.ids[-1] == tiny_loaded.tokenizer.eos_token_id for a in clf.answers)


def test_batch_size_does_not_change_results(tiny_loaded):
    clf = Classifier(tiny_loaded, LABELS)
    images = _images(5)
    one = clf.predict_proba(images, batch_size=1)
    many = clf.predict_proba(images, batch_size=4)
    assert torch.allclose(one, many, atol=1e-5)


def test_calibration_divides_out_content_free_probabilities(tiny_loaded):
    plain = Classifier(tiny_loaded, LABELS)
    calibrated = Classifier(tiny_loaded, LABELS, calibrate=True)
    images = _images(2)
    p = plain.predict_proba(images)
    cf = plain.predict_proba(content_free_images()).mean(0)
    expected = (p / cf) / (p / cf).sum(-1, keepdim=True)
    got = calibrated.predict_proba(images)
    assert torch.allclose(calibrated.calibration, cf, atol=1e-6)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, p, atol=1e-4)


def test_custom_prompt_placeholders():
    text = render_prompt("Is it {labels_or}? Answer {labels}. JSON: {\"a\": 1}", ["cat", "dog", "bird"])
    assert text == 'Is it cat, dog or bird? Answer "cat", "dog", "bird". JSON: {"a": 1}'


@pytest.mark.parametrize(
    ("probs", "kwargs", "expected"),
    [
        ([0.2, 0.7, 0.1], {}, ("b", 0.7)),
        ([0.4, 0.35, 0.25], {"min_confidence": 0.5}, ("unsure", 0.4)),
        ([0.45, 0.3, 0.25], {"multi_label": True, "threshold": 0.28}, ("a;b", 0.45)),
        ([0.5, 0.3, 0.2], {"multi_label": True, "threshold": 0.6}, ("", 0.5)),
    ],
)
def test_decide(probs, kwargs, expected):
    assert decide(probs, ["a", "b", "c"], **kwargs) == expected
