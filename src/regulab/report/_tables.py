"""Tables of the report as data for the ``table`` and ``comparison`` templates.

Python decides what each cell says (number formats, marks, stop reasons); the templates decide
how it looks and escape every value. A cell shows any text the rows give it as is, so a row
can say ``"diverged"`` where a number would be.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

from markupsafe import Markup

from regulab.report._data import ReportData
from regulab.report._templates import render

__all__ = ["table_html", "comparison_html", "table_metric", "flag", "config_name", "number"]

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


class _Column(NamedTuple):
    header: str
    numeric: bool


class _Row(NamedTuple):
    cls: str
    cells: list[str]


def table_html(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    row_classes: Sequence[str] | None = None,
) -> Markup:
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
    markupsafe.Markup
        Safe HTML (a ``str``), ready for :func:`regulab.report.section`.

    Examples
    --------
    >>> print(table_html([{"name": "<b>", "x": 1.5}]))
    <div class="table-scroll"><table>
    <thead><tr><th>name</th><th class="num">x</th></tr></thead>
    <tbody>
    <tr><td>&lt;b&gt;</td><td class="num">1.5</td></tr>
    </tbody>
    </table></div>
    """
    if columns is None:
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        headers = {k: k for k in keys}
    elif isinstance(columns, Mapping):
        headers = dict(columns)
    else:
        headers = {k: k for k in columns}
    numeric = {
        k: bool(rows) and all(_is_number(r.get(k)) or r.get(k) is None for r in rows)
        for k in headers
    }
    return render(
        "table.html.j2",
        columns=[_Column(h, numeric[k]) for k, h in headers.items()],
        rows=[
            _Row(row_classes[i] if row_classes else "", [_fmt(row.get(k)) for k in headers])
            for i, row in enumerate(rows)
        ],
    )


def flag(row: Mapping[str, Any], name: str) -> bool:
    """Whether a comparison row is marked ``name`` (``best``, ``tied``, ``preferred``)."""
    return bool(row.get(name) or row.get(f"is_{name}"))


def config_name(row: Mapping[str, Any]) -> str:
    """The configuration a comparison row describes."""
    return str(row.get("config", row.get("config_name", "")))


def number(row: Mapping[str, Any], key: str) -> float:
    """``row[key]`` as a float; NaN when missing or not a number."""
    value = row.get(key)
    return float(value) if _is_number(value) else math.nan  # type: ignore[arg-type]


def table_metric(rows: Sequence[Mapping[str, Any]], default: str) -> str:
    """The metric the rows report (``<metric>_mean``): ``default``, else the first test one."""
    keys = [k for r in rows for k in r]
    if f"{default}_mean" in keys:
        return default
    found = [k[: -len("_mean")] for k in keys if re.fullmatch(r"test_\w+_mean", k)]
    return found[0] if found else default


class _Estimate(NamedTuple):
    text: str
    ci: str


def _estimate(row: Mapping[str, Any], key: str, ci_key: str, pct: bool = False) -> _Estimate:
    value = row.get(key)
    if isinstance(value, str):
        return _Estimate(value, "")
    mean, half = number(row, key), number(row, ci_key)
    if not math.isfinite(mean):
        return _Estimate("—", "")
    show: Callable[[float], str] = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3f}")
    return _Estimate(show(mean), show(half) if math.isfinite(half) and half > 0 else "")


def _stops(value: object) -> list[tuple[str, object]] | str:
    if isinstance(value, Mapping):
        return [(_STOP_LABELS.get(str(k), str(k)), v) for k, v in value.items()]
    return _fmt(value)


def _reported(metric: str, row: Mapping[str, Any]) -> _Estimate:
    return _estimate(row, f"{metric}_mean", f"{metric}_ci")


def _one(value: object) -> str:
    return f"{float(value):.1f}" if _is_number(value) else _fmt(value)  # type: ignore[arg-type]


class _Kind(NamedTuple):
    key: str
    header: str
    kind: str  # "name", "estimate", "stops" or "text" (see comparison.html.j2)
    numeric: bool
    cell: Callable[[Mapping[str, Any]], object]


def _columns(rows: Sequence[Mapping[str, Any]], metric: str) -> list[_Kind]:
    label = metric.replace("_", " ")
    known = [
        _Kind("config", "Configuration", "name", False, lambda r: config_name(r).split("+")),
        _Kind("n_seeds", "Seeds", "text", True, lambda r: _fmt(r.get("n_seeds"))),
        _Kind(
            f"{metric}_mean",
            f"{label} ± 95% CI",
            "estimate",
            True,
            lambda r: _estimate(r, f"{metric}_mean", f"{metric}_ci"),
        ),
        _Kind(
            "gap_mean",
            "Gap ± 95% CI",
            "estimate",
            True,
            lambda r: _estimate(r, "gap_mean", "gap_ci"),
        ),
        _Kind("epochs_mean", "Epochs", "text", True, lambda r: _one(r.get("epochs_mean"))),
        _Kind(
            "stop_reasons", "Stopped by", "stops", False, lambda r: _stops(r.get("stop_reasons"))
        ),
        _Kind(
            "sparsity_mean",
            "Zero weights",
            "estimate",
            True,
            lambda r: _estimate(r, "sparsity_mean", "", pct=True),
        ),
        _Kind(
            "weight_norm_mean",
            "Weight norm",
            "text",
            True,
            lambda r: _one(r.get("weight_norm_mean")),
        ),
        _Kind("seconds_mean", "Seconds", "text", True, lambda r: _fmt(r.get("seconds_mean"))),
    ]
    present = {k for r in rows for k in r}
    reported = [k[: -len("_mean")] for k in present if re.fullmatch(r"test_\w+_mean", k)]
    for test in sorted(t for t in reported if t != metric):  # beside the metric chosen on
        known.insert(
            3,
            _Kind(
                f"{test}_mean",
                f"{test.replace('_', ' ')} ± 95% CI (reported)",
                "estimate",
                True,
                partial(_reported, test),
            ),
        )
    if "config_name" in present:
        present.add("config")
    hidden = set(_HIDDEN) | {f"{metric}_ci", f"{metric}_se", "config_name"}
    hidden |= {f"{t}_{part}" for t in reported for part in ("ci", "se")}
    columns = [c for c in known if c.key in present]
    handled = {c.key for c in known} | hidden
    for key in (k for r in rows for k in r):
        if key not in handled:
            handled.add(key)
            columns.append(_Kind(key, key, "text", False, _generic(key)))
    return columns


def _generic(key: str) -> Callable[[Mapping[str, Any]], str]:
    def cell(row: Mapping[str, Any]) -> str:
        return _fmt(row.get(key))

    return cell


class _MarkedRow(NamedTuple):
    cls: str
    marks: list[tuple[str, str]]
    cells: list[object]


def comparison_html(data: ReportData) -> Markup:
    """The comparison table (best, tied and preferred rows marked) and its legend."""
    rows = data.table
    metric = table_metric(rows, data.metric)
    columns = _columns(rows, metric)
    marked = [
        _MarkedRow(
            "best" if flag(row, "best") else "tied" if flag(row, "tied") else "",
            [(name, label) for name, label in _MARKS if flag(row, name)],
            [column.cell(row) for column in columns],
        )
        for row in rows
    ]
    return render(
        "comparison.html.j2",
        columns=columns,
        rows=marked,
        has_name=any(column.kind == "name" for column in columns),
        higher_is_better=data.higher_is_better,
        metric=metric.replace("_", " "),
    )
