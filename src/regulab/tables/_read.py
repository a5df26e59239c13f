"""Read a table as users hold it: CSV, Parquet or a DataFrame, whole or in chunks.

Empty cells and the usual null strings (:data:`NULL_STRINGS`, compared without case and
surrounding spaces) are missing values; a text column whose cells are all numbers becomes a
numeric column; everything else is kept as the user wrote it (text stays text, a pandas
``category`` column stays one).

Examples
--------
>>> import io
>>> frame = read_table(io.StringIO("a,b,c\\n1,Yes,x\\n?,No, NA \\n3, n/a,y\\n"))
>>> frame["a"].tolist(), frame["b"].isna().tolist(), frame["c"].isna().tolist()
([1.0, nan, 3.0], [False, False, True], [False, True, False])
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype

from regulab.errors import DataError, one_line

__all__ = ["NULL_STRINGS", "read_table", "read_table_chunks", "clean_frame", "is_null_string"]

#: Cell texts read as missing values (compared in lower case, without surrounding spaces).
NULL_STRINGS = frozenset(
    {"", "na", "n/a", "n.a.", "nan", "-nan", "null", "none", "?", "#n/a", "#na", "<na>"}
)

_FILE_TYPES = (".csv", ".parquet", ".pq")
Source: TypeAlias = "str | os.PathLike[str] | IO[str] | pd.DataFrame"


def is_null_string(value: Any) -> bool:
    """Whether a cell is missing: None, NaN or a null string such as ``" N/A "``.

    Examples
    --------
    >>> [is_null_string(v) for v in (None, float("nan"), " N/A", "?", "no", 0)]
    [True, True, True, True, False, False]
    """
    if isinstance(value, str):
        return value.strip().lower() in NULL_STRINGS
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    """A number held in an object column (not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _clean_text_column(series: pd.Series) -> pd.Series:
    """Strip a text column, turn null strings into NaN, and make it numeric when every
    remaining cell is a number. Works on the distinct values only (fast on long columns)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = [
        np.nan if is_null_string(value) else value.strip() if isinstance(value, str) else value
        for value in uniques
    ]
    if all(a is b for a, b in zip(cleaned, uniques)) and not all(
        _is_number_text(v) if isinstance(v, str) else _is_number(v) for v in cleaned
    ):
        return series  # nothing to clean (the common case: no rebuild of a long column)
    present = [value for value in cleaned if not (isinstance(value, float) and value != value)]
    numbers = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    if present and not numbers.isna().any() and not any(isinstance(v, bool) for v in present):
        table = np.append(
            pd.to_numeric(pd.Series(cleaned, dtype=object)).to_numpy(np.float64), np.nan
        )
        return pd.Series(table[codes], index=series.index, name=series.name)
    lookup = np.empty(len(cleaned) + 1, dtype=object)
    lookup[:-1] = cleaned
    lookup[-1] = np.nan
    return pd.Series(lookup[codes], index=series.index, name=series.name, dtype=object)


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its text columns cleaned (null strings missing, numbers numeric).

    Numeric, boolean and ``category`` columns are kept as they are; the frame is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> clean_frame(pd.DataFrame({"x": ["1", " 2", "null"]}))["x"].tolist()
    [1.0, 2.0, nan]
    """
    result = frame
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        text = is_object_dtype(series) or (
            is_string_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype)
        )
        if text and not is_bool_dtype(series) and not is_numeric_dtype(series):
            if result is frame:
                result = frame.copy(deep=False)
            result.isetitem(position, _clean_text_column(series))
    return result


def _csv_options() -> dict[str, Any]:
    nulls = sorted(NULL_STRINGS | {s.upper() for s in NULL_STRINGS} | {"NaN", "Null", "None"})
    return {"na_values": nulls, "keep_default_na": True, "skipinitialspace": True}


def check_table_file(source: str | os.PathLike[str]) -> Path:
    """``source`` as a path, or a DataError: it must be an existing CSV or Parquet file."""
    path = Path(source)
    if not path.is_file():
        raise DataError(f"File '{path}' does not exist.")
    if path.suffix.lower() not in _FILE_TYPES:
        raise DataError(
            f"Cannot read '{path}' as a table: unsupported file type '{path.suffix}'. "
            f"Supported: {', '.join(_FILE_TYPES)}."
        )
    return path


def read_table(source: Source, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file (or take a DataFrame) with missing cells made NaN.

    Parameters
    ----------
    source : str, path, text stream or pandas.DataFrame
        A ``.csv``, ``.parquet`` or ``.pq`` file, an open CSV text stream, or a frame.
    columns : sequence of str, optional
        Read only these columns.

    Returns
    -------
    pandas.DataFrame
        Text columns stripped, null strings (:data:`NULL_STRINGS`) as NaN, text columns of
        numbers as floats; other columns as the file or frame holds them.

    Examples
    --------
    >>> import pandas as pd
    >>> read_table(pd.DataFrame({"smoker": ["Yes", "No", "?"]}))["smoker"].tolist()
    ['Yes', 'No', nan]
    """
    if isinstance(source, pd.DataFrame):
        frame = source if columns is None else source[list(columns)]
        return clean_frame(frame)
    return pd.concat(list(read_table_chunks(source, chunksize=None, columns=columns)))


def read_table_chunks(
    source: Source, *, chunksize: int | None = 100_000, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Yield a table in chunks of ``chunksize`` rows, each cleaned as :func:`read_table` does.

    The chunks keep the file's row numbers as their index (0 for the first data row), so an
    error can name the row of the file. ``chunksize=None`` yields the whole table at once.

    Examples
    --------
    >>> import io
    >>> chunks = list(read_table_chunks(io.StringIO("a\\n1\\n2\\nNA\\n"), chunksize=2))
    >>> [chunk.index.tolist() for chunk in chunks]
    [[0, 1], [2]]
    """
    wanted = None if columns is None else list(columns)
    if isinstance(source, pd.DataFrame):
        step = len(source) if chunksize is None else chunksize
        for start in range(0, max(len(source), 1), max(step, 1)):
            yield read_table(source.iloc[start : start + step], columns=wanted)
        return
    if isinstance(source, (str, os.PathLike)):
        path = check_table_file(source)
        name, is_csv = path.name, path.suffix.lower() == ".csv"
    else:
        name, is_csv = "the table", True
    try:
        if is_csv:
            options = _csv_options()
            if chunksize is None:
                yield clean_frame(pd.read_csv(source, usecols=wanted, **options))
                return
            with pd.read_csv(source, usecols=wanted, chunksize=chunksize, **options) as reader:
                for chunk in reader:
                    yield clean_frame(chunk)
            return
        yield from _parquet_chunks(path, chunksize, wanted)
    except (OSError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"Cannot read '{name}': {one_line(error)}") from error


def _parquet_chunks(
    path: Path, chunksize: int | None, columns: list[str] | None
) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    if chunksize is None:
        yield clean_frame(pd.read_parquet(path, columns=columns))
        return
    start = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize, columns=columns):
        chunk = batch.to_pandas()
        chunk.index = pd.RangeIndex(start, start + len(chunk))
        start += len(chunk)
        yield clean_frame(chunk)
