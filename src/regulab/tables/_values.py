"""One column's cells as numbers or as category texts, the same way at fit and at predict.

Both conversions work on a column's distinct values (``pandas.factorize``), so a million
rows cost one hash pass. Errors name the column and the 1-based row of the file: a frame
with an integer index (as :func:`~regulab.tables.read_table_chunks` yields, or a split that
kept the file's index) is taken to hold file rows counted from 0.

Examples
--------
>>> import pandas as pd
>>> as_text(pd.Series([1.0, "02", " b ", None, 2.5])).tolist()
['1', '2', 'b', nan, '2.5']
>>> as_numbers(pd.Series(["1.5", "NA", 3]), "x").tolist()
[1.5, nan, 3.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

from regulab.errors import DataError
from regulab.tables._read import is_null_string

__all__ = ["as_numbers", "as_text", "canonical_text", "file_row", "text_codes", "MISSING"]

MISSING = float("nan")


def file_row(index: pd.Index, position: int) -> int:
    """The 1-based file row of the cell at ``position``: the index label + 1 for an integer
    index, else the position + 1.

    Examples
    --------
    >>> import pandas as pd
    >>> file_row(pd.RangeIndex(100, 200), 2), file_row(pd.Index(["a", "b"]), 1)
    (103, 2)
    """
    if is_integer_dtype(index.dtype):
        return int(index[position]) + 1
    return position + 1


def _number(value: Any) -> float | None:
    """The value as a float, or None when it is not a number (bools are not numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def canonical_text(value: Any) -> Any:
    """One text per category: ``2``, ``2.0`` and ``"02"`` are all ``"2"``; texts stripped;
    NaN for a missing cell."""
    if is_null_string(value):
        return MISSING
    number = _number(value)
    if number is not None:
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    return value.strip() if isinstance(value, str) else str(value)


def as_text(series: pd.Series) -> np.ndarray:
    """A categorical column as an object array of stripped texts, NaN where missing.

    Numbers become one canonical text (whole numbers without ``.0``), booleans ``"True"`` or
    ``"False"``, null strings (see :data:`~regulab.tables.NULL_STRINGS`) NaN.
    """
    codes, levels = text_codes(series)
    lookup = np.empty(len(levels) + 1, dtype=object)
    lookup[:-1] = levels
    lookup[-1] = MISSING
    return lookup[codes]


def text_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A categorical column as codes into its sorted distinct texts (-1 where missing).

    The texts are those of :func:`as_text`, sorted as Python sorts strings (the order
    scikit-learn's ``OneHotEncoder`` gives its categories).

    Examples
    --------
    >>> import pandas as pd
    >>> text_codes(pd.Series(["b", "a", None, " b"]))
    (array([ 1,  0, -1,  1]), ['a', 'b'])
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [canonical_text(value) for value in uniques]
    levels = sorted({text for text in texts if isinstance(text, str)})
    rank = {text: k for k, text in enumerate(levels)}
    table = np.array([rank.get(text, -1) for text in texts] + [-1], dtype=np.int64)
    return table[codes], levels  # code -1 (missing) picks the last entry, -1


def as_numbers(series: pd.Series, name: str) -> np.ndarray:
    """A numeric column as float64, NaN where missing.

    Raises
    ------
    DataError
        A cell holds text that is not a number, or an infinite value; the message names the
        column, the row and the value.
    """
    if is_bool_dtype(series) or is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        table = np.empty(len(uniques) + 1, dtype=np.float64)
        for k, value in enumerate(uniques):
            number = math.nan if is_null_string(value) else _number(value)
            if number is None:
                _refuse(series, name, codes == k, f"the text {value!r}", "is numeric")
            table[k] = number
        table[-1] = math.nan
        values = table[codes]
    infinite = np.isinf(values)
    if infinite.any():
        _refuse(series, name, infinite, "an infinite value", "needs finite numbers")
    return values


def _refuse(series: pd.Series, name: str, bad: np.ndarray, what: str, why: str) -> None:
    first = int(np.flatnonzero(bad)[0])
    count = int(bad.sum())
    more = f" ({count} rows in all)" if count > 1 else ""
    raise DataError(
        f"Column '{name}' {why} but row {file_row(series.index, first)} holds {what}{more}; "
        "fix the cell, or declare the column categorical."
    )
