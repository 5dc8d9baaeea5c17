"""`EvalConfig`: the settings of one `llava-cli eval`, validated once.

A light module (no numpy, polars or plotting), so the command line can read the defaults
without loading the metrics stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import OUTPUT_SUFFIXES
from ..errors import UsageError

DEFAULT_LEVELS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass
class EvalConfig:
    """Settings of one evaluation; build from flags or directly, then `validate()`."""

    predictions: str
    truth: str | None = None  # a truth table (.csv/.jsonl/.parquet) or a folder per class
    truth_column: str | None = None  # or: the truth is this column of the predictions file
    truth_label_column: str = "label"
    report_dir: str | None = None
    bins: int = 10
    min_confidence_levels: list[float] = field(default_factory=lambda: list(DEFAULT_LEVELS))
    multi_label: bool | None = None  # None: from run.json, else inferred from ';' in labels

    def validate(self) -> "EvalConfig":
        """Return self, or raise UsageError listing every problem with the flag to fix it."""
        problems = []
        pred = Path(self.predictions)
        if not pred.is_file():
            problems.append(f"PREDICTIONS {pred}: no such file (the output of llava-cli classify)")
        elif pred.suffix.lower() not in OUTPUT_SUFFIXES:
            problems.append(f"PREDICTIONS {pred}: expected a {', '.join(OUTPUT_SUFFIXES)} file")
        if self.truth is None and self.truth_column is None:
            problems.append("no ground truth: pass --truth FILE_OR_FOLDER or --truth-column NAME")
        if self.truth is not None and self.truth_column is not None:
            problems.append("--truth and --truth-column exclude each other: pick one")
        if self.truth is not None:
            truth = Path(self.truth)
            if not truth.exists():
                problems.append(f"--truth {truth}: no such file or folder")
            elif truth.is_file() and truth.suffix.lower() not in OUTPUT_SUFFIXES:
                problems.append(f"--truth {truth}: expected a {', '.join(OUTPUT_SUFFIXES)} file or a folder per class")
        if self.bins < 1:
            problems.append(f"--bins must be >= 1 (got {self.bins})")
        if not self.min_confidence_levels:
            problems.append("--min-confidence-levels is empty: pass levels like 0.5,0.7,0.9")
        bad = [lv for lv in self.min_confidence_levels if not 0.0 <= lv <= 1.0]
        if bad:
            problems.append(f"--min-confidence-levels must lie in [0, 1] (got {', '.join(map(str, bad))})")
        if self.report_dir is not None and Path(self.report_dir).exists() and not Path(self.report_dir).is_dir():
            problems.append(f"--report {self.report_dir} is a file: name a folder")
        if problems:
            raise UsageError(problems)
        return self
