"""Datasets: built-in ones, your own files, a synthetic generator with known ground truth, splits.

:func:`load` accepts a built-in name (see :data:`BUILTIN_DATASETS`) or the path of a ``.csv``,
``.parquet``/``.pq`` or ``.npz`` file and returns a :class:`Dataset` with float32 features.
:func:`split` cuts it into train/validation/test parts and standardizes every part with the
training part's mean and standard deviation only.

A table as users hold it (text, Yes/No or category columns, empty cells, ``NA``/``?``
cells; a CSV, Parquet file or DataFrame) becomes a data set with ``Dataset.table``
(:class:`TableData`): its column kinds are inferred (``categorical``/``numeric``/``drop``
override them) and printed once, ID, constant and mostly empty columns are dropped with a
note, ``X`` holds the one-hot, imputed and standardized columns, and :func:`split` refits
that preprocessing on the training rows only. The built-in ``penguins`` is such a table.

Target rule for files (as scikit-learn's ``type_of_target``): strings, categories and
booleans are class labels; integers, or floats that are all whole numbers, with at most
:data:`MAX_INFERRED_CLASSES` distinct values are class labels too (0/1, 0-9); any other numeric
target is a regression target. The inferred task is logged on the ``regulab`` logger (the CLI
prints it) with how to override it: ``task=`` (``--task``). Class labels become codes
``0..C-1`` and ``Dataset.classes[code]`` gives the original label (sorted order).

Examples
--------
>>> from regulab.data import load, split
>>> dataset = load("iris")
>>> dataset.n_samples, dataset.n_features, dataset.n_classes
(150, 4, 3)
>>> parts = split(dataset, seed=0)
>>> len(parts.y_train) + len(parts.y_val) + len(parts.y_test)
150
"""

from regulab.data._dataset import Dataset, TableData
from regulab.data._files import MAX_INFERRED_CLASSES, infer_task
from regulab.data._load import BUILTIN_DATASETS, list_datasets, load
from regulab.data._mnist import load_mnist
from regulab.data._splits import Splits, split
from regulab.data._synthetic import make_synthetic

__all__ = [
    "Dataset",
    "Splits",
    "TableData",
    "BUILTIN_DATASETS",
    "list_datasets",
    "load",
    "load_mnist",
    "make_synthetic",
    "split",
    "infer_task",
    "MAX_INFERRED_CLASSES",
]
