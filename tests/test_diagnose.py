"""Tests of ``regulab.diagnose``: data diagnostics on synthetic data with known truth, and
training-run diagnostics on scripted histories and on Keras/Lightning CSVLogger files."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from regulab.data import Dataset, make_synthetic
from regulab.diagnose import (
    DataDiagnostics,
    RunDiagnostics,
    count_parameters,
    diagnose_data,
    diagnose_run,
    read_history,
)
from regulab.diagnose._data import format_ratio
from regulab.errors import DataError

NAN = float("nan")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The test machine has 2 busy cores: one thread is faster than contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _names(dataset: Dataset, indices) -> set[str]:
    return {dataset.feature_names[int(i)] for i in indices}


def _imbalanced(n_major: int, n_minor: int) -> Dataset:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_major + n_minor, 4)).astype(np.float32)
    y = np.array([0] * n_major + [1] * n_minor, dtype=np.int64)
    return Dataset(X, y, "classification", ["a", "b", "c", "d"], "imbalanced")


# -- diagnose_data on synthetic ground truth --------------------------------------------------


@pytest.mark.parametrize(
    ("n_samples", "n_informative", "n_irrelevant", "seed"),
    [(2000, 5, 30, 0), (2000, 5, 30, 1), (2000, 8, 100, 0), (400, 5, 30, 0)],
)
def test_irrelevant_features_are_flagged(n_samples, n_informative, n_irrelevant, seed):
    data = make_synthetic(
        n_samples, n_informative=n_informative, n_irrelevant=n_irrelevant, seed=seed
    )
    finding = diagnose_data(data, seed=0)["irrelevant_features"]
    flagged = set(finding.details["features"])
    informative = _names(data, data.informative)
    irrelevant = set(data.feature_names) - informative
    assert len(flagged & irrelevant) >= 0.8 * n_irrelevant
    assert len(flagged & informative) <= 1
    assert finding.value == len(flagged)
    assert not finding.details["undetermined"]
    assert finding.reading == (
        f"{len(flagged)} of {data.n_features} features look irrelevant (no signal in a linear "
        "or a mutual-information test at a 5% false discovery rate, alone or together) → L1 "
        "or elastic net can drop them."
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_weak_signal_at_150_rows_is_not_called_irrelevant(seed):
    """Issue 8 acceptance: every feature weakly relevant, 150 rows -> at most 10% called."""
    data = make_synthetic(150, n_informative=100, n_irrelevant=0, seed=seed)
    finding = diagnose_data(data, seed=seed)["irrelevant_features"]
    assert finding.value <= 10
    if finding.details["undetermined"]:
        assert finding.reading.startswith("Cannot tell at this size: ")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_signal_at_600_rows_finds_the_irrelevant_features(seed):
    """Issue 8 acceptance: 600 rows, 300 features, 8 informative -> recall >= 0.9 and
    precision >= 0.8 of the irrelevant calls."""
    data = make_synthetic(600, n_informative=8, n_irrelevant=292, seed=seed)
    finding = diagnose_data(data, seed=seed)["irrelevant_features"]
    called = set(finding.details["features"])
    truly = set(data.feature_names) - _names(data, data.informative)
    assert len(called & truly) >= 0.9 * len(truly)
    assert len(called & truly) >= 0.8 * len(called)


def test_noisy_copies_of_relevant_factors_are_not_called_irrelevant():
    data = make_synthetic(400, n_informative=4, n_redundant=26, n_irrelevant=0, seed=0)
    finding = diagnose_data(data, seed=0)["irrelevant_features"]
    assert finding.value == 0


def test_correlation_makes_no_conditioning_call_with_more_features_than_rows():
    data = make_synthetic(80, n_informative=5, n_irrelevant=120, seed=0)
    finding = diagnose_data(data, seed=0)["correlation"]
    assert finding.details["ill_conditioned"] is False
    assert finding.details["n_groups"] == 0
    assert "cannot tell conditioning at this size" in finding.reading
    assert "→" not in finding.reading


def test_correlated_groups_are_found():
    data = make_synthetic(
        600, n_informative=8, n_groups=2, correlation=0.95, n_irrelevant=10, seed=0
    )
    finding = diagnose_data(data, seed=0)["correlation"]
    groups = finding.details["groups"]
    assert finding.details["n_groups"] == 2
    assert sorted(len(group) for group in groups) == [4, 4]
    assert set().union(*groups) == _names(data, data.informative)
    assert finding.value > 0.9
    assert (
        "2 group(s) of features with |r| > 0.9 (95% sure at 600 rows) cover 8 features"
        in finding.reading
    )
    assert finding.reading.endswith(
        "→ correlated features: L2 or elastic net (pure L1 picks one per group)."
    )


def test_independent_features_have_no_correlated_groups():
    data = make_synthetic(600, n_informative=8, n_irrelevant=10, seed=0)
    finding = diagnose_data(data, seed=0)["correlation"]
    assert finding.details["groups"] == []
    assert finding.details["n_groups"] == 0
    assert finding.value < 0.5
    assert (
        "0 group(s) of features with |r| > 0.9 (95% sure at 600 rows) cover 0 features"
        in finding.reading
    )
    assert "→" not in finding.reading


def test_outlier_share_rises_with_outliers():
    clean, dirty = (
        diagnose_data(
            make_synthetic(400, n_informative=4, n_irrelevant=6, outlier_share=share, seed=0)
        )["outliers"]
        for share in (0.0, 0.1)
    )
    assert clean.value < 0.02 < dirty.value
    assert dirty.value == pytest.approx(0.1, abs=0.03)
    assert clean.reading == (
        "0.0% of rows lie beyond the 99.9% chi-square limit of the Mahalanobis distance over "
        "10 principal components (Gaussian data: 0.1%)."
    )
    assert dirty.reading.endswith(
        "→ outliers: prefer early stopping and moderate L2 over strong L1."
    )


def test_label_noise_reading_rises_with_label_noise():
    clean, noisy = (
        diagnose_data(
            make_synthetic(400, n_informative=4, n_irrelevant=6, label_noise=share, seed=0)
        )["label_noise"]
        for share in (0.0, 0.3)
    )
    assert clean.value < 0.2 < noisy.value
    assert noisy.value > clean.value + 0.2
    assert noisy.reading.endswith("→ noisy labels: early stopping, dropout and L2 help.")
    assert "(an upper bound on label noise)." in clean.reading


@pytest.mark.parametrize(
    ("n_major", "n_minor", "ratio", "reading"),
    [
        (
            160,
            40,
            4.0,
            "Class shares range from 20.0% to 80.0% (ratio 4) → imbalanced: watch F1 rather "
            "than accuracy.",
        ),
        (100, 100, 1.0, "Class shares range from 50.0% to 50.0% (ratio 1)."),
    ],
)
def test_class_balance_ratio(n_major, n_minor, ratio, reading):
    finding = diagnose_data(_imbalanced(n_major, n_minor))["class_balance"]
    assert finding.value == ratio
    assert finding.reading == reading
    assert finding.details["shares"] == [n_major / 200, n_minor / 200]


@pytest.mark.parametrize(
    ("model", "train_share", "sizes"),
    [("10-32-2", 0.7, [10, 32, 2]), (None, 0.7, [10, 128, 64, 2]), ("10-5-2", 0.5, [10, 5, 2])],
)
def test_parameters_per_sample_is_parameters_over_training_rows(model, train_share, sizes):
    data = make_synthetic(200, n_informative=3, n_irrelevant=7, seed=0)
    finding = diagnose_data(data, model=model, train_share=train_share)["parameters_per_sample"]
    n_train = int(200 * train_share)
    assert finding.value == count_parameters(sizes) / n_train
    assert finding.details == {
        "parameters": count_parameters(sizes),
        "n_train": n_train,
        "model": sizes,
    }
    spec = "-".join(map(str, sizes))
    assert finding.reading.startswith(
        f"The {spec} model has {count_parameters(sizes)} parameters, "
        f"{format_ratio(finding.value)} per training sample"
    )


def test_parameters_per_sample_of_the_cnn_and_a_factory(monkeypatch):
    from pathlib import Path

    from regulab.custom import build_model
    from regulab.data import load
    from regulab.models import CNN

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import user_models

    digits = load("digits")
    n_train = int(len(digits.y) * 0.7)
    cnn = diagnose_data(digits, model="cnn")["parameters_per_sample"]
    parameters = sum(p.numel() for p in CNN((8, 8), 10).parameters())
    assert cnn.value == parameters / n_train
    assert cnn.details == {
        "parameters": parameters,
        "n_train": n_train,
        "model": "cnn",
        "layers": ["Conv2d", "Dropout", "Dropout2d", "Flatten", "Linear", "MaxPool2d", "ReLU"],
        "convolutional": True,
    }
    assert cnn.reading == (
        "The cnn model (convolutional: Conv2d, Dropout, Dropout2d, Flatten, Linear, MaxPool2d, "
        f"ReLU) has {parameters} parameters, {format_ratio(parameters / n_train)} per training "
        "sample → large capacity for the data: dropout, batch norm or early stopping."
    )
    factory = diagnose_data(digits, model=user_models.make_net)["parameters_per_sample"]
    net = build_model(user_models.make_net, input_shape=(1, 8, 8), n_outputs=10, task="x")
    assert factory.details["parameters"] == sum(p.numel() for p in net.parameters())
    assert factory.details["model"] == "user_models:make_net"
    assert factory.reading.startswith("The user_models:make_net model (convolutional: Conv2d, ")
    dense = diagnose_data(load("iris"), model="user_models:make_mlp")["parameters_per_sample"]
    assert dense.details["convolutional"] is False
    assert dense.details["parameters"] == 4 * 16 + 16 + 16 * 3 + 3


def test_high_capacity_reading_names_the_remedies():
    data = make_synthetic(200, n_informative=3, n_irrelevant=7, seed=0)
    finding = diagnose_data(data, model="10-32-2")["parameters_per_sample"]
    assert finding.reading == (
        "The 10-32-2 model has 418 parameters, 3 per training sample → large capacity for "
        "the data: dropout, batch norm or early stopping."
    )


@pytest.mark.parametrize(
    "data",
    [
        make_synthetic(300, n_informative=3, n_irrelevant=12, seed=0),
        make_synthetic(300, n_informative=3, n_irrelevant=7, task="regression", seed=0),
        make_synthetic(300, n_informative=4, n_groups=2, correlation=0.95, label_noise=0.2, seed=1),
        make_synthetic(240, n_informative=3, n_irrelevant=3, n_classes=3, outlier_share=0.05),
    ],
    ids=["classification", "regression", "correlated-noisy", "multiclass-outliers"],
)
def test_every_finding_has_a_reading_and_json_form(data):
    diagnostics = diagnose_data(data)
    assert isinstance(diagnostics, DataDiagnostics)
    expected = {
        "samples",
        "features",
        "samples_per_feature",
        "parameters_per_sample",
        "irrelevant_features",
        "correlation",
        "outliers",
        "label_noise",
    } | ({"class_balance"} if data.task == "classification" else set())
    assert set(diagnostics) == expected
    for name, finding in diagnostics.items():
        assert finding.name == name
        assert finding.reading.strip()
        assert finding.reading.endswith(".")
    as_dict = diagnostics.to_dict()
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert diagnostics.readings() == [f.reading for f in diagnostics.values()]


def test_sampled_flag_set_only_when_rows_exceed_max_samples():
    data = make_synthetic(600, n_informative=3, n_irrelevant=7, seed=0)
    sampled = diagnose_data(data, max_samples=200)
    flags = {name: finding.sampled for name, finding in sampled.items()}
    assert flags == {
        "samples": False,
        "features": False,
        "samples_per_feature": False,
        "parameters_per_sample": False,
        "irrelevant_features": True,
        "correlation": True,
        "outliers": True,
        "label_noise": True,
        "class_balance": False,
    }
    assert not any(f.sampled for f in diagnose_data(data, max_samples=600).values())


def test_too_few_samples_is_a_data_error():
    data = make_synthetic(3, n_informative=1, n_irrelevant=1, seed=0)
    with pytest.raises(DataError) as error:
        diagnose_data(data)
    assert str(error.value) == "Diagnostics need at least 4 samples; the data has 3."


# -- diagnose_run on scripted histories -------------------------------------------------------


def _records(loss, val, start=1):
    return [
        {"epoch": i + start, "loss": a, "val_loss": b} for i, (a, b) in enumerate(zip(loss, val))
    ]


RUNS = {
    "overfitting": (
        [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1],
        [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8],
    ),
    "underfitting": (
        [1.0, 0.97, 0.95, 0.95, 0.95, 0.95],
        [1.0, 0.98, 0.96, 0.96, 0.961, 0.96],
    ),
    "nan": ([1.0, 0.8, 0.7, NAN, NAN], [1.0, 0.85, 0.75, NAN, NAN]),
    "inf": ([1.0, 0.8, 0.7, 0.6, math.inf], [1.0, 0.85, 0.75, 0.7, NAN]),
    "spike": (
        [1.0, 0.8, 0.6, 0.5, 2.0, 0.45, 0.4, 0.35],
        [1.0, 0.8, 0.65, 0.55, 1.5, 0.5, 0.45, 0.4],
    ),
    "still_improving": ([1.0, 0.8, 0.6, 0.5, 0.45], [1.0, 0.85, 0.7, 0.6, 0.55]),
    "healthy": (
        [1.0, 0.7, 0.5, 0.42, 0.40, 0.39, 0.39],
        [1.0, 0.7, 0.5, 0.45, 0.44, 0.445, 0.446],
    ),
}

UNSTABLE = (
    "Lower the learning rate (e.g. by 10x), check inputs for NaN or huge values, and keep "
    "early stopping on so the last finite weights are restored."
)


@pytest.mark.parametrize(
    ("run", "kinds", "epoch", "reading", "action"),
    [
        (
            "overfitting",
            ["overfitting"],
            4,
            "Validation loss was lowest at epoch 4 (0.45) and rose 78% afterwards while training "
            "loss kept falling; the gap grows by 0.14 per epoch.",
            "Stop at epoch 4 (EarlyStopping('val_loss', patience=3, restore_best_weights=True)) "
            "and add or increase dropout or weight decay.",
        ),
        (
            "underfitting",
            ["underfitting"],
            None,
            "Training loss fell only 5% from the first epoch and is flat, with validation loss "
            "close to it.",
            "Add capacity (wider or deeper layers), raise the learning rate, or weaken "
            "regularization (less dropout, smaller penalties).",
        ),
        ("nan", ["instability"], 4, "The loss became non-finite at epoch 4.", UNSTABLE),
        ("inf", ["instability"], 5, "The loss became non-finite at epoch 5.", UNSTABLE),
        (
            "spike",
            ["instability", "still_improving"],
            5,
            "The training loss jumped up at epoch(s) 5.",
            "Lower the learning rate or add batch normalization; clip gradients if it persists.",
        ),
        (
            "still_improving",
            ["still_improving"],
            5,
            "Validation loss was still falling at the last epoch (0.55).",
            "Train for more epochs, with early stopping to pick the stopping point.",
        ),
        (
            "healthy",
            ["healthy"],
            5,
            "No overfitting, underfitting or instability detected.",
            "Keep the current settings.",
        ),
    ],
)
def test_diagnose_run_scripted_histories(run, kinds, epoch, reading, action):
    loss, val = RUNS[run]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN epochs must not leak numpy warnings
        result = diagnose_run(_records(loss, val))
    assert isinstance(result, RunDiagnostics)
    assert result.kinds == kinds
    first = result.findings[0]
    assert (first.epoch, first.reading, first.action) == (epoch, reading, action)
    assert result.epochs == len(loss)
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def test_overfitting_reports_onset_and_growth():
    loss, val = RUNS["overfitting"]
    result = diagnose_run(_records(loss, val))
    finding = result.findings[0]
    assert result.best_epoch == finding.epoch == 4
    gap = np.array(val) - np.array(loss)
    assert finding.value == pytest.approx(np.polyfit(np.arange(4, 9), gap[3:], 1)[0])
    assert finding.action.startswith("Stop at epoch 4 ")


def test_overfitting_needs_a_rise_above_the_tolerance():
    loss = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2]
    val = [1.0, 0.7, 0.5, 0.45, 0.455, 0.458]  # rises 1.8% after epoch 4
    assert diagnose_run(_records(loss, val)).kinds == ["healthy"]
    assert diagnose_run(_records(loss, val), tolerance=0.01).kinds == ["overfitting"]


def test_to_dict_contract():
    loss, val = RUNS["nan"]
    as_dict = diagnose_run(_records(loss, val)).to_dict()
    assert as_dict == {
        "schema_version": 1,
        "epochs": 5,
        "best_epoch": 3,
        "findings": [
            {
                "kind": "instability",
                "reading": "The loss became non-finite at epoch 4.",
                "action": UNSTABLE,
                "epoch": 4,
                "value": None,
            }
        ],
    }


# -- CSV histories from Keras and Lightning ---------------------------------------------------

LOSS, VAL = RUNS["overfitting"]


def _keras_csv(path):
    """Keras' CSVLogger: one row per epoch, epochs from 0, metrics in sorted order."""
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for epoch, (loss, val) in enumerate(zip(LOSS, VAL)):
        lines.append(f"{epoch},{0.5 + 0.05 * epoch},{loss},{0.5 + 0.04 * epoch},{val}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _lightning_csv(path, val_first):
    """Lightning's CSVLogger: training and validation values on separate rows, blanks elsewhere."""
    lines = ["epoch,step,train_loss,val_loss"]
    for epoch, (loss, val) in enumerate(zip(LOSS, VAL)):
        step = 10 * epoch + 9
        rows = [f"{epoch},{step},,{val}", f"{epoch},{step},{loss},"]
        lines += rows if val_first else rows[::-1]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_keras_csvlogger_file(tmp_path):
    path = _keras_csv(tmp_path / "training.log")
    records = read_history(path)
    assert len(records) == 8
    assert records[3] == {
        "epoch": 3,
        "accuracy": pytest.approx(0.65),
        "loss": 0.3,
        "val_accuracy": pytest.approx(0.62),
        "val_loss": 0.45,
    }
    result = diagnose_run(path)
    assert result.kinds == ["overfitting"]
    assert result.best_epoch == 3  # the file's own (0-based) epoch numbers
    assert result.findings[0].reading.startswith("Validation loss was lowest at epoch 3 (0.45)")


@pytest.mark.parametrize("val_first", [True, False], ids=["val-row-first", "train-row-first"])
def test_lightning_csvlogger_file(tmp_path, val_first):
    path = _lightning_csv(tmp_path / "metrics.csv", val_first)
    records = read_history(path)
    assert records == [
        {"epoch": epoch, "loss": loss, "val_loss": val}
        for epoch, (loss, val) in enumerate(zip(LOSS, VAL))
    ]
    result = diagnose_run(path)
    assert result.kinds == ["overfitting"]
    assert result.best_epoch == 3


def test_regulab_history_without_epochs_is_numbered_from_one():
    records = read_history([{"loss": 1.0, "val_loss": 1.1}, {"loss": 0.9, "val_loss": 1.0}])
    assert [r["epoch"] for r in records] == [1, 2]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "epoch,accuracy,loss",
            "The history has no val_loss column; found epoch, accuracy, loss. Expected epoch, "
            "loss, val_loss[, metrics].",
        ),
        (
            "epoch,step,train_loss",
            "The history has no val_loss column; found epoch, step, train_loss. Expected epoch, "
            "loss, val_loss[, metrics].",
        ),
        (
            "epoch,acc",
            "The history has no loss or val_loss column; found epoch, acc. Expected epoch, loss, "
            "val_loss[, metrics].",
        ),
    ],
)
def test_missing_loss_columns_are_listed(tmp_path, header, message):
    path = tmp_path / "history.csv"
    width = header.count(",") + 1
    path.write_text(header + "\n" + ",".join(["1"] * width) + "\n")
    with pytest.raises(DataError) as error:
        diagnose_run(path)
    assert str(error.value) == message


def test_missing_history_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError) as error:
        diagnose_run(path)
    assert str(error.value) == f"History file '{path}' does not exist."
