"""`llava-cli eval`: flags -> EvalConfig -> run_eval -> a printed report (or its JSON)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..evaluation.config import DEFAULT_LEVELS, EvalConfig
from ._errors import translate_errors
from .options import OUTPUT, examples

TRUTH = "Truth"
SCORING = "Scoring"
EXAMPLES = examples(
    "llava-cli eval labels.csv --truth truth.csv",
    "llava-cli eval labels.csv --truth photos_by_class/ --report eval-report/",
    "llava-cli eval labels.csv --truth-column reviewed_label --json > metrics.json",
)
LEVELS_HELP = "Comma-separated --min-confidence levels for the coverage table (multi-label: --threshold levels)."


def parse_levels(text: str) -> list[float]:
    """'0.5, 0.7,0.9' -> [0.5, 0.7, 0.9]. Raises UsageError naming the flag on bad numbers."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--min-confidence-levels {text!r}: expected numbers like 0.5,0.7,0.9") from None


def register(app: typer.Typer) -> None:
    """Add the `eval` command to `app`."""
    default_levels = ",".join(f"{lv:g}" for lv in DEFAULT_LEVELS)

    @app.command("eval", epilog=EXAMPLES)
    @translate_errors
    def eval_command(
        predictions: Annotated[str, typer.Argument(metavar="PREDICTIONS", help="A classify output: .csv, .jsonl or .parquet.")],
        truth: Annotated[Optional[str], typer.Option("--truth", metavar="FILE|DIR", help="Ground truth: a CSV/JSONL/Parquet of source [+ frame] + label, or a folder with one subfolder per label.", rich_help_panel=TRUTH)] = EvalConfig.truth,
        truth_column: Annotated[Optional[str], typer.Option("--truth-column", metavar="NAME", help="Take the truth from this column of the predictions file instead.", rich_help_panel=TRUTH)] = EvalConfig.truth_column,
        truth_label_column: Annotated[str, typer.Option("--truth-label-column", metavar="NAME", help="The label column of the --truth table.", rich_help_panel=TRUTH)] = EvalConfig.truth_label_column,
        multi_label: Annotated[Optional[bool], typer.Option("--multi-label/--single-label", help="Override the mode read from <predictions>.run.json (or inferred from ';').", rich_help_panel=SCORING)] = EvalConfig.multi_label,
        bins: Annotated[int, typer.Option("--bins", help="Equal-width confidence bins for ECE and the reliability diagram.", rich_help_panel=SCORING)] = EvalConfig.bins,
        levels: Annotated[str, typer.Option("--min-confidence-levels", metavar="LEVELS", help=LEVELS_HELP, rich_help_panel=SCORING)] = default_levels,
        report: Annotated[Optional[str], typer.Option("--report", metavar="DIR", help="Folder for metrics.json and the PNG charts.", rich_help_panel=OUTPUT)] = EvalConfig.report_dir,
        as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report instead of text.", rich_help_panel=OUTPUT)] = False,
    ) -> None:
        """Score a classify output against ground truth: accuracy, per-class F1, confusion, calibration."""
        from ..evaluation import format_text, run_eval

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
