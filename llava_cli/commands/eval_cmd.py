"""`llava-cli eval`: flags -> EvalConfig -> run_eval -> a printed report (or its JSON)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ._errors import translate_errors
from ..errors import UsageError

LEVELS_HELP = "Comma-separated --min-confidence levels for the coverage table (multi-label: --threshold levels)."


def parse_levels(text: str) -> list[float]:
    """'0.5, 0.7,0.9' -> [0.5, 0.7, 0.9]. Raises UsageError naming the flag on bad numbers."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--min-confidence-levels {text!r}: expected numbers like 0.5,0.7,0.9") from None


def register(app: typer.Typer) -> None:
    """Add the `eval` command to `app`."""
    from ..evaluation import DEFAULT_LEVELS

    default_levels = ",".join(f"{lv:g}" for lv in DEFAULT_LEVELS)

    @app.command("eval")
    @translate_errors
    def eval_command(
        predictions: Annotated[str, typer.Argument(metavar="PREDICTIONS", help="A classify output: .csv, .jsonl or .parquet.")],
        truth: Annotated[Optional[str], typer.Option("--truth", metavar="FILE|DIR", help="Ground truth: a CSV/JSONL/Parquet of source [+ frame] + label, or a folder with one subfolder per label.")] = None,
        truth_column: Annotated[Optional[str], typer.Option("--truth-column", metavar="NAME", help="Take the truth from this column of the predictions file instead.")] = None,
        truth_label_column: Annotated[str, typer.Option("--truth-label-column", metavar="NAME", help="The label column of the --truth table.")] = "label",
        report: Annotated[Optional[str], typer.Option("--report", metavar="DIR", help="Folder for metrics.json and the PNG charts.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report instead of text.")] = False,
        bins: Annotated[int, typer.Option("--bins", help="Equal-width confidence bins for ECE and the reliability diagram.")] = 10,
        levels: Annotated[str, typer.Option("--min-confidence-levels", metavar="LEVELS", help=LEVELS_HELP)] = default_levels,
        multi_label: Annotated[Optional[bool], typer.Option("--multi-label/--single-label", help="Override the mode read from <predictions>.run.json (or inferred from ';').")] = None,
    ) -> None:
        """Score a classify output against ground truth: accuracy, per-class F1, confusion, calibration."""
        from ..evaluation import EvalConfig, format_text, run_eval

        cfg = EvalConfig(
            predictions=predictions,
            truth=truth,
            truth_column=truth_column,
            truth_label_column=truth_label_column,
            report_dir=report,
            bins=bins,
            min_confidence_levels=parse_levels(levels),
            multi_label=multi_label,
        )
        result = run_eval(cfg)
        typer.echo(json.dumps(result.summary, indent=2) if as_json else format_text(result.summary))
