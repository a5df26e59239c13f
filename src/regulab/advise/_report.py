"""Showing advice: a terminal summary and the HTML report (advice, diagnostics, evidence)."""

from __future__ import annotations

import html
import os

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from regulab.advise._advisor import Advice
from regulab.report import ReportInfo, Section, section, table_html, write_report

__all__ = ["print_advice", "write_advice_report"]


def _gain_sentence(advice: Advice) -> str:
    gain = advice.gain
    if advice.recommendation == "none":
        return "No regularization beat the unregularized baseline on validation loss."
    metric = gain["metric"].removeprefix("test_")
    return (
        f"Expected test {metric} gain over no regularization: {gain['mean']:+.4f} "
        f"± {gain['ci']:.4f} (95% CI over {len(gain['per_seed'])} paired seeds; "
        f"{gain['baseline_mean']:.4f} → {gain['recommended_mean']:.4f})."
    )


def print_advice(advice: Advice, console: Console) -> None:
    """Print the recommendation, its reasons, the evidence table and the notes."""
    console.print(f"[bold]Recommendation:[/bold] {' + '.join(advice.techniques)}")
    console.print(_gain_sentence(advice))
    console.print("[bold]Why:[/bold]")
    for reason in advice.reasons:
        console.print(f"  - {escape(reason.sentence)}")
    metric = next(k for k in advice.evidence[0] if k.startswith("test_") and k.endswith("_mean"))
    table = Table(
        Column("config", overflow="fold"),
        "val_loss",
        metric.removesuffix("_mean"),
        "epochs",
        "sparsity",
        "",
        title="Evidence (same splits, same seeds)",
    )
    for row in advice.evidence:
        mark = (
            "recommended"
            if row["config"] == advice.recommendation
            else ("best" if row["best"] else ("tied" if row["tied"] else ""))
        )
        table.add_row(
            escape(row["config"]),
            f"{row['val_loss_mean']:.4f} ± {row['val_loss_ci']:.4f}",
            f"{row[metric]:.4f}",
            f"{row['epochs_mean']:.1f}",
            f"{row['sparsity_mean']:.1%}",
            mark,
        )
    console.print(table)
    for note in advice.notes:
        console.print(f"  [dim]{escape(note)}[/dim]")
    if advice.selected_features:
        shown = ", ".join(advice.selected_features[:20])
        more = len(advice.selected_features) - 20
        console.print(
            f"Kept features ({len(advice.selected_features)}): {escape(shown)}"
            + (f" … and {more} more" if more > 0 else "")
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


def _recommendation_html(advice: Advice) -> Section:
    reasons = "".join(f"<li>{html.escape(r.sentence)}</li>" for r in advice.reasons)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in advice.notes)
    features = ""
    if advice.selected_features:
        listed = ", ".join(advice.selected_features[:60])
        extra = len(advice.selected_features) - 60
        features = (
            f"<p><strong>Kept features ({len(advice.selected_features)} of "
            f"{advice.data['n_features']}):</strong> {html.escape(listed)}"
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
