"""One original column, one unit: the diagnostics of a table speak its columns, not the
encoded inputs (a categorical's one-hot levels, a numeric value and its missing indicator).

A *unit* is an original column with its encoded input columns; numeric data has one unit
per input, under the input's own name, so every diagnostic reads exactly as before.

- Signal: a unit's p-value is the smallest of its encoded columns' p-values times their
  number (Bonferroni within the unit): a categorical carries signal when any of its levels
  does, and is irrelevant when none does.
- Correlation between two units: the largest ``|r|`` between an encoded column of one and
  an encoded column of the other (pairs inside one unit, such as the levels of one
  categorical, which are negatively correlated by construction, do not count).
- Conditioning: a unit whose varying encoded columns sum to a constant on every row (the
  one-hot levels of a categorical) loses one of them (reference coding) before the condition
  number and the variance inflation factors are computed; that collinearity is the
  encoding's, not the data's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["units", "unit_p_values", "unit_of", "between_units", "reference_coded"]


def units(
    names: Sequence[str], groups: Mapping[str, Sequence[int]] | None = None
) -> dict[str, list[int]]:
    """Each unit's name and encoded column indices: ``groups`` (a table's original column ->
    its encoded columns) or, without it, every input alone under its own name.

    Examples
    --------
    >>> units(["a", "b"])
    {'a': [0], 'b': [1]}
    >>> units(["x", "c_p", "c_q"], {"x": [0], "c": [1, 2]})
    {'x': [0], 'c': [1, 2]}
    """
    if groups is None:
        return {name: [index] for index, name in enumerate(names)}
    return {name: [int(i) for i in columns] for name, columns in groups.items()}


def unit_of(unit_columns: Mapping[str, Sequence[int]], n_inputs: int) -> np.ndarray:
    """The unit index (position in ``unit_columns``) of every encoded input column.

    Examples
    --------
    >>> unit_of({"x": [0], "c": [1, 2]}, 3).tolist()
    [0, 1, 1]
    """
    owner = np.full(n_inputs, -1, dtype=np.int64)
    for position, columns in enumerate(unit_columns.values()):
        owner[list(columns)] = position
    return owner


def unit_p_values(p_values: np.ndarray, unit_columns: Mapping[str, Sequence[int]]) -> np.ndarray:
    """Per unit: the smallest p-value of its encoded columns times their number, at most 1.

    Examples
    --------
    >>> unit_p_values(np.array([0.5, 0.01, 0.3]), {"x": [0], "c": [1, 2]}).tolist()
    [0.5, 0.02]
    """
    return np.array(
        [min(1.0, len(cols) * float(p_values[list(cols)].min())) for cols in unit_columns.values()]
    )


def between_units(strength: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """``strength`` (a square matrix over encoded columns) with the pairs inside one unit set
    to zero.

    Examples
    --------
    >>> between_units(np.ones((3, 3)), np.array([0, 1, 1])).tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    return np.where(owner[:, None] == owner[None, :], 0.0, strength)


def reference_coded(Z: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Which columns of ``Z`` (varying, centred) to keep for the conditioning: all but the
    last column of each unit whose columns are linearly dependent once centred (one-hot
    levels that sum to one on every row).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.1], [1.0, 0.0, 0.7]])
    >>> reference_coded(X - X.mean(0), np.array([0, 0, 1])).tolist()
    [True, False, True]
    """
    keep = np.ones(Z.shape[1], dtype=bool)
    for unit in np.unique(owner):
        columns = np.flatnonzero(owner == unit)
        if len(columns) > 1 and np.linalg.matrix_rank(Z[:, columns]) < len(columns):
            keep[columns[-1]] = False
    return keep
