"""classify's decision rule: the `label` and `confidence` a row gets from its label probabilities."""

from __future__ import annotations

from ..columns import UNSURE, join_labels


def decide(
    probs: list[float],
    labels: list[str],
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
    min_confidence: float | None = None,
) -> tuple[str, float]:
    """The `label` and `confidence` written for one row's probabilities.

    Single-label: the most probable label, or `unsure` below `min_confidence`. Multi-label: every
    label at or above `threshold`, `;`-joined in label order (possibly none). `confidence` is the
    highest probability either way.
    """
    best = max(range(len(probs)), key=probs.__getitem__)
    confidence = probs[best]
    if multi_label:
        return join_labels(lab for lab, p in zip(labels, probs) if p >= threshold), confidence
    if min_confidence is not None and confidence < min_confidence:
        return UNSURE, confidence
    return labels[best], confidence
