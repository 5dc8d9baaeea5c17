"""LabelScorer (cached prefix + one packed continuation pass) equals a plain per-label forward."""

from __future__ import annotations

import pytest
import torch

from llava_cli.model.batching import collate, encode
from llava_cli.model.prompts import answer_tokens, render, user_message
from llava_cli.model.scoring import LabelScorer

# "pass"/"passing" share a prefix; "purple square" and "zebra" are unknown to the tiny tokenizer's
# corpus, so they split into several tokens.
LABELS = ["pass", "passing", "purple square", "zebra"]


def reference_scores(model, features: dict, answers) -> torch.Tensor:
    """log P(label + end token | prefix) by running prefix+label through the model with no cache."""
    out = torch.zeros(len(answers))
    for j, answer in enumerate(answers):
        ids = torch.tensor([answer.ids])
        input_ids = torch.cat([features["input_ids"], ids], dim=1)
        mask = torch.ones_like(input_ids)
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=mask, pixel_values=features["pixel_values"]).logits
        logp = torch.log_softmax(logits[0].float(), dim=-1)
        start = features["input_ids"].shape[1]
        out[j] = sum(logp[start - 1 + k, t] for k, t in enumerate(answer.ids))
    return out


def _features(loaded, images, prompts):
    processor = loaded.processor
    return [
        encode(processor, image, render(processor, [user_message(p)], add_generation_prompt=True))
        for image, p in zip(images, prompts)
    ]


def _images(n):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.mark.parametrize("prompts", [["What is it?"] * 2, ["What is it?", "Name the thing you see in this picture, please."]])
def test_label_scorer_matches_reference(tiny_loaded, prompts):
    history = [user_message(prompts[0])]
    answers = [answer_tokens(tiny_loaded.processor, history, lab) for lab in LABELS]
    assert any(len(a.label_ids) > 1 for a in answers), "want at least one multi-token label"
    feats = _features(tiny_loaded, _images(len(prompts)), prompts)
    batch = collate(feats, tiny_loaded.tokenizer.pad_token_id)
    if len(set(prompts)) > 1:
        assert (batch["attention_mask"] == 0).any(), "want a left-padded row"
    scorer = LabelScorer(tiny_loaded.model, answers, tiny_loaded.device, tiny_loaded.dtype)
    got = scorer.score(batch)
    for row, f in enumerate(feats):
        torch.testing.assert_close(got[row], reference_scores(tiny_loaded.model, f, answers), atol=1e-5, rtol=1e-5)
