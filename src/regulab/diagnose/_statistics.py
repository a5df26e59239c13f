"""The statistics behind the data diagnostics: sampling, binning, mutual information, tests of
signal (alone and together), multiple-testing control and robust scaling."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.feature_selection import f_classif, f_regression

_MI_BINS = 8
_JOINT_ROWS = 2000  # rows for the joint check of the candidate irrelevant features
_JOINT_PERMUTATIONS = 19  # null draws: a 5% chance of seeing joint signal in pure noise
_RIDGE_ALPHAS = np.logspace(-4, 1, 6)  # relative to the largest squared singular value
_CLIP_PERCENT = 1.0  # label noise: features clipped to their 1st-99th percentiles


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size, replace=False)) if n > size else np.arange(n)


def _quantile_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin each column by its own quantiles (ties collapse bins), as small ints."""
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1], axis=0)
    binned = np.zeros(values.shape, dtype=np.int64)
    for edge in edges:
        binned += values > edge
    return binned


def _mutual_information(binned: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Plug-in MI (nats) of every binned column with the labels, vectorized."""
    n, p = binned.shape
    cell = (np.arange(p) * _MI_BINS * n_labels)[None, :] + binned * n_labels + labels[:, None]
    joint = (
        np.bincount(cell.ravel(), minlength=p * _MI_BINS * n_labels).reshape(p, _MI_BINS, n_labels)
        / n
    )
    px = joint.sum(2, keepdims=True)
    py = joint.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (px * py)), 0.0)
    return terms.sum((1, 2))


def _univariate_p_values(
    X: np.ndarray, y: np.ndarray, task: str, binned: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature p-values: the smaller of a linear test and a G-test on the mutual
    information (Bonferroni over the two), plus the mutual information itself (nats).

    The linear test is ANOVA's F (classification) or Pearson's correlation (regression); the
    G-test reads ``2 n MI`` against chi-square with ``(bins - 1)(labels - 1)`` degrees of
    freedom, which also sees non-monotone dependence.
    """
    n_labels = int(labels.max()) + 1
    observed = _mutual_information(binned, labels, n_labels)
    bins_used = np.array([len(np.unique(column)) for column in binned.T])
    label_count = len(np.unique(labels))
    freedom = np.maximum((bins_used - 1) * (label_count - 1), 1)
    p_mi = np.where(bins_used > 1, stats.chi2.sf(2 * len(labels) * observed, freedom), 1.0)
    varying = X.std(0) > 0
    p_linear = np.ones(X.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        test = f_classif if task == "classification" else f_regression
        if varying.any():
            p_linear[varying] = np.nan_to_num(test(X[:, varying], y)[1], nan=1.0)
    return np.minimum(1.0, 2 * np.minimum(p_mi, p_linear)), observed


def _benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """Discoveries at false discovery rate ``q`` (Benjamini-Hochberg step-up)."""
    m = len(p_values)
    order = np.argsort(p_values)
    below = p_values[order] <= q * np.arange(1, m + 1) / m
    found = np.zeros(m, dtype=bool)
    if below.any():
        found[order[: int(np.flatnonzero(below).max()) + 1]] = True
    return found


def _loo_r2(U: np.ndarray, s: np.ndarray, Y: np.ndarray) -> float:
    """Best leave-one-out R^2 of ridge regressions of ``Y`` (centred) on the data whose thin
    SVD is ``U, s``, over a grid of strengths (the generalized cross-validation shortcut)."""
    best = -np.inf
    total = float((Y**2).sum()) or 1.0
    projected = U.T @ Y
    leverage_base = 1.0 / len(Y)
    for alpha in _RIDGE_ALPHAS * float(s[0] ** 2 if len(s) else 1.0):
        shrink = s**2 / (s**2 + alpha)
        fitted = U @ (shrink[:, None] * projected)
        leverage = (U**2) @ shrink + leverage_base
        residual = (Y - fitted) / np.maximum(1 - leverage, 1e-6)[:, None]
        best = max(best, 1 - float((residual**2).sum()) / total)
    return best


def _joint_signal(
    X: np.ndarray, y: np.ndarray, task: str, rng: np.random.Generator
) -> tuple[float, float]:
    """Leave-one-out R^2 of a ridge on ``X`` and the largest of the same on permuted targets.

    Features that each look irrelevant may still carry signal together (many weak effects at
    a small sample size); this is the check that sees it.
    """
    rows = _sample(len(X), _JOINT_ROWS, rng)
    Xs = X[rows]
    Xs = Xs[:, Xs.std(0) > 0]
    if task == "classification":
        Y = np.eye(int(y.max()) + 1)[y[rows]]
    else:
        Y = (y[rows] - y[rows].mean()).reshape(-1, 1) / (y[rows].std() or 1.0)
    Y = Y - Y.mean(0)
    if Xs.shape[1] == 0:
        return 0.0, 0.0
    Xs = (Xs - Xs.mean(0)) / Xs.std(0)
    U, s, _ = np.linalg.svd(Xs, full_matrices=False)
    observed = _loo_r2(U, s, Y)
    null = max(_loo_r2(U, s, Y[rng.permutation(len(Y))]) for _ in range(_JOINT_PERMUTATIONS))
    return observed, null


def _robust_scale(X: np.ndarray) -> np.ndarray:
    """Each column clipped to its 1st-99th percentiles, then centred and scaled: one extreme
    value (a cell of 1e20) can no longer dominate a linear model fitted on it.

    Examples
    --------
    >>> column = np.r_[np.linspace(-1.0, 1.0, 199), 1e20][:, None]
    >>> float(np.abs(_robust_scale(column)).max()) < 2
    True
    """
    low, high = np.percentile(X, [_CLIP_PERCENT, 100 - _CLIP_PERCENT], axis=0)
    clipped = np.clip(X, low, high)
    spread = clipped.std(axis=0)
    return (clipped - clipped.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
