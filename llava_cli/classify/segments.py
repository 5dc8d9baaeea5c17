"""Runs of consecutive video frames with the same label, optionally smoothed by a majority vote."""

from __future__ import annotations

from collections import Counter

import polars as pl

from ..columns import round_prob

SEGMENT_SCHEMA = {
    "source": pl.String,
    "label": pl.String,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "frames": pl.Int64,
    "mean_confidence": pl.Float64,
}


def smooth_labels(labels: list[str], window: int) -> list[str]:
    """Majority vote over a centred window of `window` frames (ties keep the frame's own label)."""
    if window <= 1:
        return list(labels)
    half = window // 2
    out = []
    for i, own in enumerate(labels):
        counts = Counter(labels[max(0, i - half) : i + half + 1])
        top = max(counts.values())
        out.append(own if counts[own] == top else min(lab for lab, c in counts.items() if c == top))
    return out


def video_segments(rows: pl.DataFrame, smooth: int = 1) -> pl.DataFrame:
    """Segments per video from classify rows (frame rows without error only).

    A segment ends where the next one starts; the last one ends one sampling step after its
    last frame (the median gap between sampled frames).
    """
    frames = rows.filter(pl.col("frame").is_not_null() & pl.col("error").is_null() & pl.col("label").is_not_null())
    out: list[dict] = []
    for (source,), group in frames.sort("source", "frame").group_by("source", maintain_order=True):
        times = group["timestamp_s"].to_list()
        confidences = group["confidence"].to_list()
        labels = smooth_labels(group["label"].to_list(), smooth)
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        step = gaps[len(gaps) // 2] if gaps else 0.0
        start = 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                end_s = times[i] if i < len(labels) else times[i - 1] + step
                chunk = confidences[start:i]
                out.append(
                    {
                        "source": source,
                        "label": labels[start],
                        "start_s": times[start],
                        "end_s": end_s,
                        "frames": i - start,
                        "mean_confidence": round_prob(sum(chunk) / len(chunk)),
                    }
                )
                start = i
    return pl.DataFrame(out, schema=SEGMENT_SCHEMA)
