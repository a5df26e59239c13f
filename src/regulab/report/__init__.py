"""The HTML report: plot data from run records, matplotlib figures, one self-contained page.

Plot data is computed first as plain NamedTuples (:func:`build_report_data`), which tests
check without drawing; :func:`render_figures` draws them to PNG bytes and
:func:`write_report` embeds them in one HTML file with inline CSS and no network access.
:func:`section` and :func:`table_html` build escaped fragments other tools (the advisor) can
inject through ``diagnostics_html`` and ``extra_sections``.

Examples
--------
>>> from regulab.report import section, table_html
>>> html = section("advice", "Advice", table_html([{"config": "<l1>", "score": 0.9}]))
>>> "&lt;l1&gt;" in html
True
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
from regulab.report._html import (
    SECTION_IDS,
    ReportInfo,
    render_report,
    section,
    table_html,
    write_report,
)
from regulab.report._plots import FigureImage, render_figures

__all__ = [
    "write_report",
    "render_report",
    "ReportInfo",
    "SECTION_IDS",
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
