"""One entry point, :func:`load`: a built-in dataset by name or a file by path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets

from regulab.data._dataset import TASKS, Dataset, _check_choice, _pixel_names
from regulab.data._files import _FILE_TYPES, frame_dataset, read_file
from regulab.data._mnist import load_mnist
from regulab.data._synthetic import make_synthetic
from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.tables import PENGUINS_TARGET, load_penguins_frame, read_table

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "8x8 images of handwritten digits, 1797 samples, 64 features, 10 classes",
    "breast_cancer": "Wisconsin breast cancer, 569 samples, 30 features, 2 classes",
    "wine": "Wine cultivars, 178 samples, 13 features, 3 classes",
    "iris": "Iris flowers, 150 samples, 4 features, 3 classes",
    "diabetes": "Diabetes progression, 442 samples, 10 features, regression",
    "penguins": "Palmer penguins: a mixed table (text, empty cells), 344 rows, 3 species",
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
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> Dataset:
    """Load a built-in dataset by name, a ``.csv``, ``.parquet``/``.pq`` or ``.npz`` file, or
    a pandas DataFrame.

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        A name from :data:`BUILTIN_DATASETS`, a file path or a DataFrame. CSV/Parquet and a
        DataFrame need ``target``; an ``.npz`` file must hold arrays ``X`` (n, p) and ``y``
        (n,).
    target : str, optional
        Target column of a table; every other column is a feature. A table whose features
        are all numeric and complete is used as is; any other (text, Yes/No or category
        columns, empty cells or null strings such as ``NA``) becomes a table data set
        (``Dataset.table``): column kinds inferred, ID, constant and mostly empty columns
        dropped with a note, one-hot encoding and imputation fitted on training rows by
        :func:`split`. Rows with an empty target are dropped with a note. Ignored for
        ``.npz``; a built-in has its own target.
    task : {"classification", "regression"}, optional
        Overrides the rule "numeric target: regression, anything else: classification". For
        ``"synthetic"`` it picks the generated task; other built-ins have a fixed task.
    mnist_dir, cache_dir, download
        Where MNIST comes from, see :func:`load_mnist`.
    seed : int
        Seed of the ``"synthetic"`` dataset.
    categorical, numeric, drop : sequence of str
        Column kinds the user sets on a table (they win over the inferred ones); a name
        that is not a column is a :class:`~regulab.errors.DataError` with a did-you-mean.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> load("wine").n_classes
    3
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "y": ["No", "Yes", "No", "Yes"]})
    >>> load(frame, target="y").feature_names
    ['x', 'x_(missing)']
    """
    if task is not None:
        _check_choice("task", task, TASKS, "load")
    columns = {"categorical": categorical, "numeric": numeric, "drop": drop}
    if isinstance(source, pd.DataFrame):
        if target is None:
            raise InvalidParameterError(
                "Loading a DataFrame needs the name of its target column: target='COLUMN'."
            )
        return frame_dataset(
            read_table(source), target, task, "dataframe", where="the DataFrame", **columns
        )
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
            if builtin == "penguins":
                return frame_dataset(
                    load_penguins_frame(),
                    PENGUINS_TARGET,
                    task,
                    "penguins",
                    where="penguins",
                    **columns,
                )
            if categorical or numeric or drop:
                raise InvalidParameterError(
                    f"The built-in dataset '{builtin}' is all numeric; column options "
                    "(categorical, numeric, drop) are for tables."
                )
            return _load_builtin(builtin, task, mnist_dir, cache_dir, download, seed)
    path = Path(source)
    if isinstance(source, str) and not path.suffix and not path.exists() and os.sep not in source:
        raise DataError(
            f"Unknown dataset '{source}'. Built-in datasets: {', '.join(BUILTIN_DATASETS)}; "
            f"or give the path of a {', '.join(_FILE_TYPES)} file."
            f"{did_you_mean(builtin, BUILTIN_DATASETS)}"
        )
    return read_file(path, target, task, **columns)


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
