"""Train/validation/test splits, standardized with the training part's statistics."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regulab._split import holdout as _split_off
from regulab.data._dataset import Dataset, _rows
from regulab.errors import DataError, InvalidParameterError, check_range
from regulab.tables import TablePreprocessor

#: The six arrays of a :class:`SplitArrays`, in order.
SPLIT_ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def split_arrays(parts: object) -> dict[str, np.ndarray]:
    """The six :data:`SPLIT_ARRAYS` of ``parts`` (a :class:`Splits` or anything with those
    attributes) by name, in order.

    Examples
    --------
    >>> from regulab.data import load
    >>> list(split_arrays(split(load("iris"), seed=0)))[:2]
    ['X_train', 'y_train']
    """
    return {name: getattr(parts, name) for name in SPLIT_ARRAYS}


@dataclass(frozen=True, eq=False)
class SplitArrays:
    """The six arrays of a train/validation/test split (:data:`SPLIT_ARRAYS`, in order):
    what a :class:`Splits` and an experiment's data bundle both carry."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True, eq=False)
class Splits(SplitArrays):
    """Train/validation/test parts of a dataset, standardized with training statistics.

    ``mean`` and ``scale`` were fitted on the training part only (zeros and ones when
    :func:`split` ran with ``standardize=False``; zeros and the largest pixel value for
    image data). The ``*_index`` arrays are row indices into
    ``Dataset.X``; ``test_index`` is empty when the dataset has a predefined test set.

    For a table data set (``Dataset.table``) ``preprocessor`` is the table's preprocessing
    refit on the training part only (:meth:`~regulab.tables.TablePreprocessor.refit`: the
    same output columns, training statistics) that made every part; ``mean`` and ``scale``
    are then zeros and ones. ``leaks`` lists the columns that alone predict the target on
    the training part (:func:`~regulab.tables.find_leaks`), with their scores.
    """

    mean: np.ndarray
    scale: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    preprocessor: TablePreprocessor | None = None
    leaks: list[tuple[str, float]] = field(default_factory=list)

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the six data arrays: identifies the data and the split.

        Examples
        --------
        >>> from regulab.data import load
        >>> parts = split(load("iris"), seed=0)
        >>> parts.fingerprint() == split(load("iris"), seed=0).fingerprint()
        True
        """
        digest = hashlib.sha256()
        for array in split_arrays(self).values():
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def _check_enough_rows(dataset: Dataset, val_size: float, test_size: float) -> None:
    """Refuse data too small for one training, one validation and one test row."""
    n = dataset.n_samples
    n_test = 0 if dataset.X_test is not None else math.ceil(test_size * n)
    n_val = math.ceil(val_size * n) if dataset.X_test is not None else 0
    if dataset.X_test is None:
        n_val = math.ceil(val_size / (1 - test_size) * (n - n_test))
    if min(n - n_test - n_val, n_val) < 1 or (dataset.X_test is None and n_test < 1):
        raise DataError(
            f"The data has {_rows(n)}: too few for a training, a validation and a test part "
            f"of at least one row each (validation {val_size:.0%}, test {test_size:.0%} of the "
            "rows). Use more data."
        )


def split(
    dataset: Dataset,
    *,
    val_size: float = 0.1,
    test_size: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    max_train: int | None = None,
) -> Splits:
    """Split a dataset into train, validation and test parts.

    ``val_size`` and ``test_size`` are fractions of all rows. Classification splits are
    stratified (random if a class is too small for that), regression splits random. A dataset
    with a predefined test set keeps it (``test_size`` is then unused) and ``val_size`` is
    taken from its training rows. ``max_train`` keeps at most that many training rows
    (stratified subsample). With ``standardize`` every part becomes ``(X - mean) / scale``
    with the training part's statistics; constant columns get scale 1.

    A table data set (``dataset.table`` set) is encoded instead by its preprocessing refit
    on the training rows only: medians, means, scales and frequent levels come from them,
    a level seen only outside them is encoded as at predict time (``Splits.preprocessor``);
    the columns that alone predict the target on the training rows are noted as possible
    leaks (``Splits.leaks``, and on the ``regulab`` logger).

    Image data sets (``dataset.image_shape`` set: MNIST, digits) are scaled as pictures
    instead: no centring and one scale for every pixel, the largest pixel value of the
    training part, so pixels land in [0, 1]. Per-pixel standardization would blow up the
    nearly constant border pixels into large noisy inputs (on MNIST it costs the seed MLP
    about half a point of test accuracy).

    Examples
    --------
    >>> from regulab.data import load
    >>> parts = split(load("wine"), val_size=0.1, test_size=0.2, seed=0)
    >>> parts.X_train.shape[1], bool(abs(parts.X_train.mean()) < 1e-6)
    (13, True)
    >>> float(split(load("digits"), seed=0).X_train.max())
    1.0
    """
    for name, size in (("val_size", val_size), ("test_size", test_size)):
        check_range(name, size, low=0, high=1, low_open=True, high_open=True, owner="split")
    if max_train is not None:
        check_range("max_train", max_train, low=1, owner="split", integer=True)
    check_range("seed", seed, low=0, owner="split", integer=True)
    if dataset.X_test is None and val_size + test_size >= 1:
        raise InvalidParameterError(
            f"val_size + test_size must be below 1 to leave training rows; got {val_size} + "
            f"{test_size}."
        )
    _check_enough_rows(dataset, val_size, test_size)
    stratify = dataset.task == "classification"
    indices = np.arange(dataset.n_samples)
    if dataset.X_test is not None and dataset.y_test is not None:
        train_index, val_index = _split_off(indices, val_size, dataset.y, seed, stratify)
        test_index = np.empty(0, dtype=np.int64)
        X_test, y_test = dataset.X_test, dataset.y_test
    else:
        rest, test_index = _split_off(indices, test_size, dataset.y, seed, stratify)
        share_of_rest = val_size / (1 - test_size)
        train_index, val_index = _split_off(rest, share_of_rest, dataset.y, seed, stratify)
        X_test, y_test = dataset.X[test_index], dataset.y[test_index]
    if max_train is not None and max_train < len(train_index):
        train_index, _ = _split_off(
            train_index, len(train_index) - max_train, dataset.y, seed, stratify
        )
    if dataset.table is not None:
        return _table_splits(dataset, train_index, val_index, test_index)

    X_train = dataset.X[train_index].astype(np.float32, copy=False)  # a copy: edited in place
    mean = np.zeros(dataset.n_features, dtype=np.float32)
    scale = np.ones(dataset.n_features, dtype=np.float32)
    if standardize and dataset.image_shape is not None:
        peak = float(np.abs(X_train).max(initial=0.0))
        scale[:] = peak if peak > 0 else 1.0
        X_train /= scale
    elif standardize:
        mean = X_train.mean(axis=0, dtype=np.float64).astype(np.float32)
        X_train -= mean
        variance = np.einsum("ij,ij->j", X_train, X_train, dtype=np.float64) / len(X_train)
        scale = np.where(np.ptp(X_train, axis=0) == 0, 1.0, np.sqrt(variance)).astype(np.float32)
        X_train /= scale

    def standardized(X: np.ndarray) -> np.ndarray:
        out = (X - mean).astype(np.float32, copy=False)
        out /= scale
        return out

    parts = (X_train, standardized(dataset.X[val_index]), standardized(X_test))
    index = (train_index, val_index, test_index)
    return _assemble(dataset, index, parts, y_test, mean=mean, scale=scale)


def _assemble(
    dataset: Dataset,
    index: tuple[np.ndarray, np.ndarray, np.ndarray],
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    y_test: np.ndarray,
    **encoding: Any,
) -> Splits:
    """The :class:`Splits` of ``dataset`` at the train/validation/test rows ``index``, whose
    encoded features are ``parts``; ``encoding`` is how they were encoded (``mean`` and
    ``scale``, or a table's ``preprocessor`` and ``leaks`` too)."""
    (train_index, val_index, test_index), (X_train, X_val, X_test) = index, parts
    arrays = (X_train, dataset.y[train_index], X_val, dataset.y[val_index], X_test, y_test)
    return Splits(
        *arrays, train_index=train_index, val_index=val_index, test_index=test_index, **encoding
    )


def _table_splits(
    dataset: Dataset, train_index: np.ndarray, val_index: np.ndarray, test_index: np.ndarray
) -> Splits:
    """The parts of a table data set, encoded by its preprocessing refit on training rows."""
    from regulab.data._table import table_leaks

    assert dataset.table is not None
    frame = dataset.table.frame
    pre = dataset.table.preprocessor.refit(frame.iloc[train_index])

    def part(index: np.ndarray) -> np.ndarray:
        return pre.transform(frame.iloc[index])

    index = (train_index, val_index, test_index)
    return _assemble(
        dataset,
        index,
        (part(train_index), part(val_index), part(test_index)),
        dataset.y[test_index],
        mean=np.zeros(dataset.n_features, dtype=np.float32),
        scale=np.ones(dataset.n_features, dtype=np.float32),
        preprocessor=pre,
        leaks=table_leaks(dataset, train_index),
    )
