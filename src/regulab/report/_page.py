"""The page around the sections: head, header with the table of contents, footer.

One self-contained file: inline CSS, figures as base64 data URIs, no network. A
Content-Security-Policy allows images only from ``data:`` URIs and runs only the one inline
script written here (it counts the images that decoded), so the file never reaches the network
when opened. Every user string reaches the page through an autoescaping template.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from markupsafe import Markup

from regulab._files import atomic_write
from regulab._version import __version__
from regulab.errors import InvalidParameterError
from regulab.report._data import ReportData, build_report_data
from regulab.report._plots import FigureImage, render_figures
from regulab.report._sections import Section, report_sections, summary_sentence
from regulab.report._templates import render

if TYPE_CHECKING:
    from regulab.experiment._records import RunRecord

__all__ = ["ReportInfo", "render_report", "write_report"]

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

# figure names carry user text (a path's penalty name): keep their files inside figures_dir
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_.=+-]")


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


def _added(name: str, sections: Sequence[Section] | None, used: set[str]) -> list[Section]:
    """Validate caller sections: each a :class:`Section` with an id not yet in the page."""
    out = []
    for added in sections or ():
        if not isinstance(added, Section):
            raise InvalidParameterError(
                f"The {name!r} parameter of write_report must hold sections built with "
                f"regulab.report.section. Got {type(added).__name__} instead."
            )
        if added.id in used:
            raise InvalidParameterError(
                f"The {name!r} parameter of write_report must use section ids not already in "
                f"the report ({', '.join(sorted(used))}). Got {added.id!r} instead."
            )
        used.add(added.id)
        out.append(added)
    return out


def _page_sections(
    data: ReportData,
    images: Sequence[FigureImage],
    diagnostics_html: str | Section | None,
    lead_sections: Sequence[Section] | None,
    extra_sections: Sequence[Section] | None,
) -> list[Section]:
    base = report_sections(data, images, diagnostics_html)
    used = {s.id for s in base}
    lead = _added("lead_sections", lead_sections, used)
    extra = _added("extra_sections", extra_sections, used)
    return lead + base + extra


class ReportOptions(TypedDict, total=False):
    """What the page shows beside the records: the keywords of :func:`render_report` and
    :func:`write_report` (documented there), each optional."""

    title: str
    image_shape: tuple[int, int] | None
    table: Sequence[Mapping[str, Any]] | None
    path_summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
    diagnostics_html: str | Section | None
    extra_sections: Sequence[Section] | None
    lead_sections: Sequence[Section] | None
    summary_html: str | None
    dataset: str | None
    generated: datetime | None


def _render(
    records: Sequence[RunRecord], options: ReportOptions
) -> tuple[str, list[FigureImage], ReportData, list[Section]]:
    unknown = sorted(set(options) - set(ReportOptions.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
    data = build_report_data(
        records,
        image_shape=options.get("image_shape"),
        table=options.get("table"),
        path_summaries=options.get("path_summaries"),
    )
    dataset = options.get("dataset")
    if dataset is not None:
        data.dataset = dataset
    images = render_figures(data)
    sections = _page_sections(
        data,
        images,
        options.get("diagnostics_html"),
        options.get("lead_sections"),
        options.get("extra_sections"),
    )
    summary_html = options.get("summary_html")
    page = render(
        "page.html.j2",
        csp=_CSP,
        script=Markup(_SCRIPT),
        version=__version__,
        title=options.get("title", "Regularization report"),
        n_images=len(images),
        dataset=data.dataset,
        generated=(options.get("generated") or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        n_configs=len(data.configs),
        n_seeds=len(data.seeds),
        n_runs=data.n_runs,
        sections=sections,
        summary=Markup(summary_html) if summary_html else summary_sentence(data),
    )
    return f"{page}\n", images, data, sections


def render_report(
    records: Sequence[RunRecord], **options: Unpack[ReportOptions]
) -> tuple[str, list[FigureImage], ReportData]:
    """Build the report page in memory; see :func:`write_report` for the keywords.

    Returns
    -------
    html : str
    figures : list of FigureImage
    data : ReportData
    """
    page, images, data, _ = _render(records, options)
    return page, images, data


def write_report(
    records: Sequence[RunRecord],
    path: str | os.PathLike[str],
    *,
    figures_dir: str | os.PathLike[str] | None = None,
    **options: Unpack[ReportOptions],
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
        Also write every figure as ``<name>.png`` there (characters other than letters, digits
        and ``_.=+-`` replaced by ``_``).
    image_shape : tuple of int, optional
        ``(height, width)`` of image inputs such as ``(8, 8)`` or ``(28, 28)``: adds heat maps of
        the input pixels that survive, for configurations that dropped any input.
    table : list of dict, optional
        Precomputed comparison rows (keys as :meth:`ComparisonRow.to_dict`; unknown keys are
        shown as extra columns, ``is_best``/``is_tied``/``is_preferred`` mark rows; a text
        value such as ``"diverged"`` is shown as is). Computed from the records when None.
    path_summaries : dict or list of dict, optional
        ``lambda_min`` and ``lambda_1se`` per penalty; computed from the path runs when missing.
    diagnostics_html : str or Section, optional
        Trusted HTML body of section ``diagnostics`` (e.g. from :func:`table_html`), or a whole
        :class:`Section` shown in its place.
    extra_sections : sequence of Section, optional
        Sections (see :func:`section`) appended at the end; their ids must be new.
    lead_sections : sequence of Section, optional
        Sections shown first, before the comparison (the advisor's answer).
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
    page, images, data, sections = _render(records, options)
    target = Path(path)
    content = page.encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, content)
    figure_paths = []
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        for image in images:
            figure_path = Path(figures_dir) / f"{_UNSAFE_IN_FILE_NAME.sub('_', image.name)}.png"
            atomic_write(figure_path, image.png)
            figure_paths.append(figure_path)
    return ReportInfo(
        path=target,
        sections=[s.id for s in sections],
        figures=[image.name for image in images],
        figure_paths=figure_paths,
        n_images=page.count("<img "),
        size_bytes=len(content),
        data=data,
    )
