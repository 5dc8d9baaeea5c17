"""The output format of classify, in one place: what its label and probability cells look like.

Every module that writes or reads a classify output (classify, eval, review, finetune) takes these
from here, so the format cannot drift between them. This module imports nothing from llava_cli.

- `unsure`: the label classify writes below --min-confidence, and a reviewer's "not sure".
- `;`: joins the labels of a multi-label row in one cell (`cat;dog`; empty for no label).
- `p_<label>`: the column holding one label's probability.
- Probabilities (and `confidence`) are written rounded to PROB_SIGNIFICANT_DIGITS significant
  digits, the same in CSV, JSON Lines and Parquet: `0.4007315933704376` is written `0.400732`,
  and a small value keeps its digits (`1.234567e-07` is written `1.23457e-07`, not 0). A float32
  softmax carries about 7 significant digits, so the rounding drops only noise.
"""

from __future__ import annotations

from collections.abc import Iterable

UNSURE = "unsure"
SEPARATOR = ";"
PROB_PREFIX = "p_"
PROB_SIGNIFICANT_DIGITS = 6


def prob_column(label: str) -> str:
    """`cat` -> `p_cat`: the column of one label's probability."""
    return f"{PROB_PREFIX}{label}"


def is_prob_column(name: str) -> bool:
    return name.startswith(PROB_PREFIX)


def label_of(column: str) -> str:
    """`p_cat` -> `cat` (the inverse of `prob_column`)."""
    return column[len(PROB_PREFIX) :]


def join_labels(labels: Iterable[str]) -> str:
    """The cell of a multi-label row: labels joined with `;` (empty for none)."""
    return SEPARATOR.join(labels)


def split_labels(text: str | None) -> list[str]:
    """The labels of a multi-label cell, stripped, empty parts dropped, in cell order."""
    if text is None:
        return []
    return [part.strip() for part in str(text).split(SEPARATOR) if part.strip()]


def round_prob(p: float) -> float:
    """A probability as written: PROB_SIGNIFICANT_DIGITS significant digits (not fixed decimals,
    so small values keep their digits)."""
    return float(f"{p:.{PROB_SIGNIFICANT_DIGITS}g}")
