"""Which truth source a prediction's source means (the order is in llava_cli.evaluation.data's
docstring): the same normalised path, then the same file, then the longest matching tail."""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .data import Truth


def _norm(p: str) -> str:
    return os.path.normpath(p.replace("\\", "/")) if p else p


def match_sources(pred_sources: list[str], truth: Truth) -> dict[str, str]:
    """Map each prediction source to the truth source it means (see the module docstring)."""
    keys = truth.rows["tsource"].unique().to_list()
    by_norm = {_norm(k): k for k in keys}
    base = truth.base or Path.cwd()
    by_abs = {os.path.realpath(os.path.join(base, k)): k for k in keys}
    by_tail = {}
    if truth.relative_tails:
        for k in keys:
            if not os.path.isabs(k):
                by_tail[PurePath(_norm(k)).parts] = k
    max_depth = max((len(t) for t in by_tail), default=0)
    out = {}
    for src in pred_sources:
        norm = _norm(src)
        hit = by_norm.get(norm) if truth.base is None else None
        if hit is None:
            hit = by_abs.get(os.path.realpath(src))
        if hit is None and by_tail:
            parts = PurePath(norm).parts
            for depth in range(min(len(parts), max_depth), 0, -1):
                hit = by_tail.get(parts[-depth:])
                if hit is not None:
                    break
        if hit is not None:
            out[src] = hit
    return out
