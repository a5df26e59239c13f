"""Datasets: built-in ones, your own files, a synthetic generator with known ground truth, splits.

:func:`load` accepts a built-in name (see :data:`BUILTIN_DATASETS`) or the path of a ``.csv``,
``.parquet``/``.pq`` or ``.npz`` file and returns a :class:`Dataset` with float32 features.
:func:`split` cuts it into train/validation/test parts and standardizes every part with the
training part's mean and standard deviation only.

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

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import math
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn import datasets as sk_datasets

from regulab._split import holdout as _split_off
from regulab.errors import DataError, InvalidParameterError, check_range, did_you_mean

__all__ = [
    "Dataset",
    "Splits",
    "BUILTIN_DATASETS",
    "list_datasets",
    "load",
    "load_mnist",
    "make_synthetic",
    "split",
    "infer_task",
    "MAX_INFERRED_CLASSES",
]

TASKS = ("classification", "regression")

#: A whole-number target with at most this many distinct values is read as class labels.
MAX_INFERRED_CLASSES = 20

_LOG = logging.getLogger(__name__)
_FLOAT32_MAX = float(np.finfo(np.float32).max)

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "8x8 images of handwritten digits, 1797 samples, 64 features, 10 classes",
    "breast_cancer": "Wisconsin breast cancer, 569 samples, 30 features, 2 classes",
    "wine": "Wine cultivars, 178 samples, 13 features, 3 classes",
    "iris": "Iris flowers, 150 samples, 4 features, 3 classes",
    "diabetes": "Diabetes progression, 442 samples, 10 features, regression",
    "mnist": "28x28 handwritten digits, 60000 train + 10000 test, 784 features, 10 classes",
    "synthetic": "Generated data with known informative features (see make_synthetic)",
}

_FILE_TYPES = (".csv", ".parquet", ".pq", ".npz")

_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "b09d8b89df4ad239afc76a323dbe9559169cd8cca365467dfe8aa1f7ca54109b"
    ),
    "train-labels-idx1-ubyte.gz": (
        "c51906e7929bbf7c824fbd16019b56297269ca82cba449c5b5d59c0a02147fed"
    ),
    "t10k-images-idx3-ubyte.gz": "f72c2dff3457595ec2fe452d25d97b7f974a74ad5b006687704212bedd1486d8",
    "t10k-labels-idx1-ubyte.gz": "4baf84ddd60ae342cfdd282ec3fba3249a201a4459782165496a7cbebbe49a2e",
}
_MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]


@dataclass(eq=False, repr=False)
class Dataset:
    """Features, target and metadata of one dataset.

    ``X`` is float32 of shape ``(n, p)``. ``y`` holds int64 class codes ``0..C-1`` for
    classification (``classes[code]`` is the original label) or float32 values for regression.
    ``informative`` lists the columns a synthetic target was generated from; ``X_test`` and
    ``y_test`` hold a predefined test set (MNIST's official 10k) that :func:`split` uses as is.

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


def list_datasets() -> list[tuple[str, str]]:
    """Return ``(name, description)`` of every built-in dataset.

    Examples
    --------
    >>> [name for name, _ in list_datasets()][:2]
    ['digits', 'breast_cancer']
    """
    return list(BUILTIN_DATASETS.items())


def _check_choice(name: str, value: object, choices: tuple[str, ...], owner: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be one of "
            f"{', '.join(repr(c) for c in choices)}. Got {value!r} instead.{hint}"
        )
    return value


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


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
        return _load_npz(path, task)
    if target is None:
        raise InvalidParameterError(
            f"Loading '{path}' needs the name of its target column: --target COLUMN "
            "(Python: target='COLUMN')."
        )
    try:
        if suffix == ".csv":
            header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
            header = list(frame.columns)
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read '{path}': {_one_line(error)}") from error
    _check_unique_columns([str(name) for name in header], path)
    return _dataset_from_frame(frame, target, task, path)


def _check_unique_columns(names: list[str], path: Path) -> None:
    """Refuse a header that names a column twice (pandas would rename one to ``y.1`` and a
    copy of the target could become a feature)."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"'{path.name}' names these columns more than once: "
            f"{', '.join(repr(name) for name in repeated)}; give every column its own name."
        )


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


def _pixel_names(rows: int, cols: int) -> list[str]:
    return [f"px_{r}_{c}" for r in range(rows) for c in range(cols)]


def _dataset_from_frame(frame: pd.DataFrame, target: str, task: str | None, path: Path) -> Dataset:
    columns = [str(column) for column in frame.columns]
    if target not in columns:
        shown = ", ".join(columns[:20]) + (
            f", ... ({len(columns)} in all)" if len(columns) > 20 else ""
        )
        raise DataError(
            f"Target column '{target}' is not in '{path.name}'. Columns: {shown}."
            f"{did_you_mean(target, columns)}"
        )
    frame = frame.set_axis(columns, axis=1)
    features = frame.drop(columns=[target])
    if len(frame) == 0 or features.shape[1] == 0:
        raise DataError(
            f"'{path.name}' needs rows and a feature column besides '{target}'; it has "
            f"{_rows(len(frame))} and {features.shape[1]} feature columns."
        )
    X = _feature_matrix(features)
    y, task, classes = _encode_target(frame[target], target, task)
    return Dataset(X, y, task, list(features.columns), path.stem, classes)


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
        raise DataError(f"Cannot read '{path}': {_one_line(error)}") from error
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


def load_mnist(
    mnist_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Dataset:
    """Load MNIST: 60000 training images in ``X``, the official 10000 in ``X_test``.

    The four IDX ``.gz`` files are read from ``mnist_dir`` when given, else from
    ``<cache>/mnist`` where ``<cache>`` is ``cache_dir``, ``$REGULAB_CACHE`` or
    ``~/.cache/regulab``. Missing cache files are downloaded (unless ``download=False``) from
    the first mirror that works and kept only if their SHA-256 matches the known one. Pixels
    are scaled to [0, 1]; features are named ``px_<row>_<col>``.

    Examples
    --------
    >>> mnist = load_mnist()  # doctest: +SKIP
    >>> mnist.X.shape, mnist.X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    if mnist_dir is not None:
        folder = Path(mnist_dir).expanduser()
        missing = [name for name in _MNIST_SHA256 if not (folder / name).is_file()]
        if missing:
            raise DataError(f"MNIST files missing in '{folder}': {', '.join(missing)}.")
    else:
        root = cache_dir or os.environ.get("REGULAB_CACHE") or Path.home() / ".cache" / "regulab"
        folder = Path(root).expanduser() / "mnist"
        missing = [name for name in _MNIST_SHA256 if not (folder / name).is_file()]
        if missing and not download:
            raise DataError(
                f"MNIST is not in the cache '{folder}' (missing: {', '.join(missing)}) and "
                "download=False; pass mnist_dir= or allow the download."
            )
        folder.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _download(name, folder)
    train_images = _read_idx(folder / "train-images-idx3-ubyte.gz", ndim=3)
    train_labels = _read_idx(folder / "train-labels-idx1-ubyte.gz", ndim=1)
    test_images = _read_idx(folder / "t10k-images-idx3-ubyte.gz", ndim=3)
    test_labels = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", ndim=1)
    rows, cols = train_images.shape[1:]
    for images, labels, part in [
        (train_images, train_labels, "train"),
        (test_images, test_labels, "t10k"),
    ]:
        if (
            len(images) != len(labels)
            or images.shape[1:] != (rows, cols)
            or labels.max(initial=0) > 9
        ):
            raise DataError(
                f"MNIST {part} files are inconsistent: images {images.shape}, {len(labels)} "
                f"labels with values up to {labels.max(initial=0)} (expected 0..9)."
            )
    return Dataset(
        X=_scale_pixels(train_images),
        y=train_labels.astype(np.int64),
        task="classification",
        feature_names=_pixel_names(rows, cols),
        name="mnist",
        classes=list(range(10)),
        image_shape=(rows, cols),
        X_test=_scale_pixels(test_images),
        y_test=test_labels.astype(np.int64),
    )


def _scale_pixels(images: np.ndarray) -> np.ndarray:
    pixels = images.reshape(len(images), -1).astype(np.float32)
    pixels /= 255.0
    return pixels


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes with ``ndim`` dimensions."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"Cannot read '{path}': {_one_line(error)}") from error
    header_size = 4 + 4 * ndim
    magic = int.from_bytes(raw[:4], "big")
    if len(raw) < header_size or magic != 0x0800 + ndim:
        raise DataError(
            f"'{path.name}' has magic number {magic:#010x}, expected {0x0800 + ndim:#010x} "
            f"(IDX, unsigned bytes, {ndim}-d); the file is corrupt or not MNIST."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if len(raw) - header_size != int(np.prod(shape)):
        raise DataError(
            f"'{path.name}' is truncated or corrupt: its header announces shape {shape} but it "
            f"holds {len(raw) - header_size} values."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _fetch(url: str, destination: Path) -> None:
    """Copy ``url`` into ``destination`` (http(s) and file URLs)."""
    with urllib.request.urlopen(url, timeout=60) as response, destination.open("wb") as out:
        shutil.copyfileobj(response, out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(name: str, folder: Path) -> None:
    """Download one MNIST file into ``folder``, trying each mirror; keep it only if verified."""
    expected = _MNIST_SHA256[name]
    failures = []
    for mirror in _MNIST_MIRRORS:
        url = mirror + name
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        os.close(handle)
        part = Path(temporary)
        try:
            _fetch(url, part)
            actual = _sha256(part)
            if actual == expected:
                os.replace(part, folder / name)
                return
            failures.append(f"{url}: SHA-256 mismatch (got {actual}, expected {expected})")
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{url}: {_one_line(error)}")
        finally:
            part.unlink(missing_ok=True)
    raise DataError(
        f"Could not download MNIST file {name}: {'; '.join(failures)}. Put the file in "
        f"'{folder}' yourself or give its folder (--mnist-dir DIR; Python: mnist_dir=)."
    )


def make_synthetic(
    n_samples: int = 500,
    *,
    n_informative: int = 5,
    n_redundant: int = 0,
    n_irrelevant: int = 20,
    correlation: float = 0.0,
    n_groups: int | None = None,
    label_noise: float = 0.0,
    outlier_share: float = 0.0,
    task: str = "classification",
    n_classes: int = 2,
    noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Generate a dataset whose informative features are known.

    Informative features are standard Gaussians split into ``n_groups`` equal groups (one by
    default); inside a group every pair has correlation ``correlation``. Redundant features are
    random linear combinations of the informative ones plus a little noise: they carry signal,
    but the target is not computed from them. Irrelevant features are independent Gaussian
    noise. The target comes from linear scores ``w . x_informative`` (every weight nonzero,
    random sign, magnitude in [1, 2]) scaled to unit variance plus ``noise * N(0, 1)``: the
    score itself for regression, its sign (2 classes) or the argmax of one score per class.

    ``label_noise`` replaces that fraction of labels by a random other class (regression: by
    Gaussian noise with 5 times the target's spread). ``outlier_share`` puts, in that fraction
    of rows, up to 3 feature values at +-10 standard deviations (after the target was made).
    Columns are shuffled; ``Dataset.informative`` gives the sorted indices of the features the
    target was generated from. The same arguments always give the same data.

    Examples
    --------
    >>> data = make_synthetic(200, n_informative=3, n_irrelevant=7, seed=1)
    >>> data.X.shape, len(data.informative)
    ((200, 10), 3)
    """
    owner = "make_synthetic"
    check_range("n_samples", n_samples, low=2, owner=owner, integer=True)
    check_range("n_informative", n_informative, low=1, owner=owner, integer=True)
    check_range("n_redundant", n_redundant, low=0, owner=owner, integer=True)
    check_range("n_irrelevant", n_irrelevant, low=0, owner=owner, integer=True)
    check_range("correlation", correlation, low=0, high=1, high_open=True, owner=owner)
    if n_groups is not None:
        check_range("n_groups", n_groups, low=1, high=n_informative, owner=owner, integer=True)
    check_range("label_noise", label_noise, low=0, high=1, high_open=True, owner=owner)
    check_range("outlier_share", outlier_share, low=0, high=1, high_open=True, owner=owner)
    _check_choice("task", task, TASKS, owner)
    check_range("n_classes", n_classes, low=2, owner=owner, integer=True)
    check_range("noise", noise, low=0, owner=owner)
    check_range("seed", seed, low=0, owner=owner, integer=True)

    rng = np.random.default_rng(seed)
    groups = np.array_split(np.arange(n_informative), n_groups or 1)
    informative = np.empty((n_samples, n_informative))
    for group in groups:
        shared = rng.standard_normal((n_samples, 1))
        own = rng.standard_normal((n_samples, len(group)))
        informative[:, group] = np.sqrt(correlation) * shared + np.sqrt(1 - correlation) * own

    n_scores = 1 if task == "regression" or n_classes == 2 else n_classes
    magnitudes = rng.uniform(1.0, 2.0, (n_informative, n_scores))
    weights = magnitudes * rng.choice([-1.0, 1.0], (n_informative, n_scores))
    scores = informative @ weights
    scores = scores / scores.std(axis=0) + noise * rng.standard_normal(scores.shape)
    if task == "regression":
        y = scores[:, 0]
    elif n_scores == 1:
        y = (scores[:, 0] > 0).astype(np.int64)
    else:
        y = scores.argmax(axis=1).astype(np.int64)

    noisy_rows = rng.choice(n_samples, round(label_noise * n_samples), replace=False)
    if task == "regression":
        y[noisy_rows] = rng.normal(0.0, 5 * y.std(), len(noisy_rows))
    else:
        y[noisy_rows] = (y[noisy_rows] + rng.integers(1, n_classes, len(noisy_rows))) % n_classes

    mixing = rng.standard_normal((n_informative, n_redundant))
    mixing /= np.linalg.norm(mixing, axis=0)
    redundant = informative @ mixing + 0.1 * rng.standard_normal((n_samples, n_redundant))
    irrelevant = rng.standard_normal((n_samples, n_irrelevant))
    X = np.hstack([informative, redundant, irrelevant])

    n_features = X.shape[1]
    outlier_rows = rng.choice(n_samples, round(outlier_share * n_samples), replace=False)
    spread = X.std(axis=0)
    for row in outlier_rows:
        columns = rng.choice(n_features, min(3, n_features), replace=False)
        X[row, columns] = 10 * spread[columns] * rng.choice([-1.0, 1.0], len(columns))

    order = rng.permutation(n_features)
    return Dataset(
        X=X[:, order].astype(np.float32),
        y=y.astype(np.float32) if task == "regression" else y,
        task=task,
        feature_names=[f"x{j}" for j in range(n_features)],
        name="synthetic",
        classes=list(range(n_classes)) if task == "classification" else None,
        informative=np.flatnonzero(order < n_informative),
    )


@dataclass(eq=False)
class Splits:
    """Train/validation/test parts of a dataset, standardized with training statistics.

    ``mean`` and ``scale`` were fitted on the training part only (zeros and ones when
    :func:`split` ran with ``standardize=False``; zeros and the largest pixel value for
    image data). The ``*_index`` arrays are row indices into
    ``Dataset.X``; ``test_index`` is empty when the dataset has a predefined test set.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the six data arrays: identifies the data and the split.

        Examples
        --------
        >>> parts = split(load("iris"), seed=0)
        >>> parts.fingerprint() == split(load("iris"), seed=0).fingerprint()
        True
        """
        digest = hashlib.sha256()
        for array in (self.X_train, self.y_train, self.X_val, self.y_val, self.X_test, self.y_test):
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

    Image data sets (``dataset.image_shape`` set: MNIST, digits) are scaled as pictures
    instead: no centring and one scale for every pixel, the largest pixel value of the
    training part, so pixels land in [0, 1]. Per-pixel standardization would blow up the
    nearly constant border pixels into large noisy inputs (on MNIST it costs the seed MLP
    about half a point of test accuracy).

    Examples
    --------
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

    return Splits(
        X_train=X_train,
        y_train=dataset.y[train_index],
        X_val=standardized(dataset.X[val_index]),
        y_val=dataset.y[val_index],
        X_test=standardized(X_test),
        y_test=y_test,
        mean=mean,
        scale=scale,
        train_index=train_index,
        val_index=val_index,
        test_index=test_index,
    )
