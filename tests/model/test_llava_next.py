"""LLaVA-NeXT checkpoints load through the same auto classes; images of different shapes give
different numbers of image tokens, so batches are left-padded and patch tensors padded."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from llava_cli.classify.api import Classifier
from llava_cli.config import ModelConfig
from llava_cli.model.loading import load_model
from llava_cli.testing.tiny import build_tiny_llava_next

LABELS = ["shooting", "dribbling", "pass", "passing"]


@pytest.fixture(scope="module")
def next_dir(tmp_path_factory):
    return str(build_tiny_llava_next(tmp_path_factory.mktemp("tiny-next")))


def test_batched_equals_single_with_different_token_counts(next_dir):
    loaded = load_model(ModelConfig(model=next_dir, device="cpu", dtype="float32"))
    assert type(loaded.model).__name__ == "LlavaNextForConditionalGeneration"
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in [(40, 90), (90, 40), (60, 60)]]
    clf = Classifier(loaded, LABELS)
    lengths = {clf.encode(im)["input_ids"].shape[1] for im in images}
    assert len(lengths) > 1, "the shapes must tile into different numbers of image tokens"
    batched = clf.predict_proba(images, batch_size=3)
    single = clf.predict_proba(images, batch_size=1)
    assert torch.allclose(batched, single, atol=1e-5)


def test_classify_cli_on_llava_next(cli_app, next_dir, tmp_path):
    from factories import make_image

    make_image(tmp_path / "wide.png", size=(90, 40), seed=1)
    make_image(tmp_path / "tall.png", size=(40, 90), seed=2)
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(cli_app, ["classify", str(tmp_path / "wide.png"), str(tmp_path / "tall.png"), "--labels",
                                          ",".join(LABELS), "--model", next_dir, "--dtype", "float32", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out)["label"].null_count() == 0
