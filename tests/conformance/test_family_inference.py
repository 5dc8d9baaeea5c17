"""classify and chat on every family: probabilities against an independent reference, and a
multi-turn chat whose model input is the checkpoint's own template rendering of the history."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from test_llava_formats import FAMILIES

LABELS = ["red", "green", "pass", "passing"]
IMAGES = [Image.new("RGB", (60, 40), (200, 30, 30)), Image.new("RGB", (30, 50), (20, 180, 40))]


@pytest.fixture(scope="module")
def family_loaded(family_dir):
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_model(ModelConfig(model=family_dir(name), device="cpu", dtype="float32"))
        return cache[name]

    return get


def reference_logprob(loaded, image, prompt: str, answer_ids: list[int]) -> float:
    """log P(answer) from one plain forward of prompt+answer, no cache, no packing."""
    processor = loaded.processor
    enc = processor(images=[image], text=[prompt], return_tensors="pt")
    ids = torch.cat([enc["input_ids"], torch.tensor([answer_ids])], dim=1)
    extra = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask")}
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids), **extra).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    start = enc["input_ids"].shape[1]
    return float(sum(logp[start - 1 + k, t] for k, t in enumerate(answer_ids)))


@pytest.mark.parametrize("family", FAMILIES)
def test_classify_probabilities_equal_reference(family, family_loaded):
    from llava_cli.classify.api import Classifier
    from llava_cli.model.prompts import render, render_prompt, user_message

    loaded = family_loaded(family)
    clf = Classifier(loaded, LABELS)
    probs = clf.predict_proba(IMAGES)
    prompt = render(loaded.processor, [user_message(render_prompt(None, LABELS))], add_generation_prompt=True)
    for row, image in enumerate(IMAGES):
        logps = torch.tensor([reference_logprob(loaded, image, prompt, list(a.ids)) for a in clf.answers])
        assert torch.allclose(probs[row], torch.softmax(logps, 0), atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_chat_history_is_the_templates_rendering(family, family_loaded, monkeypatch):
    from llava_cli.chat.session import ChatSession
    from llava_cli.model.prompts import assistant_message, user_message

    loaded = family_loaded(family)
    seen: list[list[int]] = []
    real_generate = loaded.model.generate

    def recording_generate(**kwargs):
        seen.append(kwargs["input_ids"][0].tolist())
        return real_generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", recording_generate)
    session = ChatSession(loaded, IMAGES[0], max_new_tokens=3)
    first = session.ask("What colour is it?")
    session.ask("Is it round?")
    history = [user_message("What colour is it?"), assistant_message(first), user_message("Is it round?", with_image=False)]
    text = loaded.processor.apply_chat_template(history, add_generation_prompt=True, tokenize=False)
    expected = loaded.processor(images=[IMAGES[0]], text=[text], return_tensors="pt")["input_ids"][0].tolist()
    assert seen[1] == expected
