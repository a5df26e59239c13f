"""The one hold-out split every part of Regulab uses (data splits, validation parts).

Examples
--------
>>> import numpy as np
>>> kept, taken = holdout(np.arange(10), 0.2, np.array([0, 1] * 5), seed=0, stratify=True)
>>> len(kept), len(taken)
(8, 2)
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import train_test_split

from regulab.errors import DataError

__all__ = ["holdout"]


def holdout(
    indices: np.ndarray, size: float | int, y: np.ndarray, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into sorted ``(kept, taken)`` parts.

    Parameters
    ----------
    indices : ndarray of int
        Rows to split (positions into ``y``).
    size : float or int
        Share of ``indices`` taken (a float in (0, 1), rounded up as scikit-learn does) or
        a count of rows.
    y : ndarray
        Targets of all rows; class labels when ``stratify``.
    seed : int
        Seeds the shuffle.
    stratify : bool
        Keep class proportions in both parts (scikit-learn's ``train_test_split``); a
        class too small for that falls back to a random split.

    Raises
    ------
    DataError
        When either part would be empty.
    """
    n_rows = len(indices)
    n_taken = math.ceil(size * n_rows) if isinstance(size, float) else int(size)
    if not 0 < n_taken < n_rows:
        raise DataError(
            f"Cannot split {n_rows} sample(s) into two non-empty parts by taking "
            f"{size:g}{' of them' if isinstance(size, float) else ' rows'}."
        )
    if stratify:
        try:
            kept, taken = train_test_split(
                indices, test_size=size, random_state=seed, stratify=y[indices]
            )
            return np.sort(kept), np.sort(taken)
        except ValueError:  # a class too small to stratify: fall back to a random split
            pass
    kept, taken = train_test_split(indices, test_size=size, random_state=seed)
    return np.sort(kept), np.sort(taken)
