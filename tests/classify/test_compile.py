"""classify --compile: the scoring forward through torch.compile, one graph per batch shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from llava_cli.classify.api import Classifier
from llava_cli.config import ClassifyConfig

LABELS = ["shooting", "dribbling", "pass"]


def _images(n):
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 255, (30 + 7 * i, 40, 3), dtype=np.uint8)) for i in range(n)]


def test_short_batches_are_padded_to_one_shape_and_cut_back(tiny_loaded, monkeypatch):
    shapes = []

    def fake_compile(model, **kwargs):  # records what the compiled module would be called with
        assert kwargs.get("dynamic") is False

        def call(**inputs):
            shapes.append(tuple(inputs["input_ids"].shape))
            return model(**inputs)

        return call

    monkeypatch.setattr(torch, "compile", fake_compile)
    images = _images(5)
    eager = Classifier(tiny_loaded, LABELS).predict_proba(images, batch_size=3)
    got = Classifier(tiny_loaded, LABELS, compile=True).predict_proba(images, batch_size=3)
    assert got.shape == (5, 3)
    torch.testing.assert_close(got, eager, rtol=0, atol=1e-6)
    # Two batches (3 + 2 images), each a prefix pass and a label pass; the short one padded to 3.
    assert len(shapes) == 4 and {s[0] for s in shapes} == {3}
    assert len({s for s in shapes[::2]}) == 1 and len({s for s in shapes[1::2]}) == 1


def test_compiled_scoring_equals_eager(tiny_loaded):
    """A real torch.compile (the first batch compiles, ~20 s on 2 cores)."""
    images = _images(4)
    eager = Classifier(tiny_loaded, LABELS).predict_proba(images, batch_size=3)
    got = Classifier(tiny_loaded, LABELS, compile=True).predict_proba(images, batch_size=3)
    torch.testing.assert_close(got, eager, rtol=0, atol=1e-5)


def test_compile_is_recorded_but_not_a_row_setting(tiny_model_dir):
    from llava_cli.classify.rows import classify_row_settings, run_info

    cfg = ClassifyConfig(labels=LABELS, compile=True)
    cfg.model.model = tiny_model_dir
    assert run_info(cfg, None, None)["compile"] is True
    plain = ClassifyConfig(labels=LABELS)
    plain.model.model = tiny_model_dir
    assert classify_row_settings(cfg) == classify_row_settings(plain)  # a compiled run resumes a plain one


@pytest.mark.parametrize("flag", [["--compile"], []])
def test_cli_flag_reaches_the_config(cli_app, tiny_model_dir, tmp_path, flag, monkeypatch):
    from typer.testing import CliRunner

    from llava_cli.classify import api as classify_mod

    seen = {}

    def fake_run(cfg, **_):
        seen["compile"] = cfg.compile
        raise SystemExit(0)

    monkeypatch.setattr(classify_mod, "run_classify", fake_run)
    image = tmp_path / "a.png"
    _images(1)[0].save(image)
    CliRunner().invoke(cli_app, ["classify", str(image), "-l", "a,b", "-m", tiny_model_dir, *flag])
    assert seen == {"compile": bool(flag)}
