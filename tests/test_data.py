"""Tests of regulab.data: loading, validation messages, synthetic ground truth, splits, MNIST."""

from __future__ import annotations

import gzip
import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regulab.data import (
    BUILTIN_DATASETS,
    Dataset,
    _mnist,
    list_datasets,
    load,
    load_mnist,
    make_synthetic,
    split,
)
from regulab.errors import DataError, InvalidParameterError

# ---------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    ("name", "shape", "task", "n_classes"),
    [
        ("digits", (1797, 64), "classification", 10),
        ("breast_cancer", (569, 30), "classification", 2),
        ("wine", (178, 13), "classification", 3),
        ("iris", (150, 4), "classification", 3),
        ("diabetes", (442, 10), "regression", 0),
    ],
)
def test_builtin_sklearn_datasets(name, shape, task, n_classes):
    dataset = load(name)
    assert dataset.X.shape == shape and dataset.X.dtype == np.float32
    assert dataset.task == task and dataset.n_classes == n_classes
    assert len(dataset.feature_names) == shape[1]
    assert all(isinstance(feature, str) for feature in dataset.feature_names)
    expected_y = np.int64 if task == "classification" else np.float32
    assert dataset.y.dtype == expected_y and dataset.X_test is None
    if task == "classification":
        assert set(np.unique(dataset.y)) == set(range(n_classes))


def test_digits_has_image_metadata():
    digits = load("digits")
    assert digits.image_shape == (8, 8)
    assert digits.feature_names[9] == "px_1_1"


def test_list_datasets_names_every_builtin():
    names = [name for name, _ in list_datasets()]
    assert names == list(BUILTIN_DATASETS)
    assert {
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "diabetes",
        "penguins",
        "mnist",
        "synthetic",
    } == set(names)


def test_builtin_synthetic_follows_seed_and_task():
    dataset = load("synthetic", seed=3)
    np.testing.assert_array_equal(dataset.X, make_synthetic(seed=3).X)
    assert load("synthetic", task="regression").task == "regression"


def test_builtin_task_cannot_be_changed():
    with pytest.raises(InvalidParameterError, match="'iris' is a classification task"):
        load("iris", task="regression")


def test_unknown_builtin_suggests_closest():
    with pytest.raises(DataError, match=r"Unknown dataset 'mnsit'.*digits.*Did you mean 'mnist'"):
        load("mnsit")


def test_invalid_task_is_rejected():
    with pytest.raises(InvalidParameterError, match="Did you mean 'regression'"):
        load("iris", task="regresion")


# ---------------------------------------------------------------------------- files


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "height": [1.5, 2.0, 2.5, 3.0, 3.5, 4.0],
            "count": [1, 2, 3, 4, 5, 6],
            "flag": [True, False, True, False, True, False],
            "species": ["cat", "dog", "cat", "ant", "dog", "cat"],
            "weight": [10.0, 20.5, 30.0, 40.0, 50.0, 60.0],
        }
    )


def test_csv_with_categorical_target(tmp_path, frame):
    path = tmp_path / "animals.csv"
    frame.to_csv(path, index=False)
    dataset = load(path.as_posix(), target="species")
    assert dataset.task == "classification" and dataset.name == "animals"
    assert dataset.classes == ["ant", "cat", "dog"]
    assert [dataset.classes[code] for code in dataset.y] == frame["species"].tolist()
    assert dataset.feature_names == ["height", "count", "flag", "weight"]
    assert dataset.X.dtype == np.float32
    np.testing.assert_array_equal(dataset.X[:, 2], [1, 0, 1, 0, 1, 0])


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_numeric_target_is_regression(tmp_path, frame, suffix):
    path = tmp_path / f"animals{suffix}"
    frame.drop(columns="species").to_parquet(path)
    dataset = load(str(path), target="weight")
    assert dataset.task == "regression" and dataset.classes is None and dataset.n_classes == 0
    assert dataset.y.dtype == np.float32
    np.testing.assert_allclose(dataset.y, frame["weight"])
    assert dataset.feature_names == ["height", "count", "flag"]


def test_task_override_makes_numeric_target_classes(tmp_path, frame):
    path = tmp_path / "animals.parquet"
    frame.drop(columns="species").to_parquet(path)
    dataset = load(str(path), target="count", task="classification")
    assert dataset.task == "classification" and dataset.classes == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(dataset.y, np.arange(6))


def test_boolean_target_is_classification(tmp_path, frame):
    path = tmp_path / "animals.parquet"
    frame.drop(columns="species").to_parquet(path)
    dataset = load(str(path), target="flag")
    assert dataset.task == "classification" and dataset.classes == [False, True]


def test_npz_numeric_and_string_targets(tmp_path):
    X = np.arange(12).reshape(6, 2)
    np.savez(tmp_path / "numbers.npz", X=X, y=np.array([0, 1, 0, 1, 2, 2]))
    np.savez(tmp_path / "words.npz", X=X, y=np.array(["b", "a", "b", "a", "b", "a"]))
    numbers = load(str(tmp_path / "numbers.npz"))
    assert numbers.task == "classification" and numbers.feature_names == ["x0", "x1"]
    assert numbers.n_classes == 3
    assert load(str(tmp_path / "numbers.npz"), task="regression").task == "regression"
    words = load(str(tmp_path / "words.npz"))
    assert words.task == "classification" and words.classes == ["a", "b"]
    np.testing.assert_array_equal(words.y, [1, 0, 1, 0, 1, 0])


def _write_csv(tmp_path: Path, columns: dict) -> str:
    path = tmp_path / "table.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return str(path)


def test_missing_file_message(tmp_path):
    with pytest.raises(DataError, match=r"File '.*missing\.csv' does not exist\."):
        load(str(tmp_path / "missing.csv"), target="y")


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'.*\.csv, \.parquet"):
        load(str(path), target="b")


def test_unreadable_file_message(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="Cannot read"):
        load(str(path), target="y")


def test_target_required_for_tables(tmp_path, frame):
    path = tmp_path / "animals.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        InvalidParameterError, match="needs the name of its target column: --target COLUMN"
    ):
        load(str(path))


def test_absent_target_lists_columns(tmp_path, frame):
    path = tmp_path / "animals.csv"
    frame.to_csv(path, index=False)
    message = r"Target column 'specie' is not in 'animals\.csv'\. Columns: height, count, flag"
    with pytest.raises(DataError, match=message + r".*Did you mean 'species'"):
        load(str(path), target="specie")


def test_text_and_empty_feature_cells_make_a_table_dataset(tmp_path):
    # Text cells and empty cells are read as users hold them (issue 19), not refused.
    path = _write_csv(tmp_path, {"city": ["Paris", "Rome", "3", "Rome"], "y": [0, 1, 0, 1]})
    assert load(path, target="y").table.schema.column("city").kind == "categorical"
    age = [1.0, np.nan, 3.0, np.nan, np.nan, 6.0]
    path = _write_csv(tmp_path, {"age": age, "y": ["a", "b"] * 3})
    assert load(path, target="y").feature_names == ["age", "age_(missing)"]


def test_an_infinite_cell_is_refused_by_column_and_row(tmp_path):
    columns = {"age": [1.0, np.inf, 3.0], "height": [np.nan, np.nan, 1.0], "y": [1, 2, 3]}
    path = tmp_path / "table.parquet"
    pd.DataFrame(columns).to_parquet(path)
    # empty cells make it a table; the infinite cell is refused by column and row
    with pytest.raises(DataError, match=r"Column 'age' .* row 2 holds an infinite value"):
        load(str(path), target="y")


def test_single_class_target_message(tmp_path):
    path = _write_csv(tmp_path, {"x": [1, 2, 3], "y": [1, 1, 1]})
    expected = "The target 'y' has a single class (1); classification needs at least 2."
    with pytest.raises(DataError, match=re.escape(expected)):
        load(path, target="y", task="classification")


def test_rows_with_an_empty_target_are_dropped_with_a_note(tmp_path, caplog):
    path = _write_csv(tmp_path, {"x": [1, 2, 3], "y": ["a", None, "b"]})
    with caplog.at_level("INFO", logger="regulab"):
        dataset = load(path, target="y")
    assert dataset.n_samples == 2 and dataset.X[:, 0].tolist() == [1.0, 3.0]
    assert "Dropped 1 row with an empty target 'y' (2 left)." in caplog.text


def test_regression_needs_numeric_target(tmp_path):
    path = _write_csv(tmp_path, {"x": [1, 2, 3], "y": ["a", "b", "a"]})
    with pytest.raises(DataError, match="The target 'y' is not numeric"):
        load(path, target="y", task="regression")


def test_npz_without_arrays_lists_what_it_holds(tmp_path):
    np.savez(tmp_path / "odd.npz", features=np.zeros((2, 2)))
    with pytest.raises(DataError, match="must hold arrays 'X' and 'y'; it holds: features"):
        load(str(tmp_path / "odd.npz"))


# ---------------------------------------------------------------------------- synthetic


def _abs_correlation_with(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(np.corrcoef(np.column_stack([X, y]), rowvar=False)[-1, :-1])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_synthetic_informative_features_carry_the_signal(task):
    dataset = make_synthetic(2000, n_informative=5, n_irrelevant=20, task=task, seed=1)
    assert dataset.X.shape == (2000, 25) and dataset.feature_names[-1] == "x24"
    assert len(dataset.informative) == 5
    strength = _abs_correlation_with(dataset.X, dataset.y.astype(float))
    irrelevant = np.setdiff1d(np.arange(25), dataset.informative)
    assert strength[dataset.informative].min() > 2 * strength[irrelevant].max()


def test_synthetic_columns_are_shuffled():
    positions = {tuple(make_synthetic(50, seed=seed).informative) for seed in range(5)}
    assert len(positions) > 1
    assert positions != {(0, 1, 2, 3, 4)}


def test_synthetic_correlation_within_groups():
    dataset = make_synthetic(
        4000, n_informative=6, n_groups=2, correlation=0.95, n_irrelevant=4, seed=2
    )
    r = np.corrcoef(dataset.X[:, dataset.informative], rowvar=False)
    off_diagonal = ~np.eye(6, dtype=bool)
    same_group = (np.abs(r) > 0.5) & off_diagonal
    assert (same_group.sum(axis=1) == 2).all()  # two groups of three
    np.testing.assert_allclose(r[same_group], 0.95, atol=0.02)
    assert np.abs(r[off_diagonal & ~same_group]).max() < 0.1


def test_synthetic_redundant_features_are_explained_by_informative_ones():
    dataset = make_synthetic(2000, n_informative=4, n_redundant=3, n_irrelevant=5, seed=4)
    informative = dataset.X[:, dataset.informative]
    others = np.setdiff1d(np.arange(dataset.n_features), dataset.informative)
    r_squared = []
    for column in others:
        target = dataset.X[:, column]
        fitted = informative @ np.linalg.lstsq(informative, target, rcond=None)[0]
        r_squared.append(1 - np.var(target - fitted) / np.var(target))
    assert sorted(np.array(r_squared) > 0.9) == [False] * 5 + [True] * 3


@pytest.mark.parametrize(("task", "n_classes"), [("classification", 2), ("classification", 4)])
def test_synthetic_label_noise_fraction(task, n_classes):
    clean = make_synthetic(1000, task=task, n_classes=n_classes, seed=5)
    noisy = make_synthetic(1000, task=task, n_classes=n_classes, label_noise=0.2, seed=5)
    assert np.mean(clean.y != noisy.y) == pytest.approx(0.2)
    assert set(np.unique(noisy.y)) == set(range(n_classes))
    assert np.bincount(clean.y).min() > 1000 / n_classes / 3  # no class nearly empty


def test_synthetic_regression_label_noise_fraction():
    clean = make_synthetic(1000, task="regression", seed=6)
    noisy = make_synthetic(1000, task="regression", label_noise=0.1, seed=6)
    assert np.mean(clean.y != noisy.y) == pytest.approx(0.1)


def test_synthetic_outlier_share():
    dataset = make_synthetic(1000, outlier_share=0.05, seed=7)
    rows_with_extremes = (np.abs(dataset.X) > 8).any(axis=1).sum()
    assert rows_with_extremes == 50


def test_synthetic_is_deterministic_per_seed():
    first, again, other = make_synthetic(seed=8), make_synthetic(seed=8), make_synthetic(seed=9)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    np.testing.assert_array_equal(first.informative, again.informative)
    assert not np.array_equal(first.X, other.X)


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"n_samples": 1}, "n_samples"),
        ({"n_informative": 0}, "n_informative"),
        ({"n_irrelevant": -1}, "n_irrelevant"),
        ({"correlation": 1.0}, "correlation"),
        ({"n_groups": 6}, "n_groups"),
        ({"label_noise": 1.0}, "label_noise"),
        ({"outlier_share": -0.1}, "outlier_share"),
        ({"n_classes": 1}, "n_classes"),
        ({"task": "regresion"}, "task"),
    ],
)
def test_synthetic_validates_arguments(arguments, parameter):
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter of make_synthetic"):
        make_synthetic(**arguments)


# ---------------------------------------------------------------------------- split


def test_split_indices_partition_the_rows():
    dataset = load("wine")
    parts = split(dataset, val_size=0.2, test_size=0.25, seed=1)
    indices = [parts.train_index, parts.val_index, parts.test_index]
    combined = np.concatenate(indices)
    assert len(combined) == len(np.unique(combined)) == dataset.n_samples
    assert [len(index) for index in indices] == [97, 36, 45]
    np.testing.assert_array_equal(parts.y_val, dataset.y[parts.val_index])


def test_split_is_stratified():
    dataset = load("breast_cancer")
    overall = dataset.y.mean()
    parts = split(dataset, seed=3)
    for y in (parts.y_train, parts.y_val, parts.y_test):
        assert y.mean() == pytest.approx(overall, abs=0.02)


def test_split_regression():
    parts = split(load("diabetes"), seed=0)
    assert parts.y_train.dtype == np.float32 and len(parts.y_test) == 89


def test_standardization_uses_training_rows_only():
    dataset = load("breast_cancer")
    parts = split(dataset, seed=0)
    raw_train = dataset.X[parts.train_index].astype(np.float64)
    np.testing.assert_allclose(parts.mean, raw_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(parts.scale, raw_train.std(axis=0), rtol=1e-4)
    np.testing.assert_allclose(parts.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(parts.X_train.std(axis=0), 1, atol=1e-4)
    expected_val = (dataset.X[parts.val_index] - parts.mean) / parts.scale
    np.testing.assert_allclose(parts.X_val, expected_val, rtol=1e-5, atol=1e-5)
    assert np.abs(parts.X_val.mean(axis=0)).max() > 0.05  # not re-centered on its own rows
    assert parts.X_train.dtype == parts.X_val.dtype == parts.X_test.dtype == np.float32


def test_constant_column_gets_unit_scale():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=100), np.full(100, 0.1)]).astype(np.float32)
    dataset = Dataset(X, rng.normal(size=100).astype(np.float32), "regression", ["a", "b"], "t")
    parts = split(dataset)
    assert parts.scale[1] == 1
    assert np.isfinite(parts.X_train).all()
    np.testing.assert_allclose(parts.X_test[:, 1], 0, atol=1e-6)


def test_images_are_scaled_as_pictures_not_per_pixel():
    dataset = load("digits")  # pixel values 0..16; border pixels nearly always 0
    parts = split(dataset, seed=0)
    peak = dataset.X[parts.train_index].max()
    assert (parts.mean == 0).all() and (parts.scale == peak).all()
    np.testing.assert_allclose(parts.X_train, dataset.X[parts.train_index] / peak, rtol=1e-6)
    np.testing.assert_allclose(parts.X_test, dataset.X[parts.test_index] / peak, rtol=1e-6)
    assert parts.X_train.min() == 0 and parts.X_train.max() == 1


def test_split_without_standardization_keeps_values():
    dataset = load("iris")
    parts = split(dataset, standardize=False)
    np.testing.assert_array_equal(parts.X_train, dataset.X[parts.train_index])
    assert (parts.mean == 0).all() and (parts.scale == 1).all()


def test_fingerprint_is_stable_and_follows_the_seed():
    dataset = load("iris")
    fingerprint = split(dataset, seed=0).fingerprint()
    assert re.fullmatch("[0-9a-f]{64}", fingerprint)
    assert split(dataset, seed=0).fingerprint() == fingerprint
    assert split(dataset, seed=1).fingerprint() != fingerprint


def test_predefined_test_set_is_kept():
    rng = np.random.default_rng(0)
    X, X_test = rng.normal(size=(100, 3)), rng.normal(size=(30, 3))
    dataset = Dataset(
        X.astype(np.float32),
        np.arange(100) % 2,
        "classification",
        ["a", "b", "c"],
        "toy",
        X_test=X_test.astype(np.float32),
        y_test=np.arange(30) % 2,
    )
    parts = split(dataset, val_size=0.2, test_size=0.5)
    assert len(parts.test_index) == 0 and len(parts.y_test) == 30
    assert len(parts.train_index) + len(parts.val_index) == 100 and len(parts.val_index) == 20
    np.testing.assert_allclose(parts.X_test, (X_test - parts.mean) / parts.scale, atol=1e-5)


def test_max_train_subsamples_with_stratification():
    dataset = load("breast_cancer")
    full = split(dataset, seed=2)
    small = split(dataset, seed=2, max_train=100)
    assert len(small.train_index) == 100
    assert np.isin(small.train_index, full.train_index).all()
    np.testing.assert_array_equal(small.val_index, full.val_index)
    assert small.y_train.mean() == pytest.approx(dataset.y.mean(), abs=0.02)


def test_tiny_class_falls_back_to_random_split():
    y = np.array([0] * 30 + [1] * 29 + [2])
    dataset = Dataset(np.zeros((60, 2), np.float32), y, "classification", ["a", "b"], "toy")
    parts = split(dataset)
    assert len(parts.y_train) + len(parts.y_val) + len(parts.y_test) == 60


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"val_size": 0.0}, "'val_size' parameter of split"),
        ({"test_size": 1.0}, "'test_size' parameter of split"),
        ({"val_size": 0.5, "test_size": 0.5}, "must be below 1"),
    ],
)
def test_split_validates_sizes(sizes, message):
    with pytest.raises(InvalidParameterError, match=message):
        split(load("iris"), **sizes)


# ---------------------------------------------------------------------------- MNIST


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Four tiny IDX files (4x5 images) in tmp_path/source, with their hashes made official."""
    folder = tmp_path / "source"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 4, 5)),
        "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 3, 4, 9]),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 4, 5)),
        "t10k-labels-idx1-ubyte.gz": np.array([5, 6, 7]),
    }
    for name, array in arrays.items():
        _write_idx(folder / name, array)
    hashes = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in arrays}
    monkeypatch.setattr(_mnist, "_MNIST_SHA256", hashes)
    return folder, arrays


def test_mnist_idx_parsing(fake_mnist):
    folder, arrays = fake_mnist
    mnist = load("mnist", mnist_dir=folder)
    assert mnist.X.shape == (6, 20) and mnist.X_test.shape == (3, 20)
    assert mnist.X.dtype == np.float32 and 0 <= mnist.X.min() and mnist.X.max() <= 1
    np.testing.assert_allclose(
        mnist.X[1].reshape(4, 5), arrays["train-images-idx3-ubyte.gz"][1] / 255, rtol=1e-6
    )
    np.testing.assert_array_equal(mnist.y, [0, 1, 2, 3, 4, 9])
    np.testing.assert_array_equal(mnist.y_test, [5, 6, 7])
    assert mnist.image_shape == (4, 5) and mnist.feature_names[7] == "px_1_2"
    assert mnist.n_classes == 10 and mnist.y.dtype == np.int64


def test_mnist_missing_files_are_listed(fake_mnist):
    folder, _ = fake_mnist
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    message = "MNIST files missing in .*: train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz"
    with pytest.raises(DataError, match=message):
        load_mnist(mnist_dir=folder)


def test_mnist_bad_magic_number(fake_mnist):
    folder, _ = fake_mnist
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros((6, 1, 1)))  # 3-d, not labels
    with pytest.raises(DataError, match="'train-labels-idx1-ubyte.gz' has magic number"):
        load_mnist(mnist_dir=folder)


def test_mnist_truncated_and_non_gzip_files(fake_mnist):
    folder, _ = fake_mnist
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(header + bytes(3))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_mnist(mnist_dir=folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"plain bytes")
    with pytest.raises(DataError, match="Cannot read"):
        load_mnist(mnist_dir=folder)


def test_mnist_download_from_mirror_into_cache(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    dead_mirror = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(_mnist, "_MNIST_MIRRORS", [dead_mirror, folder.as_uri() + "/"])
    monkeypatch.setenv("REGULAB_CACHE", str(tmp_path / "cache"))
    mnist = load_mnist()
    cached = tmp_path / "cache" / "mnist"
    assert sorted(path.name for path in cached.iterdir()) == sorted(_mnist._MNIST_SHA256)
    assert mnist.X.shape == (6, 20)
    monkeypatch.setattr(_mnist, "_MNIST_MIRRORS", [])
    assert load_mnist(download=False).X_test.shape == (3, 20)  # now served from the cache


def test_mnist_checksum_mismatch_keeps_nothing(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    monkeypatch.setattr(_mnist, "_MNIST_MIRRORS", [folder.as_uri() + "/"])
    monkeypatch.setitem(_mnist._MNIST_SHA256, "t10k-labels-idx1-ubyte.gz", "0" * 64)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: SHA-256 mismatch"):
        load_mnist(cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list((tmp_path / "cache" / "mnist").glob("*.part"))


def test_mnist_download_uses_fetch_for_each_mirror(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    monkeypatch.setattr(_mnist, "_MNIST_MIRRORS", ["https://one.invalid/", "https://two.invalid/"])
    requested = []

    def fake_fetch(url: str, destination: Path) -> None:
        requested.append(url)
        if url.startswith("https://one"):
            raise OSError("connection refused")
        destination.write_bytes((folder / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(_mnist, "_fetch", fake_fetch)
    mnist = load_mnist(cache_dir=tmp_path / "cache")
    assert mnist.X.shape == (6, 20) and len(requested) == 8
    monkeypatch.setattr(_mnist, "_MNIST_MIRRORS", ["https://one.invalid/"])
    (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="https://one.invalid/train-images.*connection refused"):
        load_mnist(cache_dir=tmp_path / "cache")


def test_mnist_without_download_reports_the_cache(tmp_path):
    with pytest.raises(DataError, match="MNIST is not in the cache .*download=False"):
        load_mnist(cache_dir=tmp_path, download=False)


# ---------------------------------------------------------------------------- task inference
TARGET_KINDS = {
    "bool": ([True, False] * 10, "classification", 2),
    "0/1 ints": ([0, 1] * 10, "classification", 2),
    "0-9 ints": (list(range(10)) * 2, "classification", 10),
    "floats": (list(np.linspace(0.05, 3.3, 20)), "regression", 0),
    "strings": (["cat", "dog", "ant", "dog"] * 5, "classification", 3),
    "float column, three whole values": ([1.0, 2.0, 3.0, 2.0] * 5, "classification", 3),
    "float column, three fractional values": ([0.5, 1.5, 2.25, 1.5] * 5, "regression", 0),
    "many distinct ints": (list(range(40)), "regression", 0),
}


@pytest.mark.parametrize("kind", list(TARGET_KINDS))
def test_task_is_inferred_from_the_target(kind, tmp_path, caplog):
    values, task, n_classes = TARGET_KINDS[kind]
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": np.arange(len(values), dtype=float), "y": values}).to_csv(path, index=False)
    with caplog.at_level("INFO", logger="regulab"):
        dataset = load(str(path), target="y")
    assert (dataset.task, dataset.n_classes) == (task, n_classes)
    other = "regression" if task == "classification" else "classification"
    assert f"treated as {task}. To change it, pass --task {other}" in caplog.text
    if kind not in ("bool", "strings"):  # labels that are not numbers stay classes
        assert load(str(path), target="y", task=other).task == other


def test_the_task_given_is_not_announced(tmp_path, caplog):
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}).to_csv(path, index=False)
    with caplog.at_level("INFO", logger="regulab"):
        assert load(str(path), target="y", task="regression").task == "regression"
    assert caplog.text == ""


# ---------------------------------------------------------------------------- refused files
def test_duplicate_column_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,y,b,y\n1,0,2,0\n2,1,3,1\n3,0,4,0\n")
    with pytest.raises(DataError, match=r"names these columns more than once: 'y'"):
        load(str(path), target="y")


def test_a_value_beyond_float32_is_named_not_called_infinite(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("a,y\n1,0\n1e308,1\n3,0\n4,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings on the way
        with pytest.raises(DataError, match=r"'a' has 1 row beyond the 32-bit float.*1e\+308"):
            load(str(path), target="y")


def test_empty_source_folder_and_builtin_target_are_refused(tmp_path):
    with pytest.raises(InvalidParameterError, match="data source is empty"):
        load("")
    with pytest.raises(DataError, match="is a folder"):
        load(str(tmp_path))
    with pytest.raises(InvalidParameterError, match="'iris' has its own target"):
        load("iris", target="species")


def test_too_few_rows_to_split_says_so():
    X = np.arange(4, dtype=np.float32).reshape(2, 2)
    dataset = Dataset(X, np.array([0.5, 1.5], dtype=np.float32), "regression", ["a", "b"], "t")
    with pytest.raises(DataError, match="The data has 2 rows: too few for a training"):
        split(dataset)
    with pytest.raises(InvalidParameterError, match="'seed' parameter of split"):
        split(load("iris"), seed=-1)
