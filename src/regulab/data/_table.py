"""A mixed table (text, boolean, category columns, empty cells) as a :class:`Dataset`.

The table keeps its raw usable columns (:attr:`TableData.frame`) beside the encoded matrix:
``Dataset.X`` is the :class:`~regulab.tables.TablePreprocessor` fitted on every row applied
to that frame, and its output columns are the layout every split and fold keeps while it
refits the statistics on its own training rows (:meth:`TablePreprocessor.refit`).

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "smoker": ["Yes", "No", "No", "Yes"],
...                       "y": ["a", "b", "a", "b"]})
>>> from regulab.data import load
>>> dataset = load(frame, target="y")
>>> dataset.feature_names  # levels seen in under 5 rows share "(other)"
['x', 'x_(missing)', 'smoker_(other)']
>>> dataset.table.groups["smoker"], dataset.classes
([2], ['a', 'b'])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from regulab.data._dataset import Dataset, TableData, _rows
from regulab.errors import DataError, did_you_mean
from regulab.tables import TablePreprocessor, TableSchema, find_leaks, infer_schema

__all__ = ["table_dataset", "table_leaks", "drop_missing_target", "check_target"]

_LOG = logging.getLogger("regulab.data")


def check_target(columns: Sequence[str], target: str, where: str) -> None:
    """Refuse a target that is not a column, listing the columns and a did-you-mean."""
    if target not in columns:
        shown = ", ".join(columns[:20]) + (
            f", ... ({len(columns)} in all)" if len(columns) > 20 else ""
        )
        raise DataError(
            f"Target column '{target}' is not in {where}. Columns: {shown}."
            f"{did_you_mean(target, columns)}"
        )


def drop_missing_target(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows whose target cell is not empty (index 0..n-1); the dropped count is noted on
    the ``regulab`` logger. A row without a target cannot be learned from or scored."""
    empty = frame[target].isna().to_numpy()
    if not empty.any():
        return frame
    kept = int((~empty).sum())
    if kept == 0:
        raise DataError(f"Every row has an empty target '{target}'; nothing to learn from.")
    _LOG.info(f"Dropped {_rows(int(empty.sum()))} with an empty target '{target}' ({kept} left).")
    return frame.loc[~empty].reset_index(drop=True)


def _kind_lines(schema: TableSchema, preprocessor: TablePreprocessor) -> list[str]:
    """Short lines: one per kind with its columns, one per dropped column, grouped levels."""
    lines = [f"Columns: {schema.summary().split('; dropped')[0]}"]
    for kind in ("numeric", "boolean", "categorical"):
        names = schema.names(kind)
        if names:
            lines.append(f"  {kind}: {', '.join(names)}")
    lines += [f"  dropped {d.name}: {d.reason}" for d in schema.dropped]
    lines += [f"  {line}" for line in preprocessor.notes()[1:]]
    return lines


def table_dataset(
    frame: pd.DataFrame,
    target: str,
    task: str | None,
    name: str,
    *,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
    encode_target: Callable[[pd.Series, str, str | None], tuple[np.ndarray, str, Any]],
) -> Dataset:
    """A table with its target column as a :class:`Dataset` with :attr:`Dataset.table` set.

    Column kinds come from :func:`~regulab.tables.infer_schema` (the overrides
    ``categorical``, ``numeric`` and ``drop`` win); ``X`` is the all-rows
    :class:`~regulab.tables.TablePreprocessor` applied to the kept columns. The kinds and
    dropped columns are noted once on the ``regulab`` logger (the CLI prints them).
    ``encode_target(series, name, task) -> (y, task, classes)`` turns the target into codes.
    """
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    frame = drop_missing_target(frame.reset_index(drop=True), target)
    y, task, classes = encode_target(frame[target], target, task)
    features = frame.drop(columns=[target])
    schema = infer_schema(frame, target=target, categorical=categorical, numeric=numeric, drop=drop)
    if not schema.columns:
        raise DataError(
            f"'{name}' has no usable feature column besides '{target}': {schema.summary()}."
        )
    kept = features[schema.names()]
    preprocessor = TablePreprocessor(schema).fit(kept)
    X = preprocessor.transform(kept)
    notes = _kind_lines(schema, preprocessor)
    for line in notes:
        _LOG.info(line)
    table = TableData(kept, schema, preprocessor, notes, features)
    return Dataset(X, y, task, list(preprocessor.feature_names_out_), name, classes, table=table)


def table_leaks(dataset: Dataset, train_index: np.ndarray) -> list[tuple[str, float]]:
    """Columns that alone predict the target on the TRAINING rows ``train_index``
    (:func:`~regulab.tables.find_leaks`, dropped ID columns included), each noted on the
    ``regulab`` logger by name; empty for a numeric data set."""
    table = dataset.table
    if table is None or table.source is None or len(train_index) < 10:
        return []
    rows = table.source.iloc[train_index].reset_index(drop=True)
    leaks = find_leaks(rows, dataset.y[train_index], dataset.task)
    for name, score in leaks:
        _LOG.info(leak_note(name, score, dataset))
    return leaks


def leak_note(name: str, score: float, dataset: Dataset) -> str:
    """The sentence that flags column ``name`` as a possible leak."""
    metric = "balanced accuracy" if dataset.task == "classification" else "R^2"
    kept = dataset.table is not None and name in dataset.table.schema.names()
    return (
        f"Possible leak: column '{name}' alone predicts the target ({metric} {score:.2f} on "
        f"the training rows); {'kept' if kept else 'dropped anyway'}: check that it is known "
        "at prediction time and is not a copy or consequence of the target."
    )
