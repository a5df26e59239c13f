"""One self-contained HTML report: inline CSS, figures as base64 data URIs, no network.

Every user-supplied string is passed through :func:`html.escape`. A Content-Security-Policy
allows images only from ``data:`` URIs and runs only the one inline script written here (it
counts the images that decoded), so the file never reaches the network when opened.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regulab import __version__
from regulab._files import atomic_write
from regulab.errors import InvalidParameterError
from regulab.report._css import CSS as _CSS
from regulab.report._data import ReportData, build_report_data
from regulab.report._plots import FigureImage, render_figures

if TYPE_CHECKING:
    from regulab.experiment._records import RunRecord

__all__ = ["ReportInfo", "section", "table_html", "render_report", "write_report", "SECTION_IDS"]

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
_SECTION_HEAD = re.compile(r'<section\s+id="([^"]+)"[^>]*>\s*<h2[^>]*>(.*?)</h2>', re.S)
_FLAGS = ("is_best", "best", "is_tied", "tied", "is_preferred", "preferred", "diverged")
_HIDDEN = _FLAGS + (
    "metric",
    "higher_is_better",
    "techniques",
    "metric_low",
    "metric_high",
    "metric_se",
    "gap_low",
    "gap_high",
    "gap_ci",
)
_MARKS = (
    ("best", "★ best"),
    ("tied", "≈ tied"),
    ("preferred", "✓ preferred"),
    ("diverged", "✗ diverged"),
)
_STOP_LABELS = {
    "patience_exhausted": "patience",
    "max_epochs": "max epochs",
    "non_finite": "non-finite loss",
    "baseline_not_reached": "baseline",
}
_SCRIPT = (
    'window.addEventListener("load",function(){var m=document.images,n=0,i;'
    "for(i=0;i<m.length;i++){if(m[i].complete&&m[i].naturalWidth>0){n++;}}"
    "document.body.dataset.imagesLoaded=String(n);"
    "document.body.dataset.imagesTotal=String(m.length);});"
)
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; script-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    + "'"
)
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
    "learning-curves": "How the loss on training and validation data evolved while training.",
    "generalization-gap": "How much worse each configuration does on unseen data than on the "
    "data it was trained on.",
    "weights": "What each regularizer does to the weights themselves.",
    "sparsity": "Which weights and input features the penalties switched off entirely.",
    "path": "The same model trained at increasing penalty strengths.",
    "dropout-curve": "The same model trained at several dropout rates.",
    "patience-curve": "The same model stopped early with several patience values.",
}


@dataclass
class ReportInfo:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    path : Path
        The HTML file.
    sections : list of str
        Section ids in page order.
    figures : list of str
        Figure names in page order.
    figure_paths : list of Path
        PNG files written to ``figures_dir`` (empty without it).
    n_images : int
        Number of ``<img>`` tags in the page.
    size_bytes : int
        Size of the HTML file.
    data : ReportData
        The plot data the figures were drawn from.
    """

    path: Path
    sections: list[str]
    figures: list[str]
    figure_paths: list[Path] = field(default_factory=list)
    n_images: int = 0
    size_bytes: int = 0
    data: ReportData | None = None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def section(id: str, title: str, body_html: str, *, lead: str | None = None) -> str:
    """Wrap an already-escaped HTML fragment into a report section.

    Parameters
    ----------
    id : str
        Stable anchor (letters, digits, ``-`` and ``_``, starting with a letter).
    title : str
        Heading text (escaped here).
    body_html : str
        Trusted HTML, e.g. from :func:`table_html`; it is inserted as is.
    lead : str, optional
        One plain-text sentence under the heading (escaped here).

    Returns
    -------
    str

    Examples
    --------
    >>> section("advice", "Advice <1>", "<p>ok</p>")
    '<section id="advice" class="card"><h2>Advice &lt;1&gt;</h2><p>ok</p></section>\\n'
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise InvalidParameterError(
            "The 'id' parameter of section must be a string of letters, digits, '-' or '_' "
            f"starting with a letter. Got {id!r} instead."
        )
    intro = f'<p class="lead">{_e(lead)}</p>' if lead else ""
    return f'<section id="{id}" class="card"><h2>{_e(title)}</h2>{intro}{body_html}</section>\n'


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table_html(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table of dict rows; headers and cells are escaped, numbers right-aligned.

    Parameters
    ----------
    rows : sequence of dict
        One dict per row.
    columns : sequence of str or dict, optional
        Keys to show (default: every key in order of appearance); a dict maps keys to headers.
    row_classes : sequence of str, optional
        CSS class per row (``"best"`` and ``"tied"`` are highlighted).

    Returns
    -------
    str

    Examples
    --------
    >>> table_html([{"name": "<b>", "x": 1.5}])
    '<div class="table-scroll"><table><thead><tr><th>name</th><th class="num">x</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td class="num">1.5</td></tr></tbody></table></div>'
    """  # noqa: E501
    if columns is None:
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        headers = {k: k for k in keys}
    elif isinstance(columns, Mapping):
        headers = dict(columns)
    else:
        headers = {k: k for k in columns}
    numeric = {k: all(_is_number(r.get(k)) or r.get(k) is None for r in rows) for k in headers}
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if numeric[k] and rows else f"<th>{_e(h)}</th>"
        for k, h in headers.items()
    )
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{_e(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td class="num">{_e(_fmt(row.get(k)))}</td>'
            if numeric[k]
            else f"<td>{_e(_fmt(row.get(k)))}</td>"
            for k in headers
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _flag(row: Mapping[str, Any], name: str) -> bool:
    return bool(row.get(name) or row.get(f"is_{name}"))


def _name(row: Mapping[str, Any]) -> str:
    return str(row.get("config", row.get("config_name", "")))


def _num(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else (math.nan)
    )


def _table_metric(rows: Sequence[Mapping[str, Any]], default: str) -> str:
    keys = [k for r in rows for k in r]
    if f"{default}_mean" in keys:
        return default
    found = [k[: -len("_mean")] for k in keys if re.fullmatch(r"test_\w+_mean", k)]
    return found[0] if found else default


def _plus_minus(row: Mapping[str, Any], key: str, ci_key: str, pct: bool = False) -> str:
    mean, half = _num(row, key), _num(row, ci_key)
    if not math.isfinite(mean):
        return "—"
    show: Callable[[float], str] = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3f}")
    ci = f' <span class="ci">± {show(half)}</span>' if math.isfinite(half) and half > 0 else ""
    return f"{show(mean)}{ci}"


def _stops(value: object) -> str:
    if isinstance(value, Mapping):
        return "<br>".join(
            f'<span class="nowrap">{_e(_STOP_LABELS.get(str(k), k))} ×{_e(v)}</span>'
            for k, v in value.items()
        )
    return _e(_fmt(value))


def _reported(metric: str, row: Mapping[str, Any]) -> str:
    return _plus_minus(row, f"{metric}_mean", f"{metric}_ci")


def _one(value: object) -> str:
    return f"{float(value):.1f}" if _is_number(value) else _fmt(value)  # type: ignore[arg-type]


_Column = tuple[str, str, Callable[[Mapping[str, Any]], str], bool]


def _columns(rows: Sequence[Mapping[str, Any]], metric: str) -> list[_Column]:
    label = metric.replace("_", " ")
    known: list[_Column] = [
        ("config", "Configuration", lambda r: _e(_name(r)), False),
        ("n_seeds", "Seeds", lambda r: _e(_fmt(r.get("n_seeds"))), True),
        (
            f"{metric}_mean",
            f"{label} ± 95% CI",
            lambda r: _plus_minus(r, f"{metric}_mean", f"{metric}_ci"),
            True,
        ),
        ("gap_mean", "Gap ± 95% CI", lambda r: _plus_minus(r, "gap_mean", "gap_ci"), True),
        ("epochs_mean", "Epochs", lambda r: _e(_one(r.get("epochs_mean"))), True),
        ("stop_reasons", "Stopped by", lambda r: _stops(r.get("stop_reasons")), False),
        (
            "sparsity_mean",
            "Zero weights",
            lambda r: _plus_minus(r, "sparsity_mean", "", pct=True),
            True,
        ),
        ("weight_norm_mean", "Weight norm", lambda r: _e(_one(r.get("weight_norm_mean"))), True),
        ("seconds_mean", "Seconds", lambda r: _e(_fmt(r.get("seconds_mean"))), True),
    ]
    present = {k for r in rows for k in r}
    reported = [k[: -len("_mean")] for k in present if re.fullmatch(r"test_\w+_mean", k)]
    for test in sorted(t for t in reported if t != metric):  # beside the metric chosen on
        known.insert(
            3,
            (
                f"{test}_mean",
                f"{test.replace('_', ' ')} ± 95% CI (reported)",
                partial(_reported, test),
                True,
            ),
        )
    if "config_name" in present:
        present.add("config")
    hidden = set(_HIDDEN) | {f"{metric}_ci", f"{metric}_se", "config_name"}
    hidden |= {f"{t}_{part}" for t in reported for part in ("ci", "se")}
    columns = [c for c in known if c[0] in present]
    handled = {c[0] for c in known} | hidden
    for key in (k for r in rows for k in r):
        if key not in handled:
            handled.add(key)
            columns.append((key, key, _generic(key), False))
    return columns


def _generic(key: str) -> Callable[[Mapping[str, Any]], str]:
    def render(row: Mapping[str, Any]) -> str:
        return _e(_fmt(row.get(key)))

    return render


def _breakable(name: str) -> str:
    """Escaped config name that may wrap after each ``+``."""
    return _e(name).replace("+", "+<wbr>")


def _comparison_table(data: ReportData) -> str:
    rows = data.table
    columns = _columns(rows, _table_metric(rows, data.metric))
    has_name = any(key == "config" for key, _, _, _ in columns)
    head = ("" if has_name else "<th>Mark</th>") + "".join(
        f'<th class="num">{_e(h)}</th>' if num else f"<th>{_e(h)}</th>" for _, h, _, num in columns
    )
    body = []
    for row in rows:
        marks = "".join(
            f'<span class="badge {name}">{label}</span>'
            for name, label in _MARKS
            if _flag(row, name)
        )
        cells = [] if has_name else [f"<td>{marks}</td>"]
        for key, _, render, num in columns:
            if key == "config":
                badges = f'<div class="marks">{marks}</div>' if marks else ""
                cells.append(f'<td class="name">{_breakable(_name(row))}{badges}</td>')
            else:
                cells.append(
                    f'<td class="num">{render(row)}</td>' if num else f"<td>{render(row)}</td>"
                )
        cls = "best" if _flag(row, "best") else "tied" if _flag(row, "tied") else ""
        attr = f' class="{cls}"' if cls else ""
        body.append(f"<tr{attr}>{''.join(cells)}</tr>")
    return (
        f'<div class="table-scroll"><table class="comparison"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _legend(data: ReportData) -> str:
    direction = "highest" if data.higher_is_better else "lowest"
    metric = _e(_table_metric(data.table, data.metric).replace("_", " "))
    return (
        '<dl class="legend">'
        f'<dt><span class="badge best">★ best</span></dt><dd>the {direction} mean {metric} '
        "over seeds; every mark is chosen on validation figures, test figures are only "
        "reported.</dd>"
        '<dt><span class="badge tied">≈ tied</span></dt><dd>its mean lies within one standard '
        "error of the best mean (the one-standard-error rule).</dd>"
        '<dt><span class="badge diverged">✗ diverged</span></dt><dd>a seed hit a '
        "non-finite loss or validation metric; never marked best.</dd>"
        '<dt><span class="badge preferred">✓ preferred</span></dt><dd>simpler/sparser preferred '
        "among tied: of the best and tied configurations, the one with the most exactly-zero "
        "weights, then the fewest techniques.</dd>"
        "<dt>± </dt><dd>half-width of the 95% confidence interval of the mean (t-distribution "
        "over seeds). <em>Gap</em> is validation loss minus training loss at the returned "
        "epoch: large gaps mean overfitting.</dd>"
        "</dl>"
    )


def _summary(data: ReportData) -> str:
    rows = data.table
    seeds = len(data.seeds)
    dataset = f" on <b>{_e(data.dataset)}</b>" if data.dataset else ""
    if not rows:
        return (
            f"This report covers {data.n_runs} runs{dataset}; it holds no comparison runs, so "
            "only the experiment figures below are shown."
        )
    best = next((r for r in rows if _flag(r, "best")), None)
    text = (
        f"{len(rows)} configurations were compared{dataset} over {seeds} "
        f"seed{'s' if seeds != 1 else ''} ({data.n_runs} runs in total)."
    )
    if best is None:
        return text
    metric = _table_metric(rows, data.metric)
    mean, half = _num(best, f"{metric}_mean"), _num(best, f"{metric}_ci")
    value = f" of {mean:.3f}" if math.isfinite(mean) else ""
    ci = f" (± {half:.3f}, 95% CI)" if math.isfinite(half) and half > 0 else ""
    text += (
        f" <b>{_e(_name(best))}</b> reached the best mean {_e(metric.replace('_', ' '))}{value}{ci}"
    )
    tied = [r for r in rows if _flag(r, "tied")]
    preferred = next((r for r in rows if _flag(r, "preferred")), None)
    if not tied:
        return text + "; no other configuration is statistically tied with it."
    text += (
        f"; {len(tied)} other configuration{'s are' if len(tied) != 1 else ' is'} "
        "statistically tied with it"
    )
    if preferred is not None and preferred is not best:
        text += f", and among them <b>{_e(_name(preferred))}</b> is the simpler/sparser choice"
    return text + "."


def _figure(image: FigureImage) -> str:
    data = base64.b64encode(image.png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(image.alt)}" '
        f'width="{image.width}" height="{image.height}">'
        f"<figcaption>{_e(image.caption)}</figcaption></figure>"
    )


def _sparsity_extra(data: ReportData) -> str:
    if data.sparsity is None:
        return ""
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


def _path_extra(data: ReportData) -> str:
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


def _sections(
    data: ReportData, images: Sequence[FigureImage], diagnostics_html: str | None
) -> list[tuple[str, str]]:
    by_section: dict[str, list[FigureImage]] = {}
    for image in images:
        by_section.setdefault(image.section, []).append(image)
    empty = '<p class="empty">No comparison runs in these records.</p>'
    out = []
    table = _comparison_table(data) + _legend(data) if data.table else empty
    out.append(
        (
            "comparison",
            section(
                "comparison",
                _TITLES["comparison"],
                table,
                lead="Each configuration aggregated over its seeds.",
            ),
        )
    )
    if diagnostics_html is not None:
        wrapped = (
            diagnostics_html
            if diagnostics_html.lstrip().startswith("<section")
            else section("diagnostics", _TITLES["diagnostics"], diagnostics_html)
        )
        out.append(("diagnostics", wrapped))
    extras = {"sparsity": _sparsity_extra(data), "path": _path_extra(data)}
    for sid in SECTION_IDS[2:]:
        figures = by_section.get(sid, [])
        optional = sid in ("path", "dropout-curve", "patience-curve")
        if optional and not figures:
            continue
        body = "".join(_figure(f) for f in figures) or empty
        body += extras.get(sid, "") if figures else ""
        out.append((sid, section(sid, _TITLES[sid], body, lead=_LEADS.get(sid))))
    return out


def render_report(
    records: Sequence[RunRecord],
    *,
    title: str = "Regularization report",
    image_shape: tuple[int, int] | None = None,
    table: Sequence[Mapping[str, Any]] | None = None,
    path_summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    diagnostics_html: str | None = None,
    extra_sections: Sequence[str] | None = None,
    lead_sections: Sequence[str] | None = None,
    summary_html: str | None = None,
    dataset: str | None = None,
    generated: datetime | None = None,
) -> tuple[str, list[FigureImage], ReportData]:
    """Build the report page in memory; see :func:`write_report` for the parameters.

    Returns
    -------
    html : str
    figures : list of FigureImage
    data : ReportData
    """
    data = build_report_data(
        records, image_shape=image_shape, table=table, path_summaries=path_summaries
    )
    if dataset is not None:
        data.dataset = dataset
    images = render_figures(data)
    base = _sections(data, images, diagnostics_html)
    used = {sid for sid, _ in base}
    added: list[tuple[str, str]] = []
    for fragment in [*(lead_sections or ()), *(extra_sections or ())]:
        ids = [m.group(1) for m in _SECTION_HEAD.finditer(fragment)]
        clash = sorted(set(ids) & used)
        if clash:
            raise InvalidParameterError(
                f"The 'extra_sections' parameter of write_report must use section ids not "
                f"already in the report ({', '.join(sorted(used))}). Got {clash[0]!r} instead."
            )
        used.update(ids)
        added.append((ids[0] if ids else "", fragment))
    leading = len(lead_sections or ())
    parts = added[:leading] + base + added[leading:]
    toc = "".join(
        f'<a href="#{_e(m.group(1))}">{m.group(2)}</a>'
        for _, fragment in parts
        for m in _SECTION_HEAD.finditer(fragment)
    )
    when = (generated or datetime.now()).strftime("%Y-%m-%d %H:%M")
    meta = [f"Data set <b>{_e(data.dataset or 'unnamed')}</b>", f"Generated {_e(when)}"]
    if data.configs:
        meta.append(f"{len(data.configs)} configurations × {len(data.seeds)} seeds")
    meta.append(f"{data.n_runs} runs")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="regulab {_e(__version__)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f'<body data-images-total="{len(images)}">\n'
        '<header class="top"><div class="wrap">'
        '<p class="eyebrow">Regulab · regularization report</p>'
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">{"".join(f"<span>{m}</span>" for m in meta)}</p>'
        f'<nav class="toc" aria-label="Sections">{toc}</nav>'
        "</div></header>\n"
        f'<main class="wrap">\n<p class="summary">{summary_html or _summary(data)}</p>\n'
        + "".join(fragment for _, fragment in parts)
        + "</main>\n"
        f'<footer class="wrap">Generated by regulab {_e(__version__)}. This file is '
        "self-contained: figures are embedded and nothing is loaded from the network.</footer>\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
    return page, images, data


def write_report(
    records: Sequence[RunRecord],
    path: str | os.PathLike[str],
    *,
    title: str = "Regularization report",
    figures_dir: str | os.PathLike[str] | None = None,
    image_shape: tuple[int, int] | None = None,
    table: Sequence[Mapping[str, Any]] | None = None,
    path_summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    diagnostics_html: str | None = None,
    extra_sections: Sequence[str] | None = None,
    lead_sections: Sequence[str] | None = None,
    summary_html: str | None = None,
    dataset: str | None = None,
    generated: datetime | None = None,
) -> ReportInfo:
    """Write one self-contained HTML report (and optionally the PNG figures).

    Parameters
    ----------
    records : sequence of RunRecord
        Finished runs: ``compare`` runs feed the table and most figures; ``path:*``,
        ``dropout_curve`` and ``patience_curve`` runs add their own sections.
    path : str or PathLike
        HTML file to write (atomically: temp file, then ``os.replace``).
    title : str, default="Regularization report"
        Page title and heading (escaped).
    figures_dir : str or PathLike, optional
        Also write every figure as ``<name>.png`` there.
    image_shape : tuple of int, optional
        ``(height, width)`` of image inputs such as ``(8, 8)`` or ``(28, 28)``: adds heat maps of
        the input pixels that survive, for configurations that dropped any input.
    table : list of dict, optional
        Precomputed comparison rows (keys as :meth:`ComparisonRow.to_dict`; unknown keys are
        shown as extra columns, ``is_best``/``is_tied``/``is_preferred`` mark rows). Computed
        from the records when None.
    path_summaries : dict or list of dict, optional
        ``lambda_min`` and ``lambda_1se`` per penalty; computed from the path runs when missing.
    diagnostics_html : str, optional
        Trusted HTML body (or a whole :func:`section`) shown as section ``diagnostics``.
    extra_sections : sequence of str, optional
        Trusted sections built with :func:`section`, appended at the end.
    lead_sections : sequence of str, optional
        Trusted sections shown first, before the comparison (the advisor's answer).
    summary_html : str, optional
        Trusted HTML replacing the summary sentence computed from the comparison.
    dataset : str, optional
        Data set name for the header; default the records' ``config["data"]``.
    generated : datetime, optional
        Timestamp shown in the header; default now.

    Returns
    -------
    ReportInfo

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from regulab.report import write_report
    >>> info = write_report([], pathlib.Path(tempfile.mkdtemp()) / "report.html", title="Empty")
    >>> info.sections[:2]
    ['comparison', 'learning-curves']
    """
    page, images, data = render_report(
        records,
        title=title,
        image_shape=image_shape,
        table=table,
        path_summaries=path_summaries,
        diagnostics_html=diagnostics_html,
        extra_sections=extra_sections,
        lead_sections=lead_sections,
        summary_html=summary_html,
        dataset=dataset,
        generated=generated,
    )
    target = Path(path)
    content = page.encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, content)
    figure_paths = []
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        for image in images:
            figure_path = Path(figures_dir) / f"{image.name}.png"
            atomic_write(figure_path, image.png)
            figure_paths.append(figure_path)
    return ReportInfo(
        path=target,
        sections=[m.group(1) for m in re.finditer(r'<section\s+id="([^"]+)"', page)],
        figures=[image.name for image in images],
        figure_paths=figure_paths,
        n_images=page.count("<img "),
        size_bytes=len(content),
        data=data,
    )
