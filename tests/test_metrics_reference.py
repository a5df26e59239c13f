"""The metrics scored every epoch (plain NumPy, for speed) equal scikit-learn's on random
inputs, ties, classes missing from the truth or the predictions, constant targets and
several target columns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from regulab.training._metrics import member_metrics


@pytest.mark.parametrize("seed", range(6))
def test_binary_metrics_equal_scikit_learns_with_tied_scores(seed):
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(5, 80))
    truth = (rng.random(rows) < rng.uniform(0.05, 0.6)).astype(np.int64)
    truth[:2] = [0, 1]  # both classes present
    scores = np.round(rng.normal(size=(3, rows, 1)), 1).astype(np.float32)  # many ties
    scores[2] = 0.0  # every score tied: AUC 0.5
    records = member_metrics(torch.from_numpy(scores), torch.from_numpy(truth), "binary")
    for member, record in zip(scores, records):
        pred = (member[:, 0] > 0).astype(np.int64)
        assert record["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=1e-12)
        expected_f1 = f1_score(truth, pred, average="macro", zero_division=0)
        assert record["f1_macro"] == pytest.approx(expected_f1, abs=1e-12)
        assert record["roc_auc"] == pytest.approx(roc_auc_score(truth, member[:, 0]), abs=1e-12)
    assert records[2]["roc_auc"] == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_multiclass_metrics_equal_scikit_learns_when_classes_are_missing(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=50)  # class 3 is never true, class 4 never predicted
    scores = rng.normal(size=(2, 50, 5)).astype(np.float32)
    scores[:, :, 4] = -10.0
    scores[:, :4, 3] = 10.0
    records = member_metrics(torch.from_numpy(scores), torch.from_numpy(truth), "multiclass")
    for member, record in zip(scores, records):
        pred = member.argmax(1)
        assert record["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=1e-12)
        expected_f1 = f1_score(truth, pred, average="macro", zero_division=0)
        assert record["f1_macro"] == pytest.approx(expected_f1, abs=1e-12)


def test_two_class_softmax_auc_equals_scikit_learns():
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, size=40)
    scores = rng.normal(size=(1, 40, 2)).astype(np.float32)
    (record,) = member_metrics(
        torch.from_numpy(scores), torch.from_numpy(truth), "multiclass", full=True
    )
    proba = torch.softmax(torch.from_numpy(scores[0]).double(), 1).numpy()
    assert record["roc_auc"] == pytest.approx(roc_auc_score(truth, proba[:, 1]), abs=1e-9)


@pytest.mark.parametrize("columns", [None, 1, 3])
def test_regression_metrics_equal_scikit_learns(columns):
    rng = np.random.default_rng(columns or 0)
    shape = (30,) if columns is None else (30, columns)
    truth = rng.normal(size=shape).astype(np.float32)
    if columns == 3:
        truth[:, 1] = 2.0  # a constant column: R^2 1 if predicted exactly, else 0
    scores = rng.normal(size=(2, 30, columns or 1)).astype(np.float32)
    scores[1] = truth.reshape(30, -1)  # a perfect member
    records = member_metrics(torch.from_numpy(scores), torch.from_numpy(truth), "regression")
    for member, record in zip(scores, records):
        predicted = member.reshape(shape)
        assert record["mse"] == pytest.approx(mean_squared_error(truth, predicted), rel=1e-6)
        assert record["mae"] == pytest.approx(mean_absolute_error(truth, predicted), rel=1e-6)
        assert record["r2"] == pytest.approx(r2_score(truth, predicted), rel=1e-6, abs=1e-12)
    assert records[1]["r2"] == 1.0 and records[1]["mse"] == 0.0


def test_regression_r2_is_nan_under_two_rows():
    (record,) = member_metrics(torch.ones(1, 1, 1), torch.zeros(1), "regression")
    assert math.isnan(record["r2"]) and record["mse"] == 1.0 and record["mae"] == 1.0
