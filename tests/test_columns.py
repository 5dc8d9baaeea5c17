"""The output format in one place (llava_cli.columns): probabilities at 6 significant digits in
every format, small values kept with their exponent, and every reader still working."""

from __future__ import annotations

import json

import polars as pl
import pytest
from factories import make_image

from llava_cli import columns
from llava_cli.classify.api import run_classify
from llava_cli.columns import PROB_SIGNIFICANT_DIGITS, SEPARATOR, UNSURE, prob_column, round_prob
from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig
from llava_cli.output import RowWriter, read_rows, write_table

LABELS = ["red", "blue"]


def test_round_prob_keeps_significant_digits():
    assert PROB_SIGNIFICANT_DIGITS == 6
    assert round_prob(0.4007315933704376) == 0.400732
    assert round_prob(1.234567e-7) == 1.23457e-7  # not 0: significant digits, not fixed decimals
    assert round_prob(1.0) == 1.0 and round_prob(0.0) == 0.0
    assert round_prob(round_prob(0.123456789)) == round_prob(0.123456789)


def test_format_names():
    assert (UNSURE, SEPARATOR, prob_column("cat")) == ("unsure", ";", "p_cat")
    assert columns.label_of(prob_column("jump shot")) == "jump shot"
    assert columns.split_labels(" a; b;;") == ["a", "b"] and columns.join_labels(["a", "b"]) == "a;b"


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_small_and_noisy_probabilities_survive_every_format(tmp_path, ext):
    schema = {"source": pl.String, "frame": pl.Int64, "p_a": pl.Float64, "p_b": pl.Float64, "error": pl.String}
    row = {"source": "x.jpg", "frame": None, "p_a": round_prob(1.234567e-7), "p_b": round_prob(0.4007315933704376), "error": None}
    out = tmp_path / f"o.{ext}"
    if ext == "parquet":
        write_table(pl.DataFrame([row], schema=schema), out)
    else:
        with RowWriter(out, schema) as writer:
            writer.write([row])
        text = out.read_text()
        assert "0.400732" in text and "0.4007315" not in text
        assert "1.23457e-7" in text or "1.23457e-07" in text
    back = read_rows(out).row(0, named=True)
    assert back["p_a"] == 1.23457e-7 and back["p_b"] == 0.400732


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_classify_writes_probabilities_at_the_documented_precision(tiny_loaded, tiny_model_dir, tmp_path, ext):
    images = [make_image(tmp_path / f"img{i}.png", seed=i) for i in range(3)]
    out = tmp_path / f"out.{ext}"
    cfg = ClassifyConfig(
        labels=LABELS,
        model=ModelConfig(model=tiny_model_dir, device="cpu", dtype="float32"),
        inputs=InputConfig(paths=[str(p) for p in images]),
        output=OutputConfig(out=str(out), quiet=True),
        batch_size=2,
    )
    run_classify(cfg, loaded=tiny_loaded)
    rows = read_rows(out)
    assert rows.height == 3
    for row in rows.iter_rows(named=True):
        probs = [row[prob_column(lab)] for lab in LABELS]
        assert all(p == round_prob(p) for p in probs)  # nothing beyond 6 significant digits
        assert row["confidence"] == max(probs) and row["label"] == LABELS[probs.index(max(probs))]
    if ext != "parquet":
        for line in out.read_text().splitlines()[1 if ext == "csv" else 0 :]:
            cells = line.split(",") if ext == "csv" else [str(v) for v in json.loads(line).values()]
            numbers = [c for c in cells if c.replace(".", "").replace("e-", "").isdigit()]
            assert all(len(n.split("e")[0].replace(".", "").lstrip("0")) <= 6 for n in numbers), line
    # resume: the same run again finds every row done and writes nothing new
    again = run_classify(cfg, loaded=tiny_loaded)
    assert again.stats.written == 0 and read_rows(out).equals(rows)
