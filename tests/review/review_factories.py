"""A classify output made by hand for review tests: 4 images, a 3-frame video, one error row.

No model is needed to review: the rows are what classify would write for labels red, blue (a
row below --min-confidence says `unsure`).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from factories import make_image, make_video

LABELS = ["red", "blue"]


def output_rows(multi: bool = False) -> list[dict]:
    """Rows in file order; confidences put them in the order 3, 2, 6, 0, 4, 5, 1 (lowest first)."""
    def row(source, frame, t, label, conf, p_red, p_blue, error=None):
        return {"source": source, "frame": frame, "timestamp_s": t, "label": label, "confidence": conf,
                "p_red": p_red, "p_blue": p_blue, "error": error}

    if multi:
        return [
            row("img0.png", None, None, "red", 0.6, 0.6, 0.4),
            row("img1.png", None, None, "red;blue", 0.9, 0.8, 0.9),
            row("img2.png", None, None, "", 0.45, 0.45, 0.3),
            row("img3.png", None, None, "blue", 0.5, 0.2, 0.5),
            row("clip.mp4", 0, 0.0, "red", 0.7, 0.7, 0.3),
            row("clip.mp4", 10, 1.0, "red", 0.8, 0.8, 0.2),
            row("clip.mp4", 20, 2.0, "blue", 0.55, 0.45, 0.55),
            row("bad.jpg", None, None, None, None, None, None, "bad.jpg: not a readable image"),
        ]
    return [
        row("img0.png", None, None, "red", 0.6, 0.6, 0.4),
        row("img1.png", None, None, "blue", 0.9, 0.1, 0.9),
        row("img2.png", None, None, "red", 0.51, 0.51, 0.49),
        row("img3.png", None, None, "unsure", 0.5, 0.5, 0.5),
        row("clip.mp4", 0, 0.0, "red", 0.7, 0.7, 0.3),
        row("clip.mp4", 10, 1.0, "red", 0.8, 0.8, 0.2),
        row("clip.mp4", 20, 2.0, "blue", 0.55, 0.45, 0.55),
        row("bad.jpg", None, None, None, None, None, None, "bad.jpg: not a readable image"),
    ]


SCHEMA = {"source": pl.String, "frame": pl.Int64, "timestamp_s": pl.Float64, "label": pl.String,
          "confidence": pl.Float64, "p_red": pl.Float64, "p_blue": pl.Float64, "error": pl.String}


def write_output(folder: Path, fmt: str = "csv", multi: bool = False, sidecar: bool = True) -> Path:
    """Media files and a classify output `plays.<fmt>` (+ run.json) in `folder`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        make_image(folder / f"img{i}.png", size=(40, 32), seed=i)
    make_video(folder / "clip.mp4", frames=30, fps=10.0)
    (folder / "bad.jpg").write_bytes(b"not an image")
    df = pl.DataFrame(output_rows(multi), schema=SCHEMA)
    out = folder / f"plays.{fmt}"
    if fmt == "csv":
        df.write_csv(out)
    elif fmt == "jsonl":
        df.write_ndjson(out)
    else:
        df.write_parquet(out)
    if sidecar:
        Path(f"{out}.run.json").write_text(json.dumps({"command": "classify", "labels": LABELS, "multi_label": multi}))
    return out
