"""Showing advice: a terminal summary and the HTML report (advice, diagnostics, evidence)."""

from __future__ import annotations

import html
import os
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regulab._terminal import (
    Col,
    choice_mark,
    effort_cells,
    fitted_table,
    label_key,
    leading_columns,
    number,
    print_wrapped,
    short_labels,
)
from regulab.advise._advisor import Advice
from regulab.advise._baseline import MAJORITY_NOTE
from regulab.advise._choice import TIED_NOTE
from regulab.report import ReportInfo, Section, section, table_html, write_report

__all__ = ["print_advice", "write_advice_report"]


def _gain_sentence(advice: Advice) -> str:
    gain = advice.gain
    metric = gain["metric"].removeprefix("test_")
    majority = advice.baseline.get("metrics", {}).get(gain["metric"])
    beside = "" if majority is None else f"; majority-class baseline {majority:.4f}"
    if not gain.get("beats_majority", True):
        label = advice.metrics.get("selection_label", "validation loss")
        return (
            f"{MAJORITY_NOTE}: no config beats it by more than one standard error on "
            f"{label}, so no gain is claimed (test {metric}: recommended "
            f"{number(gain['recommended_mean'], '.4f')}{beside})."
        )
    if advice.recommendation == "none":
        label = advice.metrics.get("selection_label", "validation loss")
        return f"No regularization beat the unregularized baseline on {label}{beside}."
    return (
        f"Expected test {metric} gain over no regularization: {gain['mean']:+.4f} "
        f"± {gain['ci']:.4f} (95% CI over {len(gain['per_seed'])} paired seeds; "
        f"{gain['baseline_mean']:.4f} → {gain['recommended_mean']:.4f}{beside})."
    )


#: Evidence rows the terminal shows at most (the report and ``--json`` have every row).
SHOWN_ROWS = 5
#: Ties listed by name in the terminal; more are counted.
LISTED_TIES = 3


def _shown_rows(evidence: list[dict[str, Any]], chosen: str) -> list[dict[str, Any]]:
    """The best rows by validation loss, always with the recommended one and the
    unregularized baseline, in their table order."""
    ranked = sorted(
        range(len(evidence)),
        key=lambda i: (bool(evidence[i].get("diverged")), _finite_loss(evidence[i])),
    )
    must = {i for i, row in enumerate(evidence) if row["config"] in (chosen, "none")}
    shown = set(ranked[: max(0, SHOWN_ROWS - len(must - set(ranked[:SHOWN_ROWS])))]) | must
    return [row for i, row in enumerate(evidence) if i in shown]


def _finite_loss(row: dict[str, Any]) -> float:
    value = row["val_loss_mean"]
    return value if value == value else float("inf")


def _evidence_table(advice: Advice, console: Console) -> tuple[Table, list[str]]:
    """The evidence table of the best rows, and the lines that follow it."""
    metric = f"{advice.gain['metric']}_mean"
    chosen_on = advice.metrics.get("selection_key", "val_loss")
    shown = _shown_rows(advice.evidence, advice.recommendation)
    labels = short_labels(row["config"] for row in advice.evidence)
    rows = []
    for row in shown:
        mark = "recommended" if row["config"] == advice.recommendation else choice_mark(row)
        rows.append(
            [
                labels[row["config"]],
                f"{number(row[f'{chosen_on}_mean'], '.4f')} "
                f"± {number(row[f'{chosen_on}_ci'], '.4f')}",
                number(row[metric], ".4f"),
                *effort_cells(row),
                mark,
            ]
        )
    columns = [
        *leading_columns(chosen_on, metric.removesuffix("_mean")),
        Col("epochs", drop=0),
        Col("sparsity", drop=1),
        Col("", numeric=False),
    ]
    table = fitted_table(console, columns, rows, "Evidence (same splits, same seeds)")
    hidden = [row for row in advice.evidence if row not in shown]
    close = sum(1 for row in hidden if row["best"] or row["tied"])
    after = []
    if hidden:
        behind = len(hidden) - close
        counts = [f"{close} more within one standard error"] if close else []
        counts += [f"{behind} more further behind"] if behind else []
        after.append(f"{' and '.join(counts)} (see the report or --json).")
    key = label_key(rows[i][0] for i in range(len(rows)))
    if key:
        after.append(key + ".")
    after += _baseline_line(advice)
    return table, after


def _baseline_line(advice: Advice) -> list[str]:
    """The majority-class baseline's scores, beside the table's."""
    values = advice.baseline.get("metrics", {})
    shown = [f"{key} {value:.4f}" for key, value in values.items() if value is not None]
    if not shown:
        return []
    return [f"Majority-class baseline (same folds): {', '.join(shown)}."]


def _tie_note(advice: Advice) -> str:
    """The terminal's line on the ties: short labels for a few, a count for more."""
    tied = [row["config"] for row in advice.evidence if row["tied"]]
    if len(tied) > LISTED_TIES:
        return f"{len(tied)} configs tied with the best: see the report."
    labels = short_labels(row["config"] for row in advice.evidence)
    return f"Tied with the best (within one standard error): {', '.join(labels[c] for c in tied)}."


def print_advice(advice: Advice, console: Console) -> None:
    """Print the recommendation, its reasons, the best evidence rows and the notes, each
    line within the console's width (every row and tie is in the report and ``--json``)."""
    console.print(f"[bold]Recommendation:[/bold] {escape(' + '.join(advice.techniques))}")
    print_wrapped(console, _gain_sentence(advice), rest="")
    console.print("[bold]Why:[/bold]")
    for reason in advice.reasons:
        print_wrapped(console, reason.sentence, "  - ", "    ")
    table, after = _evidence_table(advice, console)
    console.print(table)
    for line in after:
        print_wrapped(console, line, "  ", "  ")
    for note in advice.notes:
        shown = _tie_note(advice) if note.startswith(TIED_NOTE) else note
        print_wrapped(console, shown, "  ", "  ")
    if advice.selected_features:
        shown_features = ", ".join(advice.selected_features[:20])
        more = len(advice.selected_features) - 20
        print_wrapped(
            console,
            f"Kept features ({len(advice.selected_features)}): {shown_features}"
            + (f" … and {more} more" if more > 0 else ""),
            rest="  ",
        )
    for name, survived in advice.important_features.items():
        console.print(f"Important feature {escape(name)}: {'kept' if survived else 'dropped'}")
    console.print("[bold]Regulab code:[/bold]")
    console.print(advice.code["regulab"], markup=False, highlight=False)


def _code_blocks(code: dict[str, str]) -> str:
    blocks = []
    for name, label in (("regulab", "Regulab"), ("pytorch", "Plain PyTorch"), ("keras", "Keras 3")):
        blocks.append(f"<h3>{label}</h3><pre><code>{html.escape(code[name])}</code></pre>")
    return "".join(blocks)


def _n_columns(advice: Advice) -> int:
    """The features the kept ones are counted among: a table's original columns, else
    the input features."""
    columns = advice.data.get("columns")
    return len(columns["encoded"]) if columns else int(advice.data["n_features"])


def _recommendation_html(advice: Advice) -> Section:
    reasons = "".join(f"<li>{html.escape(r.sentence)}</li>" for r in advice.reasons)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in advice.notes)
    features = ""
    if advice.selected_features:
        listed = ", ".join(advice.selected_features[:60])
        extra = len(advice.selected_features) - 60
        features = (
            f"<p><strong>Kept features ({len(advice.selected_features)} of "
            f"{_n_columns(advice)}):</strong> {html.escape(listed)}"
            f"{html.escape(f' … and {extra} more') if extra > 0 else ''}</p>"
        )
    important = "".join(
        f"<li>{html.escape(name)}: {'kept' if kept else 'dropped'}</li>"
        for name, kept in advice.important_features.items()
    )
    body = (
        f"<p class='lead'><strong>{html.escape(' + '.join(advice.techniques))}</strong></p>"
        f"<p>{html.escape(_gain_sentence(advice))}</p>"
        f"<h3>Why</h3><ul>{reasons or '<li>No rule fired.</li>'}</ul>"
        f"{features}"
        + (f"<h3>Important features</h3><ul>{important}</ul>" if important else "")
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
        + _code_blocks(advice.code)
    )
    return section("recommendation", "Recommendation", body)


def _diagnostics_html(advice: Advice) -> str:
    rows = [
        {
            "diagnostic": f.name.replace("_", " "),
            "value": "inf"
            if f.value != f.value or abs(f.value) == float("inf")
            else f"{f.value:.4g}",
            "reading": f.reading + (" (sampled)" if f.sampled else ""),
        }
        for f in advice.diagnostics.values()
    ]
    return table_html(rows)


def write_advice_report(
    advice: Advice,
    path: str | os.PathLike[str],
    *,
    figures_dir: str | os.PathLike[str] | None = None,
) -> ReportInfo:
    """One self-contained HTML page: the recommendation first, then the evidence table
    (selection by validation loss), the diagnostics and the comparison figures.

    Examples
    --------
    >>> write_advice_report(advice, "report.html")  # doctest: +SKIP
    """
    return write_report(
        advice.records,
        path,
        title=f"Regulab advice for {advice.data['name']}",
        figures_dir=figures_dir,
        image_shape=advice.image_shape,
        diagnostics_html=_diagnostics_html(advice),
        table=advice.evidence,
        lead_sections=[_recommendation_html(advice)],
        summary_html=html.escape(
            f"Recommended for {advice.data['name']}: {' + '.join(advice.techniques)}. "
            + _gain_sentence(advice)
            + " The comparison below marks the best validation loss (best), the configs "
            "within one standard error of it (tied) and the simpler/sparser choice among "
            "them (preferred)."
        ),
        dataset=advice.data["name"],
    )
