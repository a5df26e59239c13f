"""A synthetic dataset generator whose informative features are known."""

from __future__ import annotations

import numpy as np

from regulab.data._dataset import TASKS, Dataset, _check_choice
from regulab.errors import check_range


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
