"""Reading a dataset from a file: CSV, Parquet and NPZ, and turning a table into a Dataset
(a mixed table becomes a table data set, see :mod:`regulab.data._table`).

Target rule (as scikit-learn's ``type_of_target``): see :func:`infer_task`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from regulab.data._dataset import Dataset, _rows
from regulab.data._table import check_target, drop_missing_target, table_dataset
from regulab.errors import DataError, InvalidParameterError, one_line
from regulab.tables import read_table

#: A whole-number target with at most this many distinct values is read as class labels.
MAX_INFERRED_CLASSES = 20
_LOG = logging.getLogger(__name__)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FILE_TYPES = (".csv", ".parquet", ".pq", ".npz")


def read_file(
    path: Path,
    target: str | None,
    task: str | None,
    *,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> Dataset:
    """Read a ``.csv``, ``.parquet``/``.pq`` or ``.npz`` file into a :class:`Dataset`.

    CSV and Parquet need the ``target`` column and are read as users hold them
    (:func:`~regulab.tables.read_table`: null strings such as ``NA`` or ``?`` are empty
    cells); see :func:`frame_dataset` for what becomes of the columns. An ``.npz`` file holds
    arrays ``X`` (n, p) and ``y`` (n,). ``task`` overrides :func:`infer_task`.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]}).to_csv(
    ...     folder / "toy.csv", index=False)
    >>> read_file(folder / "toy.csv", "y", None)
    Dataset('toy', classification, 4 x 1, 2 classes)
    """
    if path.is_dir():
        raise DataError(
            f"'{path}' is a folder; give a {', '.join(_FILE_TYPES)} file (MNIST's folder of IDX "
            "files is the mnist dataset with its own folder option)."
        )
    if not path.is_file():
        raise DataError(f"File '{path}' does not exist.")
    suffix = path.suffix.lower()
    if suffix not in _FILE_TYPES:
        raise DataError(
            f"Cannot load '{path}': unsupported file type '{suffix}'. "
            f"Supported: {', '.join(_FILE_TYPES)}."
        )
    if suffix == ".npz":
        if categorical or numeric or drop:
            raise InvalidParameterError(
                f"'{path.name}' is an array file; column options (categorical, numeric, drop) "
                "are for CSV and Parquet tables."
            )
        return _load_npz(path, task)
    if target is None:
        raise InvalidParameterError(
            f"Loading '{path}' needs the name of its target column: --target COLUMN "
            "(Python: target='COLUMN')."
        )
    try:
        if suffix == ".csv":
            header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        frame = read_table(path)
        if suffix != ".csv":
            header = list(frame.columns)
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read '{path}': {one_line(error)}") from error
    _check_unique_columns([str(name) for name in header], path)
    return frame_dataset(
        frame,
        target,
        task,
        path.stem,
        where=f"'{path.name}'",
        categorical=categorical,
        numeric=numeric,
        drop=drop,
    )


def _check_unique_columns(names: list[str], path: Path) -> None:
    """Refuse a header that names a column twice (pandas would rename one to ``y.1`` and a
    copy of the target could become a feature)."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"'{path.name}' names these columns more than once: "
            f"{', '.join(repr(name) for name in repeated)}; give every column its own name."
        )


def _plain_numeric(features: pd.DataFrame) -> bool:
    """Every column numbers or booleans and no cell missing (infinities are refused later)."""
    return all(
        (is_numeric_dtype(features[c]) or is_bool_dtype(features[c]))
        and not isinstance(features[c].dtype, pd.CategoricalDtype)
        and not features[c].isna().any()
        for c in features.columns
    )


def frame_dataset(
    frame: pd.DataFrame,
    target: str,
    task: str | None,
    name: str,
    *,
    where: str = "the table",
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> Dataset:
    """A table (read by :func:`~regulab.tables.read_table`) with its target as a Dataset.

    A row with an empty target is dropped (the count is noted on the ``regulab`` logger).
    When every feature column is numeric (or boolean) and complete and no column option is
    given, the features are the columns as they are, standardized later by
    :func:`~regulab.data.split`. Anything else (text, boolean Yes/No or category columns,
    empty cells, ``categorical``/``numeric``/``drop``) is a table data set: its column kinds
    are inferred, ID, constant and mostly empty columns dropped with a note, and
    ``Dataset.table`` holds the raw columns and the preprocessing (see
    :func:`~regulab.data._table.table_dataset`).
    """
    columns = [str(column) for column in frame.columns]
    check_target(columns, target, where)
    frame = frame.set_axis(columns, axis=1)
    if len(frame) == 0 or frame.shape[1] < 2:
        raise DataError(
            f"{where} needs rows and a feature column besides '{target}'; it has "
            f"{_rows(len(frame))} and {frame.shape[1] - 1} feature columns."
        )
    if categorical or numeric or drop or not _plain_numeric(frame.drop(columns=[target])):
        return table_dataset(
            frame,
            target,
            task,
            name,
            categorical=categorical,
            numeric=numeric,
            drop=drop,
            encode_target=_encode_target,
        )
    frame = drop_missing_target(frame.reset_index(drop=True), target)
    features = frame.drop(columns=[target])
    X = _feature_matrix(features)
    y, task, classes = _encode_target(frame[target], target, task)
    return Dataset(X, y, task, list(features.columns), name, classes)


def _feature_matrix(features: pd.DataFrame) -> np.ndarray:
    """Convert the feature columns to float32, naming any non-numeric or non-finite column."""
    matrix = np.empty(features.shape, dtype=np.float64)
    for position, column in enumerate(features.columns):
        series = features[column]
        if not (is_numeric_dtype(series) or is_bool_dtype(series)):
            converted = pd.to_numeric(series.astype(object), errors="coerce")
            non_numeric = converted.isna() & series.notna()
            if non_numeric.any():
                example = series[non_numeric].iloc[0]
                raise DataError(
                    f"Feature column '{column}' has {_rows(int(non_numeric.sum()))} with "
                    f"non-numeric values (e.g. {example!r}); encode it as numbers or drop it."
                )
            series = converted
        matrix[:, position] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    names = list(features.columns)
    _check_finite(matrix, names)
    _check_float32_range(matrix, names)
    return matrix.astype(np.float32)


def _check_float32_range(X: np.ndarray, names: list[str]) -> None:
    """Refuse finite values that 32-bit floats (the models' precision) cannot hold."""
    too_large = np.abs(X) > _FLOAT32_MAX
    if too_large.any():
        column = int(np.flatnonzero(too_large.any(axis=0))[0])
        example = float(X[too_large[:, column], column][0])
        raise DataError(
            f"Feature column '{names[column]}' has {_rows(int(too_large[:, column].sum()))} "
            f"beyond the 32-bit float range (|x| > {_FLOAT32_MAX:.3g}), e.g. {example:g}; "
            "rescale the column (e.g. to other units or a logarithm) first."
        )


def _check_finite(X: np.ndarray, names: list[str]) -> None:
    bad_counts = (~np.isfinite(X)).sum(axis=0)
    bad = [(names[j], int(bad_counts[j])) for j in np.flatnonzero(bad_counts)]
    if len(bad) == 1:
        raise DataError(
            f"Feature column '{bad[0][0]}' has {_rows(bad[0][1])} with NaN or infinite values; "
            "clean or impute them first."
        )
    if bad:
        listed = ", ".join(f"'{name}' ({_rows(count)})" for name, count in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise DataError(
            f"Feature columns {listed}{more} have NaN or infinite values; "
            "clean or impute them first."
        )


def infer_task(target: pd.Series) -> tuple[str, str]:
    """The task a target column implies, and why (as scikit-learn's ``type_of_target``).

    Strings, categories and booleans are class labels. Numbers that are all whole (ints, or
    floats such as 1.0, 2.0) with at most :data:`MAX_INFERRED_CLASSES` distinct values are
    class labels too; other numbers are a regression target.

    Examples
    --------
    >>> import pandas as pd
    >>> infer_task(pd.Series([0, 1, 1, 0]))[0], infer_task(pd.Series([0.5, 1.2, 3.3]))[0]
    ('classification', 'regression')
    """
    values = target.dropna()
    distinct = int(values.nunique())
    if is_bool_dtype(target) or not is_numeric_dtype(target):
        return "classification", f"{distinct} distinct non-numeric labels"
    numbers = values.to_numpy(dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    whole = bool(np.all(finite == np.round(finite)))
    if whole and distinct <= MAX_INFERRED_CLASSES:
        return "classification", f"{distinct} distinct whole numbers"
    if whole:
        return "regression", f"{distinct} distinct whole numbers (more than {MAX_INFERRED_CLASSES})"
    return "regression", "numbers that are not all whole"


def _encode_target(
    target: pd.Series, name: str, task: str | None
) -> tuple[np.ndarray, str, list | None]:
    numeric = is_numeric_dtype(target) and not is_bool_dtype(target)
    if task is None:
        task, why = infer_task(target)
        other = "regression" if task == "classification" else "classification"
        _LOG.info(
            f"Target '{name}' has {why}: treated as {task}. To change it, pass "
            f"--task {other} (Python: task='{other}')."
        )
    if task == "regression":
        if not numeric:
            raise DataError(
                f"The target '{name}' is not numeric (e.g. {target.iloc[0]!r}); regression "
                "needs numbers; use --task classification (Python: task='classification')."
            )
        values = target.to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32)
        missing = int((~np.isfinite(values)).sum())
    else:
        missing = int(target.isna().sum())
    if missing:
        raise DataError(
            f"The target '{name}' has {_rows(missing)} with missing or infinite values; drop "
            "those rows first."
        )
    if task == "regression":
        return values, task, None
    codes, uniques = pd.factorize(target, sort=True)
    classes = list(uniques.tolist())
    if len(classes) < 2:
        raise DataError(
            f"The target '{name}' has a single class ({classes[0]!r}); classification needs "
            "at least 2."
        )
    return codes.astype(np.int64), task, classes


def _load_npz(path: Path, task: str | None) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read '{path}': {one_line(error)}") from error
    if "X" not in arrays or "y" not in arrays:
        raise DataError(
            f"'{path.name}' must hold arrays 'X' and 'y'; it holds: "
            f"{', '.join(arrays) or 'nothing'}."
        )
    X_raw, y_raw = arrays["X"], arrays["y"]
    if X_raw.ndim != 2 or y_raw.ndim != 1 or len(X_raw) != len(y_raw):
        raise DataError(
            f"'{path.name}' needs X of shape (n, p) and y of shape (n,); got X {X_raw.shape} "
            f"and y {y_raw.shape}."
        )
    if not (np.issubdtype(X_raw.dtype, np.number) or X_raw.dtype == bool):
        raise DataError(f"Array 'X' of '{path.name}' is not numeric (dtype {X_raw.dtype}).")
    X64 = X_raw.astype(np.float64)
    names = [f"x{j}" for j in range(X64.shape[1])]
    _check_finite(X64, names)
    _check_float32_range(X64, names)
    X = X64.astype(np.float32)
    y, task, classes = _encode_target(pd.Series(y_raw), "y", task)
    return Dataset(X, y, task, names, path.stem, classes)
