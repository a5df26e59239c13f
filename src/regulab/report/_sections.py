"""The report's sections as data: an id, a title, an optional lead sentence and an HTML body.

The page's table of contents and ``ReportInfo.sections`` are read from this data, never from
the HTML. Bodies are :class:`markupsafe.Markup` rendered from templates (or HTML a caller
declared trusted); titles and leads are plain text, escaped by ``section.html.j2``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from regulab.errors import InvalidParameterError
from regulab.report._data import ReportData
from regulab.report._plots import FigureImage
from regulab.report._tables import (
    comparison_html,
    config_name,
    flag,
    number,
    table_html,
    table_metric,
)
from regulab.report._templates import render

__all__ = ["Section", "section", "SECTION_IDS", "report_sections", "summary_sentence"]

SECTION_IDS = (
    "comparison",
    "diagnostics",
    "learning-curves",
    "generalization-gap",
    "weights",
    "sparsity",
    "path",
    "dropout-curve",
    "patience-curve",
)
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_TITLES = {
    "comparison": "Comparison",
    "diagnostics": "Diagnostics",
    "learning-curves": "Learning curves",
    "generalization-gap": "Generalization gap",
    "weights": "Weight distributions",
    "sparsity": "Sparsity",
    "path": "Regularization path",
    "dropout-curve": "Dropout rate",
    "patience-curve": "Early-stopping patience",
}
_LEADS = {
    "comparison": "Each configuration aggregated over its seeds.",
    "learning-curves": "How the loss on training and validation data evolved while training.",
    "generalization-gap": "How much worse each configuration does on unseen data than on the "
    "data it was trained on.",
    "weights": "What each regularizer does to the weights themselves.",
    "sparsity": "Which weights and input features the penalties switched off entirely.",
    "path": "The same model trained at increasing penalty strengths.",
    "dropout-curve": "The same model trained at several dropout rates.",
    "patience-curve": "The same model stopped early with several patience values.",
}
_OPTIONAL = ("path", "dropout-curve", "patience-curve")


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Parameters
    ----------
    id : str
        Stable anchor (letters, digits, ``-`` and ``_``, starting with a letter); the table of
        contents links to it.
    title : str
        Heading text, also the table-of-contents entry (plain text: escaped when shown).
    body : str
        The content. :class:`markupsafe.Markup` (what :func:`table_html` returns) is inserted as
        is; any other string is plain text and escaped.
    lead : str, optional
        One plain-text sentence under the heading (escaped when shown).

    Examples
    --------
    >>> from markupsafe import Markup
    >>> print(Markup(Section("notes", "Notes <1>", "a < b")))
    <section id="notes" class="card"><h2>Notes &lt;1&gt;</h2>
    a &lt; b
    </section>
    """

    id: str
    title: str
    body: str
    lead: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise InvalidParameterError(
                "The 'id' parameter of section must be a string of letters, digits, '-' or '_' "
                f"starting with a letter. Got {self.id!r} instead."
            )

    def __html__(self) -> str:
        """The section as safe HTML (lets templates and ``Markup`` embed it)."""
        return render("section.html.j2", section=self)


def section(id: str, title: str, body_html: str, *, lead: str | None = None) -> Section:
    """A report section whose body is trusted HTML, e.g. from :func:`table_html`.

    Parameters
    ----------
    id : str
        Stable anchor (letters, digits, ``-`` and ``_``, starting with a letter).
    title : str
        Heading text (escaped when shown).
    body_html : str
        Trusted HTML; it is inserted as is.
    lead : str, optional
        One plain-text sentence under the heading (escaped when shown).

    Returns
    -------
    Section
        Pass it to ``write_report(extra_sections=...)`` or ``lead_sections``.

    Examples
    --------
    >>> advice = section("advice", "Advice <1>", "<p>ok</p>")
    >>> advice.id, advice.title
    ('advice', 'Advice <1>')
    >>> print(Markup(advice))
    <section id="advice" class="card"><h2>Advice &lt;1&gt;</h2>
    <p>ok</p>
    </section>
    """
    return Section(id, title, Markup(body_html), lead)


def _sparsity_table(data: ReportData) -> Markup:
    if data.sparsity is None:
        return Markup()
    rows = []
    for d in data.sparsity.dropped:
        names = [f"{name} ({share:.0%})" for name, share in d.features[:15]]
        more = f" … and {len(d.features) - 15} more" if len(d.features) > 15 else ""
        rows.append(
            {
                "Configuration": d.config_name,
                "Dropped inputs (mean)": d.mean_count,
                "Inputs": d.n_inputs,
                "Most often dropped (share of seeds)": ", ".join(names) + more if names else "none",
            }
        )
    return table_html(rows)


def _path_table(data: ReportData) -> Markup:
    rows = [
        {
            "Penalty": p.penalty,
            "Validation metric": p.metric.replace("_", " "),
            "λ_min": p.lambda_min,
            "λ_1se": p.lambda_1se,
            "Source": "path summary" if p.source == "given" else "computed from the path runs",
        }
        for p in data.paths
    ]
    return table_html(rows)


def report_sections(
    data: ReportData, images: Sequence[FigureImage], diagnostics: str | Section | None
) -> list[Section]:
    """The built-in sections in page order (ids from :data:`SECTION_IDS`).

    ``diagnostics`` is a :class:`Section`, trusted HTML for the body of section
    ``diagnostics``, or None (no such section). The path and curve sections appear only when
    they have figures.
    """
    by_section: dict[str, list[FigureImage]] = {}
    for image in images:
        by_section.setdefault(image.section, []).append(image)
    comparison = comparison_html(data) if data.table else render("empty.html.j2")
    out = [Section("comparison", _TITLES["comparison"], comparison, _LEADS["comparison"])]
    if isinstance(diagnostics, Section):
        out.append(diagnostics)
    elif diagnostics is not None:
        out.append(section("diagnostics", _TITLES["diagnostics"], diagnostics))
    extras = {"sparsity": _sparsity_table, "path": _path_table}
    for sid in SECTION_IDS[2:]:
        figures = by_section.get(sid, [])
        if sid in _OPTIONAL and not figures:
            continue
        extra = extras[sid](data) if sid in extras and figures else Markup()
        body = render("figures.html.j2", figures=figures, extra=extra)
        out.append(Section(sid, _TITLES[sid], body, _LEADS[sid]))
    return out


def summary_sentence(data: ReportData) -> Markup:
    """The sentence at the top of the page: what was compared and which configuration won."""
    rows = data.table
    best = next((r for r in rows if flag(r, "best")), None)
    preferred = next((r for r in rows if flag(r, "preferred")), None)
    metric = table_metric(rows, data.metric)
    mean, half = number(best or {}, f"{metric}_mean"), number(best or {}, f"{metric}_ci")
    return render(
        "summary.html.j2",
        n_rows=len(rows),
        n_runs=data.n_runs,
        n_seeds=len(data.seeds),
        dataset=data.dataset,
        best=None if best is None else config_name(best),
        metric=metric.replace("_", " "),
        value=f"{mean:.3f}" if math.isfinite(mean) else "",
        ci=f"{half:.3f}" if math.isfinite(half) and half > 0 else "",
        n_tied=sum(flag(r, "tied") for r in rows),
        preferred=None if preferred is None or preferred is best else config_name(preferred),
    )
