"""One entry point, :func:`load`: a built-in dataset by name or a file by path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn import datasets as sk_datasets

from regulab.data._dataset import TASKS, Dataset, _check_choice, _pixel_names
from regulab.data._files import _FILE_TYPES, read_file
from regulab.data._mnist import load_mnist
from regulab.data._synthetic import make_synthetic
from regulab.errors import DataError, InvalidParameterError, did_you_mean

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "8x8 images of handwritten digits, 1797 samples, 64 features, 10 classes",
    "breast_cancer": "Wisconsin breast cancer, 569 samples, 30 features, 2 classes",
    "wine": "Wine cultivars, 178 samples, 13 features, 3 classes",
    "iris": "Iris flowers, 150 samples, 4 features, 3 classes",
    "diabetes": "Diabetes progression, 442 samples, 10 features, regression",
    "mnist": "28x28 handwritten digits, 60000 train + 10000 test, 784 features, 10 classes",
    "synthetic": "Generated data with known informative features (see make_synthetic)",
}


def list_datasets() -> list[tuple[str, str]]:
    """Return ``(name, description)`` of every built-in dataset.

    Examples
    --------
    >>> [name for name, _ in list_datasets()][:2]
    ['digits', 'breast_cancer']
    """
    return list(BUILTIN_DATASETS.items())


def load(
    source: str | os.PathLike[str],
    *,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
) -> Dataset:
    """Load a built-in dataset by name or a ``.csv``, ``.parquet``/``.pq`` or ``.npz`` file.

    Parameters
    ----------
    source : str or path
        A name from :data:`BUILTIN_DATASETS` or a file path. CSV/Parquet need ``target``;
        an ``.npz`` file must hold arrays ``X`` (n, p) and ``y`` (n,).
    target : str, optional
        Target column of a CSV/Parquet file; every other column is a feature and must be
        numeric (booleans count as 0/1). Ignored for built-ins and ``.npz``.
    task : {"classification", "regression"}, optional
        Overrides the rule "numeric target: regression, anything else: classification". For
        ``"synthetic"`` it picks the generated task; other built-ins have a fixed task.
    mnist_dir, cache_dir, download
        Where MNIST comes from, see :func:`load_mnist`.
    seed : int
        Seed of the ``"synthetic"`` dataset.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> load("wine").n_classes
    3
    """
    if task is not None:
        _check_choice("task", task, TASKS, "load")
    if isinstance(source, str) and not source.strip():
        raise InvalidParameterError(
            f"The data source is empty; give a built-in dataset ({', '.join(BUILTIN_DATASETS)}) "
            f"or the path of a {', '.join(_FILE_TYPES)} file."
        )
    if isinstance(source, str):
        builtin = source.lower().replace("-", "_")
        if builtin in BUILTIN_DATASETS:
            if target is not None:
                raise InvalidParameterError(
                    f"The built-in dataset '{builtin}' has its own target; a target column "
                    f"('{target}') is only for CSV and Parquet files."
                )
            return _load_builtin(builtin, task, mnist_dir, cache_dir, download, seed)
    path = Path(source)
    if isinstance(source, str) and not path.suffix and not path.exists() and os.sep not in source:
        raise DataError(
            f"Unknown dataset '{source}'. Built-in datasets: {', '.join(BUILTIN_DATASETS)}; "
            f"or give the path of a {', '.join(_FILE_TYPES)} file."
            f"{did_you_mean(builtin, BUILTIN_DATASETS)}"
        )
    return read_file(path, target, task)


def _load_builtin(
    name: str,
    task: str | None,
    mnist_dir: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    download: bool,
    seed: int,
) -> Dataset:
    if name == "synthetic":
        return make_synthetic(task=task or "classification", seed=seed)
    dataset = load_mnist(mnist_dir, cache_dir, download) if name == "mnist" else _load_sklearn(name)
    if task is not None and task != dataset.task:
        raise InvalidParameterError(
            f"The built-in dataset '{name}' is a {dataset.task} task; task={task!r} is not "
            "possible for it."
        )
    return dataset


def _load_sklearn(name: str) -> Dataset:
    loader = getattr(sk_datasets, f"load_{name}")
    bunch = loader()
    X = np.asarray(bunch.data, dtype=np.float32)
    names = [str(feature) for feature in bunch.feature_names]
    if name == "diabetes":
        y = np.asarray(bunch.target, dtype=np.float32)
        return Dataset(X, y, "regression", names, name)
    y = np.asarray(bunch.target, dtype=np.int64)
    classes = np.asarray(bunch.target_names).tolist()
    if name == "digits":
        return Dataset(
            X, y, "classification", _pixel_names(8, 8), name, classes, image_shape=(8, 8)
        )
    return Dataset(X, y, "classification", names, name, classes)
