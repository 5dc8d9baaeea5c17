"""The printed report, rendered from the same summary dict that metrics.json holds, so the
printed numbers are the JSON numbers rounded to 4 decimals."""

from __future__ import annotations

from typing import Any

CONFUSION_TEXT_MAX = 12  # wider matrices are left to confusion.png


def num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = lambda cells: "  ".join(  # noqa: E731 - a local one-liner
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    )
    return ["  " + fmt(header)] + ["  " + fmt(r) for r in rows]


def _examples(summary: dict, key: str) -> str:
    found = summary["examples"].get(key) or []
    return f" (e.g. {', '.join(found[:3])})" if found else ""


def format_text(summary: dict[str, Any]) -> str:
    """A readable report: counts, headline metrics, per-class table, confusion, levels."""
    c, m = summary["counts"], summary["metrics"]
    out = [
        f"eval: {summary['predictions']} against {summary['truth']}",
        f"mode: {summary['mode']} ({summary['mode_from']}); {len(summary['labels'])} labels ({summary['labels_from']})",
        "",
        f"rows evaluated             {c['evaluated']}",
        f"prediction rows            {c['prediction_rows']}",
        f"error rows (not scored)    {c['error_rows']}{_examples(summary, 'error_rows')}",
        f"predictions without truth  {c['predictions_without_truth']}{_examples(summary, 'predictions_without_truth')}",
        f"truth without predictions  {c['truth_without_predictions']}{_examples(summary, 'truth_without_predictions')}",
    ]
    if c["duplicate_predictions"] or c["duplicate_truth"]:
        out.append(f"duplicates ignored         {c['duplicate_predictions']} predictions, {c['duplicate_truth']} truth rows")
    out.append("")
    if summary["mode"] == "single-label":
        out += [
            f"accuracy                   {num(m['accuracy'])}   ('unsure' counts as wrong)",
            f"balanced accuracy          {num(m['balanced_accuracy'])}",
            f"macro-F1                   {num(m['macro_f1'])}",
            f"unsure                     {c['unsure']}   (answered {num(m['answered'])}, accuracy when answered {num(m['accuracy_when_answered'])})",
        ]
    else:
        out += [
            f"subset accuracy            {num(m['subset_accuracy'])}",
            f"hamming loss               {num(m['hamming_loss'])}",
            f"micro precision            {num(m['micro_precision'])}",
            f"micro recall               {num(m['micro_recall'])}",
            f"micro-F1                   {num(m['micro_f1'])}",
            f"macro-F1                   {num(m['macro_f1'])}",
        ]
    cal = summary["calibration"]
    if cal is not None:
        out.append(f"ECE, {len(cal['bins'])} bins".ljust(27) + num(cal["ece"]))
    else:
        out.append("ECE                        n/a (no p_<label> columns)")
    out += ["", "per class:"]
    out += _table(
        ["label", "precision", "recall", "f1", "support", "predicted"],
        [[s["label"], num(s["precision"]), num(s["recall"]), num(s["f1"]), s["support"], s["predicted"]] for s in summary["per_class"]],
    )
    conf = summary["confusion"]
    if conf is not None and len(conf["columns"]) <= CONFUSION_TEXT_MAX:
        out += ["", "confusion (rows: truth, columns: predicted):"]
        out += _table(["truth \\ predicted", *conf["columns"]], [[lab, *row] for lab, row in zip(conf["rows"], conf["counts"])])
    levels = summary["levels"]["rows"]
    if levels:
        if summary["mode"] == "single-label":
            out += ["", "--min-confidence levels (top probability >= level keeps a row):"]
            out += _table(
                ["min-confidence", "kept", "coverage", "accuracy"],
                [[num(r["level"], 2), r["kept"], num(r["coverage"]), num(r["accuracy"])] for r in levels],
            )
        else:
            out += ["", "--threshold levels (labels with p >= level):"]
            out += _table(
                ["threshold", "subset acc", "micro-P", "micro-R", "micro-F1"],
                [[num(r["level"], 2), num(r["accuracy"]), num(r["micro_precision"]), num(r["micro_recall"]), num(r["micro_f1"])] for r in levels],
            )
    if summary.get("files"):
        out += ["", "report: " + ", ".join(summary["files"])]
    return "\n".join(out)
