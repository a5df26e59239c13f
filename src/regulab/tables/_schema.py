"""The kind of every column of a table, and the columns dropped with their reason.

Rules, in order (skrub's ``TableVectorizer`` and ``DropUninformative`` make the same calls):

1. The user's overrides win: ``drop`` drops, ``numeric`` and ``categorical`` set the kind
   and keep the column whatever the rules below would say.
2. More than :data:`MAX_MISSING_FRACTION` of the cells missing: dropped (under 5% of the rows
   left to learn from; an indicator alone would stand for the column).
3. One value and no missing cell: dropped as constant.
4. An ID: a text column whose values are all distinct (every level would be seen once, so
   nothing learned from it carries over to a new row), or an integer column with a value per
   row that counts the rows (a consecutive range, at least :data:`MIN_ROWS_FOR_RANGE` rows) or
   is named like an index (``Unnamed: 0``, ``index``, ``..._id``). A float column is never an
   ID for having distinct values: that is what a real measurement looks like.
5. Kind: booleans and two-valued Yes/No, True/False, Y/N, T/F text columns are ``boolean``;
   other numbers ``numeric``; text and pandas ``category`` columns ``categorical``, and
   high-cardinality when they hold more than :data:`CARDINALITY_THRESHOLD` levels (skrub's
   threshold); date/time columns are dropped with a note (not encoded yet).

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "x": [0.1, 0.5, 0.2, 0.9],
...                       "smoker": ["Yes", "No", "No", "Yes"], "y": [0, 1, 0, 1]})
>>> print(infer_schema(frame, target="y").summary())
1 numeric, 1 boolean; dropped: id (ID: text unique per row)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_numeric_dtype,
    is_timedelta64_dtype,
)

from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.tables._read import clean_frame
from regulab.tables._values import as_numbers, text_codes

__all__ = [
    "KINDS",
    "CARDINALITY_THRESHOLD",
    "HIGH_CARDINALITY_LEVELS",
    "MAX_MISSING_FRACTION",
    "MIN_ROWS_FOR_RANGE",
    "ColumnInfo",
    "DroppedColumn",
    "TableSchema",
    "infer_schema",
]

KINDS = ("numeric", "boolean", "categorical")
#: More distinct levels than this makes a text column high-cardinality (skrub's default).
CARDINALITY_THRESHOLD = 40
#: A high-cardinality column keeps this many one-hot columns: its most frequent levels and
#: one "(other)" column for the rest (OneHotEncoder's ``max_categories``).
HIGH_CARDINALITY_LEVELS = 20
#: A column with a larger fraction of missing cells is dropped.
MAX_MISSING_FRACTION = 0.95
#: An integer column counting the rows is an ID only from this many rows on.
MIN_ROWS_FOR_RANGE = 10

_BOOLEAN_PAIRS = ({"yes", "no"}, {"true", "false"}, {"y", "n"}, {"t", "f"})
_ID_TOKENS = {"id", "index", "idx", "rownumber", "rowid", "rownum"}


@dataclass(frozen=True)
class ColumnInfo:
    """One kept column: its kind, missing cells, levels (categorical and boolean)."""

    name: str
    kind: str
    n_missing: int
    n_levels: int | None = None
    high_cardinality: bool = False
    by_user: bool = False


@dataclass(frozen=True)
class DroppedColumn:
    """One dropped column and why (``code``: id, constant, missing, datetime or user)."""

    name: str
    code: str
    reason: str


@dataclass(frozen=True)
class TableSchema:
    """The kinds of a table's columns, as plain data (see :meth:`to_dict`).

    Examples
    --------
    >>> import pandas as pd
    >>> schema = infer_schema(pd.DataFrame({"a": [1.5, 2.5, 0.5], "b": ["x", "y", "x"]}))
    >>> TableSchema.from_dict(schema.to_dict()) == schema, schema.names("categorical")
    (True, ['b'])
    """

    columns: tuple[ColumnInfo, ...]
    dropped: tuple[DroppedColumn, ...] = ()
    target: str | None = None
    n_rows: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)

    def names(self, *kinds: str) -> list[str]:
        """The kept columns of these kinds (all kept columns when none is given), in order."""
        return [c.name for c in self.columns if not kinds or c.kind in kinds]

    def column(self, name: str) -> ColumnInfo:
        """The kept column ``name``."""
        for info in self.columns:
            if info.name == name:
                return info
        raise DataError(f"Column '{name}' is not a kept column.{did_you_mean(name, self.names())}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain data; :meth:`from_dict` gives the schema back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        """The schema :meth:`to_dict` wrote."""
        return cls(
            columns=tuple(ColumnInfo(**c) for c in data["columns"]),
            dropped=tuple(DroppedColumn(**d) for d in data["dropped"]),
            target=data["target"],
            n_rows=int(data["n_rows"]),
            thresholds=dict(data["thresholds"]),
        )

    def summary(self) -> str:
        """One line: how many columns of each kind, and the dropped ones with their reason."""
        parts = []
        for kind in KINDS:
            kept = [c for c in self.columns if c.kind == kind]
            if not kept:
                continue
            text = f"{len(kept)} {kind}"
            high = [c for c in kept if c.high_cardinality]
            if high:
                text += (
                    f" ({len(high)} high-cardinality: grouped to {HIGH_CARDINALITY_LEVELS} levels)"
                )
            parts.append(text)
        line = ", ".join(parts) or "no feature column kept"
        if self.dropped:
            line += "; dropped: " + ", ".join(f"{d.name} ({d.reason})" for d in self.dropped)
        return line

    def lines(self) -> list[str]:
        """Short lines for the terminal: the summary, then one line per kept column."""
        rows = [self.summary()]
        for c in self.columns:
            levels = "" if c.n_levels is None else f", {c.n_levels} levels"
            high = ", high-cardinality" if c.high_cardinality else ""
            missing = f", {c.n_missing} missing" if c.n_missing else ""
            user = " (set by the user)" if c.by_user else ""
            rows.append(f"  {c.name}: {c.kind}{levels}{high}{missing}{user}")
        return rows

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _id_like_name(name: str) -> bool:
    """``Unnamed: 0``, an empty name, ``index``, ``RowNumber``, ``customer_id``, ``PassengerId``."""
    lowered = name.strip().lower()
    if lowered == "" or lowered.startswith("unnamed:") or lowered.replace(" ", "") in _ID_TOKENS:
        return True
    tokens = _tokens(name)
    return bool(tokens) and tokens[-1] in _ID_TOKENS


def _integer_id_reason(series: pd.Series, name: str) -> str | None:
    """Why an integer column with one distinct value per row (and no missing cell) is an
    ID, or None."""
    n = len(series)
    if n < 2 or not is_numeric_dtype(series) or is_bool_dtype(series):
        return None
    values = series.to_numpy(dtype=np.float64)
    if is_float_dtype(series) and not np.all(values == np.round(values)):
        return None  # a real measurement: distinct values alone never make an ID
    low, high = values.min(), values.max()
    if n >= MIN_ROWS_FOR_RANGE and high - low == n - 1:
        return f"ID: integers counting the rows ({low:.0f} to {high:.0f})"
    if _id_like_name(name):
        return "ID: distinct integers in a column named like an index"
    return None


def _check_overrides(
    columns: list[str], target: str | None, overrides: dict[str, Sequence[str]]
) -> dict[str, str]:
    """Map each overridden column to its override, refusing unknown and repeated names."""
    chosen: dict[str, str] = {}
    for option, names in overrides.items():
        if isinstance(names, str):
            raise InvalidParameterError(
                f"The '{option}' option takes a list of column names, not the string {names!r}."
            )
        for name in names:
            if name == target:
                raise InvalidParameterError(
                    f"'{name}' is the target; it cannot be in the '{option}' columns."
                )
            if name not in columns:
                raise DataError(
                    f"The '{option}' option names column '{name}', which the table does not "
                    f"have.{did_you_mean(name, columns)}"
                )
            if name in chosen and chosen[name] != option:
                raise InvalidParameterError(
                    f"Column '{name}' is in both the '{chosen[name]}' and '{option}' options; "
                    "give it one."
                )
            chosen[name] = option
    return chosen


def _is_boolean(series: pd.Series, levels: list[str]) -> bool:
    present = {level.lower() for level in levels}
    return is_bool_dtype(series) or (
        bool(present) and any(present <= pair for pair in _BOOLEAN_PAIRS)
    )


def _describe(series: pd.Series, name: str, kind: str | None, by_user: bool) -> ColumnInfo:
    """The kept column's info; ``kind`` None means inferred from the values."""
    is_text = not is_numeric_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)
    if kind == "numeric" or (kind is None and not is_text and not is_bool_dtype(series)):
        values = as_numbers(series, name)  # text forced numeric: DataError naming column, row
        return ColumnInfo(name, "numeric", int(np.isnan(values).sum()), by_user=by_user)
    codes, levels = text_codes(series)
    if kind is None and _is_boolean(series, levels):
        kind = "boolean"
    kind = kind or "categorical"
    high = kind == "categorical" and len(levels) > CARDINALITY_THRESHOLD
    return ColumnInfo(name, kind, int((codes < 0).sum()), len(levels), high, by_user)


def _counts(series: pd.Series) -> tuple[int, int, Any]:
    """Missing cells, distinct present values (capped at 2 for non-whole numbers: only
    constancy matters there) and the first value, without hashing a column of floats."""
    if is_numeric_dtype(series) and not is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        if not present.size:
            return len(values), 0, None
        if np.all(present == np.round(present)):
            distinct = len(np.unique(present))
        else:
            distinct = 1 if present.min() == present.max() else 2
        return len(values) - present.size, distinct, present[0]
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return int((codes < 0).sum()), len(uniques), uniques[0] if len(uniques) else None


def _drop_reason(series: pd.Series, name: str) -> DroppedColumn | None:
    """Why the column is dropped (mostly missing, date/time, constant, ID), or None."""
    n_rows = len(series)
    n_missing, n_distinct, first = _counts(series)
    n_present = n_rows - n_missing
    if n_rows and n_missing / n_rows > MAX_MISSING_FRACTION:
        share = n_missing / n_rows
        return DroppedColumn(
            name, "missing", f"{share:.0%} missing, more than {MAX_MISSING_FRACTION:.0%}"
        )
    if is_datetime64_any_dtype(series) or is_timedelta64_dtype(series):
        return DroppedColumn(name, "datetime", "date/time: not encoded, convert it to numbers")
    if n_distinct + (n_missing > 0) <= 1:
        return DroppedColumn(name, "constant", f"constant: every row is {first!r}")
    if n_missing == 0 and n_distinct == n_rows:
        id_reason = _integer_id_reason(series, name)
        if id_reason is not None:
            return DroppedColumn(name, "id", id_reason)
    is_text = not is_numeric_dtype(series) and not is_bool_dtype(series)
    if is_text and n_present >= 2 and n_distinct == n_present:
        return DroppedColumn(name, "id", "ID: text unique per row")
    return None


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> TableSchema:
    """Infer the kind of every feature column and the columns to drop (with a reason).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, e.g. from :func:`~regulab.tables.read_table` (text cells are cleaned
        again here, so a raw frame works too).
    target : str, optional
        The target column: left out of the schema.
    categorical, numeric, drop : sequence of str
        The user's overrides; they win over every inferred rule. A name the table does not
        have is a :class:`~regulab.errors.DataError` with a did-you-mean; a text column forced
        numeric is one naming the column and the row.

    Returns
    -------
    TableSchema

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"zip": [1001, 1002, 1001, 1003], "x": [1.0, 2.0, 3.0, 4.5]})
    >>> [(c.name, c.kind) for c in infer_schema(frame, categorical=["zip"]).columns]
    [('zip', 'categorical'), ('x', 'numeric')]
    """
    columns = [str(c) for c in frame.columns]
    if target is not None and target not in columns:
        raise DataError(
            f"Target column '{target}' is not in the table.{did_you_mean(target, columns)}"
        )
    chosen = _check_overrides(
        columns, target, {"categorical": categorical, "numeric": numeric, "drop": drop}
    )
    frame = clean_frame(frame.set_axis(columns, axis=1))
    n_rows = len(frame)
    kept: list[ColumnInfo] = []
    dropped: list[DroppedColumn] = []
    for name in columns:
        if name == target:
            continue
        series = frame[name]
        override = chosen.get(name)
        if override == "drop":
            dropped.append(DroppedColumn(name, "user", "dropped by the user"))
            continue
        if override is None:
            reason = _drop_reason(series, name)
            if reason is not None:
                dropped.append(reason)
                continue
        kept.append(_describe(series, name, override, by_user=override is not None))
    thresholds = {
        "cardinality_threshold": CARDINALITY_THRESHOLD,
        "high_cardinality_levels": HIGH_CARDINALITY_LEVELS,
        "max_missing_fraction": MAX_MISSING_FRACTION,
        "min_rows_for_range": MIN_ROWS_FOR_RANGE,
    }
    return TableSchema(tuple(kept), tuple(dropped), target, n_rows, thresholds)
