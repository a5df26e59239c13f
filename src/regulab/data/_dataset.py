"""The :class:`Dataset` container and the small helpers every reader shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.tables import TablePreprocessor, TableSchema

TASKS = ("classification", "regression")


@dataclass(eq=False, repr=False)
class TableData:
    """The raw side of a table :class:`Dataset`.

    Attributes
    ----------
    frame : pandas.DataFrame
        The usable feature columns as read (the schema's kept columns), one row per row of
        ``Dataset.y`` (index 0..n-1).
    schema : TableSchema
        Every column's kind and the dropped columns with their reasons.
    preprocessor : TablePreprocessor
        Fitted on ALL rows: its output columns are ``Dataset.feature_names`` (the layout every
        split keeps) and its statistics are those of a refit on every row (``advise --save``).
    notes : list of str
        Short lines: the column kinds, the dropped columns, the grouped levels.
    source : pandas.DataFrame
        Every feature column as read, dropped ones included (the leak check looks at an ID
        too: an index of a file sorted by the target is the canonical leak).
    """

    frame: pd.DataFrame
    schema: TableSchema
    preprocessor: TablePreprocessor
    notes: list[str] = field(default_factory=list)
    source: pd.DataFrame | None = None

    @property
    def groups(self) -> dict[str, list[int]]:
        """Each original column's encoded columns (indices into ``Dataset.feature_names``)."""
        return self.preprocessor.groups_

    def columns_json(self, leaks: Sequence[tuple[str, float]] = ()) -> dict[str, Any]:
        """The ``data.columns`` block of ``--json``: kinds, dropped columns, possible leaks."""
        return {
            "kinds": {c.name: c.kind for c in self.schema.columns},
            "encoded": {name: len(columns) for name, columns in self.groups.items()},
            "dropped": [
                {"name": d.name, "code": d.code, "reason": d.reason} for d in self.schema.dropped
            ],
            "possible_leaks": [{"name": name, "score": score} for name, score in leaks],
        }


@dataclass(eq=False, repr=False)
class Dataset:
    """Features, target and metadata of one dataset.

    ``X`` is float32 of shape ``(n, p)``. ``y`` holds int64 class codes ``0..C-1`` for
    classification (``classes[code]`` is the original label) or float32 values for regression.
    ``informative`` lists the columns a synthetic target was generated from; ``X_test`` and
    ``y_test`` hold a predefined test set (MNIST's official 10k) that :func:`split` uses as is.
    ``table`` is set for a mixed table (text, boolean or category columns, empty cells): its
    raw columns, schema and all-rows preprocessor (:class:`~regulab.data.TableData`); ``X``
    is then that preprocessor's output and ``feature_names`` its encoded column names.

    Examples
    --------
    >>> import numpy as np
    >>> Dataset(np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), "classification",
    ...         ["a", "b"], "toy")
    Dataset('toy', classification, 4 x 2, 2 classes)
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list[str]
    name: str
    classes: list | None = None
    informative: np.ndarray | None = None
    image_shape: tuple[int, int] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    table: TableData | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n_rows, n_columns = self.X.shape if self.X.ndim == 2 else (-1, -1)
        if len(self.y) != n_rows or len(self.feature_names) != n_columns:
            raise DataError(
                f"Dataset '{self.name}' needs X of shape (n, p), n targets and p feature names; "
                f"got X {self.X.shape}, {len(self.y)} targets, {len(self.feature_names)} names."
            )
        if self.task == "classification" and self.classes is None:
            self.classes = list(range(int(self.y.max()) + 1))

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X`` (the predefined test set is not counted)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes, 0 for regression."""
        return len(self.classes) if self.task == "classification" and self.classes else 0

    def __repr__(self) -> str:
        classes = f", {self.n_classes} classes" if self.n_classes else ""
        test = "" if self.X_test is None else f", test {len(self.X_test)}"
        return (
            f"Dataset({self.name!r}, {self.task}, {self.n_samples} x {self.n_features}"
            f"{classes}{test})"
        )


def _check_choice(name: str, value: object, choices: tuple[str, ...], owner: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be one of "
            f"{', '.join(repr(c) for c in choices)}. Got {value!r} instead.{hint}"
        )
    return value


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _pixel_names(rows: int, cols: int) -> list[str]:
    return [f"px_{r}_{c}" for r in range(rows) for c in range(cols)]
