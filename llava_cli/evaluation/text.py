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


def _header(summary: dict[str, Any]) -> list[str]:
    c = summary["counts"]
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
    return out


def _headline(summary: dict[str, Any]) -> list[str]:
    c, m = summary["counts"], summary["metrics"]
    if summary["mode"] == "single-label":
        out = [
            f"accuracy                   {num(m['accuracy'])}   ('unsure' counts as wrong)",
            f"balanced accuracy          {num(m['balanced_accuracy'])}",
            f"macro-F1                   {num(m['macro_f1'])}",
            f"unsure                     {c['unsure']}   (answered {num(m['answered'])}, "
            f"accuracy when answered {num(m['accuracy_when_answered'])})",
        ]
    else:
        out = [
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
    return out


def _per_class(summary: dict[str, Any]) -> list[str]:
    rows = [
        [s["label"], num(s["precision"]), num(s["recall"]), num(s["f1"]), s["support"], s["predicted"]]
        for s in summary["per_class"]
    ]
    return ["", "per class:", *_table(["label", "precision", "recall", "f1", "support", "predicted"], rows)]


def _confusion(summary: dict[str, Any]) -> list[str]:
    conf = summary["confusion"]
    if conf is None or len(conf["columns"]) > CONFUSION_TEXT_MAX:
        return []
    rows = [[lab, *row] for lab, row in zip(conf["rows"], conf["counts"])]
    return ["", "confusion (rows: truth, columns: predicted):", *_table(["truth \\ predicted", *conf["columns"]], rows)]


def _levels(summary: dict[str, Any]) -> list[str]:
    levels = summary["levels"]["rows"]
    if not levels:
        return []
    if summary["mode"] == "single-label":
        rows = [[num(r["level"], 2), r["kept"], num(r["coverage"]), num(r["accuracy"])] for r in levels]
        return [
            "", "--min-confidence levels (top probability >= level keeps a row):",
            *_table(["min-confidence", "kept", "coverage", "accuracy"], rows),
        ]
    rows = [
        [num(r["level"], 2), num(r["accuracy"]), num(r["micro_precision"]), num(r["micro_recall"]), num(r["micro_f1"])]
        for r in levels
    ]
    return [
        "", "--threshold levels (labels with p >= level):",
        *_table(["threshold", "subset acc", "micro-P", "micro-R", "micro-F1"], rows),
    ]


def format_text(summary: dict[str, Any]) -> str:
    """A readable report: counts, headline metrics, per-class table, confusion, levels."""
    out = [*_header(summary), "", *_headline(summary), *_per_class(summary), *_confusion(summary), *_levels(summary)]
    if summary.get("files"):
        out += ["", "report: " + ", ".join(summary["files"])]
    return "\n".join(out)
