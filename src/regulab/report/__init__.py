"""The HTML report: plot data from run records, matplotlib figures, one self-contained page.

Plot data is computed first as plain NamedTuples (:func:`build_report_data`), which tests
check without drawing; :func:`render_figures` draws them to PNG bytes and
:func:`write_report` embeds them in one HTML file with inline CSS and no network access.
The page is rendered from Jinja2 templates (``templates/``) with autoescaping; it is a list of
:class:`Section` (id, title, lead, body) from which the table of contents is built. Other tools
(the advisor) add their own through ``lead_sections`` and ``extra_sections``, with bodies from
:func:`table_html` (escaped safe HTML).

Modules: ``_data`` (plot data), ``_plots`` (figures), ``_tables`` (tables as template data),
``_sections`` (the sections), ``_page`` (page shell, table of contents, writing the file),
``_templates`` (the Jinja2 environment).

Examples
--------
>>> from regulab.report import section, table_html
>>> advice = section("advice", "Advice", table_html([{"config": "<l1>", "score": 0.9}]))
>>> advice.id, "&lt;l1&gt;" in advice.body
('advice', True)
"""

from regulab.report._data import (
    ComparisonRow,
    CurvePoint,
    DroppedFeatures,
    GapBar,
    InputHeatmap,
    LearningCurve,
    ParameterCurve,
    PathPoint,
    RegularizationPath,
    ReportData,
    SparsityData,
    WeightHistogram,
    build_report_data,
    comparison_table,
    headline_metric,
    selection_metric_for,
)
from regulab.report._page import ReportInfo, render_report, write_report
from regulab.report._plots import FigureImage, render_figures
from regulab.report._sections import SECTION_IDS, Section, section
from regulab.report._tables import table_html

__all__ = [
    "write_report",
    "render_report",
    "ReportInfo",
    "SECTION_IDS",
    "Section",
    "section",
    "table_html",
    "build_report_data",
    "ReportData",
    "comparison_table",
    "headline_metric",
    "ComparisonRow",
    "LearningCurve",
    "GapBar",
    "WeightHistogram",
    "SparsityData",
    "DroppedFeatures",
    "InputHeatmap",
    "RegularizationPath",
    "PathPoint",
    "ParameterCurve",
    "CurvePoint",
    "render_figures",
    "FigureImage",
    "selection_metric_for",
]
