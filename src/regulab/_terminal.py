"""Terminal output that fits: short configuration labels, tables that fit the console's
width, and prose wrapped with a hanging indent.

A configuration's full name (``dropout=0.2/0.5+l2=1e-3+early_stopping``) stays in ``--json``
and the HTML report; the terminal shows its short label (``L2 1e-3 + drop .2/.5 + ES``) made
by :func:`short_label`. A table built by :func:`fitted_table` never breaks a cell across
lines: it leaves out its optional columns, least useful first, until it fits the console.

Examples
--------
>>> short_label("dropout=0.2/0.5+l2=1e-3+early_stopping")
'L2 1e-3 + drop .2/.5 + ES'
>>> short_label("linear+l1=0.0073")
'linear + L1 7.3e-3'
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from rich import box
from rich.console import Console
from rich.table import Column, Table

__all__ = [
    "Col",
    "short_label",
    "short_labels",
    "label_key",
    "fitted_table",
    "print_wrapped",
    "number",
    "choice_mark",
    "leading_columns",
    "effort_cells",
]

# technique -> (place in a label, abbreviation, what the abbreviation means in the key)
_PARTS: dict[str, tuple[int, str, str]] = {
    "none": (0, "none", ""),
    "linear": (1, "linear", ""),
    "hidden": (2, "hidden", ""),
    "l1": (3, "L1", ""),
    "l2": (4, "L2", ""),
    "elastic_net": (5, "EN", "elastic net alpha:l1_ratio"),
    "weight_decay": (6, "WD", "decoupled weight decay"),
    "batchnorm": (7, "BN", "batch norm"),
    "dropout": (8, "drop", "dropout rate per hidden layer"),
    "input_dropout": (9, "in-drop", "dropout on the inputs"),
    "early_stopping": (10, "ES", "early stopping on val_loss, patience 5"),
    "balanced": (11, "CW", "balanced class weights"),
}
_DEFAULT_STOPPING = ("val_loss", "5")
_UNBOUNDED = 10_000  # the width a table is measured in, before it is fitted


def _strength(text: str, digits: int) -> str:
    """``0.0073`` -> ``7.3e-3``, ``0.5`` -> ``0.5``: ``digits`` significant digits."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value == 0 or 0.1 <= abs(value) < 1000:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _rate(text: str, digits: int) -> str:
    """A rate in [0, 1) without its leading zero: ``0.25`` -> ``.25``."""
    try:
        return f"{float(text):.{digits}g}".removeprefix("0") or "0"
    except ValueError:
        return text


def _part(name: str, strength: str | None, digits: int) -> str:
    abbreviation = _PARTS[name][1]
    if strength is None or name in ("none", "linear", "batchnorm"):
        return abbreviation
    if name in ("dropout", "input_dropout"):
        return f"{abbreviation} {'/'.join(_rate(r, digits) for r in strength.split('/'))}"
    if name == "elastic_net":
        alpha, _, ratio = strength.partition(":")
        return f"EN {_strength(alpha, digits)}" + (f":{_rate(ratio, digits)}" if ratio else "")
    if name == "early_stopping":
        monitor, _, patience = strength.partition(":")
        if (monitor, patience or "5") == _DEFAULT_STOPPING:
            return "ES"
        return f"ES {monitor.removeprefix('val_')}" + (f":{patience}" if patience else "")
    if name == "hidden":
        return f"hidden {strength}"
    return f"{abbreviation} {_strength(strength, digits)}"


def short_label(config: str, digits: int = 2) -> str:
    """The short terminal label of the configuration named ``config``.

    Techniques in a fixed order (model, penalties, dropout, batch norm, early stopping),
    strengths to ``digits`` significant digits; an unknown part is kept as written.

    Examples
    --------
    >>> short_label("dropout=0.5+batchnorm+early_stopping")
    'BN + drop .5 + ES'
    >>> short_label("l1=0.003+early_stopping=val_accuracy:3"), short_label("none")
    ('L1 3e-3 + ES accuracy:3', 'none')
    """
    parts = []
    for piece in config.split("+"):
        name, sep, strength = piece.strip().partition("=")
        key = name.strip().lower().replace("-", "_")
        if key not in _PARTS:
            parts.append((len(_PARTS), piece.strip()))
            continue
        parts.append((_PARTS[key][0], _part(key, strength.strip() if sep else None, digits)))
    return " + ".join(text for _, text in sorted(parts, key=lambda part: part[0]))


def short_labels(configs: Iterable[str]) -> dict[str, str]:
    """One distinct short label per configuration: more digits where two would read the
    same, the full name where digits do not tell them apart.

    Examples
    --------
    >>> short_labels(["l1=0.0011", "l1=0.0012"])
    {'l1=0.0011': 'L1 1.1e-3', 'l1=0.0012': 'L1 1.2e-3'}
    >>> short_labels(["l1=0.00101", "l1=0.00102"])["l1=0.00102"]
    'L1 1.02e-3'
    """
    names = list(dict.fromkeys(configs))
    labels: dict[str, str] = {}
    for digits in (2, 3, 4):
        labels = {name: short_label(name, digits) for name in names}
        if len(set(labels.values())) == len(names):
            return labels
    counts = {label: list(labels.values()).count(label) for label in labels.values()}
    return {name: label if counts[label] == 1 else name for name, label in labels.items()}


def label_key(labels: Iterable[str]) -> str:
    """What the abbreviations in ``labels`` stand for (empty when none needs saying).

    Examples
    --------
    >>> label_key(["BN + drop .5", "L2 1e-3"])
    'BN: batch norm; drop: dropout rate per hidden layer'
    """
    words = {word for label in labels for word in label.split()}
    return "; ".join(
        f"{abbreviation}: {meaning}"
        for _, abbreviation, meaning in _PARTS.values()
        if meaning and abbreviation in words
    )


def number(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; ``—`` for a missing or NaN value.

    Examples
    --------
    >>> number(0.12345, ".3f"), number(None, ".3f"), number(float("nan"), ".1%")
    ('0.123', '—', '—')
    """
    return "—" if value is None or value != value else format(value, spec)


class Col(NamedTuple):
    """A table column: its header, whether it is right-aligned, and its drop order
    (``None``: always shown; lower numbers are left out first when the table is too wide)."""

    header: str
    numeric: bool = True
    drop: int | None = None


def _table(
    columns: Sequence[Col], rows: Sequence[Sequence[str]], keep: Sequence[int], title: str
) -> Table:
    table = Table(
        *[
            Column(
                columns[i].header,
                justify="right" if columns[i].numeric else "left",
                no_wrap=i != 0,  # the labels shrink first, the numbers never
                overflow="fold" if i == 0 else "ellipsis",
            )
            for i in keep
        ],
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for row in rows:
        table.add_row(*[row[i] for i in keep])
    return table


def fitted_table(
    console: Console, columns: Sequence[Col], rows: Sequence[Sequence[str]], title: str = ""
) -> Table:
    """A table of ``rows`` that fits ``console``: its optional columns are left out, lowest
    ``drop`` first, until it does. No cell wraps; the first column (the labels) wraps only
    if even the required columns are wider than the console.

    Examples
    --------
    >>> wide = [Col("config", numeric=False), Col("a"), Col("b", drop=1)]
    >>> table = fitted_table(Console(width=12), wide, [["none", "1.0000", "2.0000"]])
    >>> [column.header for column in table.columns]
    ['config', 'a']
    """
    keep = list(range(len(columns)))
    optional = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)
    unbounded = console.options.update_width(_UNBOUNDED)
    while True:
        table = _table(columns, rows, keep, title)
        if not optional or console.measure(table, options=unbounded).maximum <= console.width:
            return table
        keep.remove(optional.pop(0)[1])


def print_wrapped(console: Console, text: str, first: str = "", rest: str = "  ") -> None:
    """Print ``text`` wrapped at the console's width after ``first`` (the next lines after
    ``rest``), literally: no markup, no highlighting."""
    wrapped = textwrap.fill(
        text,
        width=max(console.width, 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
    )
    console.print(wrapped, markup=False, highlight=False, crop=False, soft_wrap=True)


def choice_mark(row: dict[str, Any]) -> str:
    """A results row's mark: ``"best"``, ``"tied"`` (within the tie rule of the best) or
    ``""``.

    Examples
    --------
    >>> choice_mark({"best": False, "tied": True}), choice_mark({"best": False, "tied": False})
    ('tied', '')
    """
    return "best" if row["best"] else ("tied" if row["tied"] else "")


def leading_columns(chosen_on: str, test_metric: str) -> list[Col]:
    """The first columns of a comparison or evidence table: the configuration's label, the
    validation metric it was chosen on with its CI, and the test metric (``acc`` short for
    ``accuracy``)."""
    return [
        Col("config", numeric=False),
        Col(f"{chosen_on} ± CI"),
        Col(test_metric.replace("accuracy", "acc")),
    ]


def effort_cells(row: dict[str, Any]) -> list[str]:
    """A results row's mean epochs run and share of exact zeros, as both tables print them.

    Examples
    --------
    >>> effort_cells({"epochs_mean": 7.25, "sparsity_mean": 0.5})
    ['7.2', '50.0%']
    """
    return [number(row["epochs_mean"], ".1f"), number(row["sparsity_mean"], ".1%")]


def comparison_table(
    console: Console, rows: Sequence[dict[str, Any]], metric: str, test_metric: str, title: str
) -> Table:
    """The ``compare`` table: marks chosen on ``metric`` (validation, with its 95% CI), the
    mean ``test_metric`` beside; a config with a diverged seed reads "diverged" and is never
    marked. Short labels; seconds, gap and epochs are left out first on a narrow console.
    """
    labels = short_labels(row["config"] for row in rows)
    cells = []
    for row in rows:
        mark = choice_mark(row)
        if row["preferred"]:
            mark = f"{mark}, preferred" if mark else "preferred"
        half = row[f"{metric}_ci"]
        chosen_on = number(row[f"{metric}_mean"], ".4f") + (
            f" ± {half:.4f}" if half is not None and half == half else ""
        )
        cells.append(
            [
                labels[row["config"]],
                "diverged" if row.get("diverged") else chosen_on,
                number(row.get(f"{test_metric}_mean"), ".4f"),
                number(row["gap_mean"], "+.3f"),
                *effort_cells(row),
                number(row["seconds_mean"], ".2f"),
                mark,
            ]
        )
    columns = [
        *leading_columns(metric, test_metric),
        Col("gap", drop=1),
        Col("epochs", drop=2),
        Col("sparsity", drop=3),
        Col("s/run", drop=0),
        Col("", numeric=False),
    ]
    return fitted_table(console, columns, cells, title)


def print_summary(console: Console, summary: Any) -> None:
    """Print the ``train`` results of a :class:`~regulab.config.RunSummary`: a table of
    short values, then why training stopped as a wrapped sentence."""
    result = summary.result
    table = Table("", "value", title=f"{summary.dataset.name}: test results")
    for name, value in summary.test_metrics.items():
        table.add_row(f"test {name}", f"{value:.4f}")
    table.add_row("epochs run", str(result.epochs_run))
    table.add_row("stop reason", result.stop_reason.value.replace("_", " "))
    table.add_row("sparsity (exact zeros)", f"{result.sparsity.total:.1%}")
    dropped = result.sparsity.dropped_features
    if dropped:  # a table's original columns, when the run was given its groups
        inputs = result.sparsity.n_columns or summary.dataset.n_features
        table.add_row("dropped features", f"{len(dropped)} of {inputs}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(table)
    print_wrapped(console, result.stop_message, "Stopped: ")
