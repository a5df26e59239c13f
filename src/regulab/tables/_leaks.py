"""Columns that alone predict the target almost perfectly: a possible leak, for a note.

Each column is scored by the cross-validated score of a small one-column decision tree
(balanced accuracy for classification, R^2 for regression; scikit-learn's metrics). A score
of at least :data:`LEAK_SCORE` means the column nearly is the target: an ID of a file sorted
by the target, a copy or a consequence of the target. The user decides; nothing is dropped.

Examples
--------
>>> import numpy as np, pandas as pd
>>> y = np.repeat([0, 1], 100)            # a file sorted by the target
>>> frame = pd.DataFrame({"row": np.arange(200), "x": np.random.default_rng(0).normal(size=200)})
>>> find_leaks(frame, y, "classification")
[('row', 0.99)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.tables._values import as_text

__all__ = ["LEAK_SCORE", "find_leaks"]

#: A one-column model scoring at least this (balanced accuracy or R^2) flags a leak. Not
#: 0.99: a perfect ID of a sorted 100-row file scores 0.98-0.99, since a fold that holds the
#: rows on both sides of a class boundary puts its split one row off.
LEAK_SCORE = 0.97
_MAX_LEAVES = 64


def _one_column(series: pd.Series) -> np.ndarray:
    """The column as one numeric feature for a tree: numbers as they are, text as level codes
    (a tree with enough leaves isolates each level); missing below every value."""
    if is_numeric_dtype(series) and not is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        codes, _ = pd.factorize(pd.Series(as_text(series)), use_na_sentinel=True)
        values = np.where(codes < 0, np.nan, codes).astype(np.float64)
    finite = values[np.isfinite(values)]
    floor = (finite.min() - 1.0) if finite.size else 0.0
    return np.where(np.isfinite(values), values, floor)[:, None]


def find_leaks(
    frame: pd.DataFrame,
    y: Sequence[object] | np.ndarray | pd.Series,
    task: str,
    *,
    columns: Sequence[str] | None = None,
    threshold: float = LEAK_SCORE,
    folds: int = 5,
    max_rows: int = 20_000,
    seed: int = 0,
) -> list[tuple[str, float]]:
    """Columns that alone predict ``y`` with a cross-validated score of at least ``threshold``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The TRAINING rows (never rows the model is later scored on).
    y : array-like
        The target of those rows (labels of any type, or numbers for regression).
    task : {"classification", "regression"}
    columns : sequence of str, optional
        Columns to check; default every column (dropped ID columns included: an index that
        follows a file sorted by the target is the canonical leak).
    threshold : float
        Balanced accuracy (classification) or R^2 (regression) that flags a column.
    folds : int
        Cross-validation folds (shuffled).
    max_rows : int
        At most this many rows (a random sample) are used, to stay fast on large tables.
    seed : int
        Seed of the sample and the folds.

    Returns
    -------
    list of (str, float)
        The flagged columns and their scores, highest first.
    """
    if task not in ("classification", "regression"):
        raise InvalidParameterError(
            f"The 'task' parameter of find_leaks must be 'classification' or 'regression'. "
            f"Got {task!r} instead."
        )
    target = pd.Series(np.asarray(y)).reset_index(drop=True)
    if len(target) != len(frame):
        raise DataError(f"find_leaks got {len(frame)} rows but {len(target)} target values.")
    names = [str(c) for c in frame.columns] if columns is None else list(columns)
    for name in names:
        if name not in frame.columns:
            raise DataError(
                f"Column '{name}' is not in the table.{did_you_mean(name, frame.columns)}"
            )
    rng = np.random.default_rng(seed)
    rows = np.arange(len(frame))
    if len(rows) > max_rows:
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    if task == "classification":
        labels = pd.factorize(target.iloc[rows])[0]
        smallest = int(np.bincount(labels).min()) if len(labels) else 0
        if len(set(labels)) < 2 or smallest < 2:
            return []
        model: DecisionTreeClassifier | DecisionTreeRegressor = DecisionTreeClassifier(
            max_leaf_nodes=_MAX_LEAVES, random_state=seed
        )
        split = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
        scoring, y_used = "balanced_accuracy", labels
    else:
        y_used = target.iloc[rows].to_numpy(dtype=np.float64)
        if len(y_used) < 2 * folds or np.ptp(y_used) == 0:
            return []
        model = DecisionTreeRegressor(max_leaf_nodes=_MAX_LEAVES, random_state=seed)
        split, scoring = KFold(folds, shuffle=True, random_state=seed), "r2"
    leaks = []
    for name in names:
        X = _one_column(frame[name].iloc[rows])
        score = float(np.mean(cross_val_score(model, X, y_used, cv=split, scoring=scoring)))
        if score >= threshold:
            leaks.append((name, round(score, 4)))
    return sorted(leaks, key=lambda item: -item[1])
