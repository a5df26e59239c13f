"""Shared fixtures: per-test seeding and tiny synthetic problems."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Seed torch, numpy and random with 0 before every test."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@dataclass(frozen=True)
class Problem:
    """A synthetic data set whose first ``n_informative`` features carry the signal."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_informative: int

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def feature_names(self) -> list[str]:
        return [f"f{i}" for i in range(self.n_features)]


def _make_problem(kind: str, n: int, n_features: int, n_informative: int, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    beta = np.zeros(n_features, dtype=np.float32)
    beta[:n_informative] = rng.choice([-1.0, 1.0], n_informative) * rng.uniform(
        1.0, 2.5, n_informative
    )
    signal = X @ beta
    if kind == "regression":
        y = (signal + 0.1 * rng.normal(size=n)).astype(np.float32)
    else:
        y = (signal > 0).astype(np.int64)
    n_val = n // 4
    return Problem(X[n_val:], y[n_val:], X[:n_val], y[:n_val], n_informative)


@pytest.fixture(scope="session")
def classification_problem() -> Problem:
    """Binary labels from 5 informative features among 40 (35 are pure Gaussian noise)."""
    return _make_problem("classification", 400, 40, 5, seed=0)


@pytest.fixture(scope="session")
def regression_problem() -> Problem:
    """Linear target on 5 informative features among 40, small noise."""
    return _make_problem("regression", 400, 40, 5, seed=0)


@pytest.fixture(scope="session")
def multiclass_problem() -> Problem:
    """Three classes separable by the first two of 12 features."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 12)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)
    return Problem(X[60:], y[60:], X[:60], y[:60], 2)
