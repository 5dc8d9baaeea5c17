"""Accuracy of a classify output against the class folder each image sits in (val/<label>/x.png)."""

from __future__ import annotations

import sys
from pathlib import Path

from llava_cli.output import read_rows


def accuracy(path: str | Path) -> float:
    rows = read_rows(path)
    truth = [Path(s).parent.name for s in rows["source"]]
    return sum(t == p for t, p in zip(truth, rows["label"])) / max(1, len(truth))


if __name__ == "__main__":
    print(f"{sys.argv[1]}: accuracy {accuracy(sys.argv[1]):.3f}")
