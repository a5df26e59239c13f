"""Diagnostics of a data set and of a training run: numbers, each with a one-sentence reading.

:func:`diagnose_data` measures what the regularization guide's rules depend on: size versus
capacity, irrelevant features, correlated features, outliers, label noise and class balance.
:func:`diagnose_run` reads a training history (Regulab's, or a CSV from Keras' CSVLogger or
Lightning's CSVLogger) and finds overfitting, underfitting and instability, each with the
action that addresses it.

Large data sets are sampled where exactness is not needed; every sampled diagnostic says so.

Examples
--------
>>> from regulab.data import make_synthetic
>>> from regulab.diagnose import diagnose_data
>>> report = diagnose_data(make_synthetic(300, n_informative=3, n_irrelevant=30, seed=0))
>>> report["irrelevant_features"].value >= 20
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from scipy.sparse.csgraph import connected_components
from sklearn.decomposition import PCA
from sklearn.feature_selection import f_classif, f_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from regulab.custom import ModelFactory, build_model, describe_module, factory_reference, is_custom
from regulab.data import Dataset
from regulab.errors import DataError, InvalidParameterError
from regulab.models import parse_sizes

__all__ = [
    "Finding",
    "DataDiagnostics",
    "RunFinding",
    "RunDiagnostics",
    "diagnose_data",
    "diagnose_run",
    "read_history",
    "count_parameters",
]

_MI_BINS = 8
_RELEVANCE_FDR = 0.05  # Benjamini-Hochberg level at which a feature counts as relevant
_JOINT_ROWS = 2000  # rows for the joint check of the candidate irrelevant features
_JOINT_PERMUTATIONS = 19  # null draws: a 5% chance of seeing joint signal in pure noise
_RIDGE_ALPHAS = np.logspace(-4, 1, 6)  # relative to the largest squared singular value
_CORRELATED = 0.9
_OUTLIER_COMPONENTS = 30
_OUTLIER_QUANTILE = 0.999
_NOISY_LABELS = 0.2
_CORRELATION_ROWS = 2000
_MIN_EPOCHS_TO_JUDGE = 3
_CLIP_PERCENT = 1.0  # label noise: features clipped to their 1st-99th percentiles


@dataclass(frozen=True)
class Finding:
    """One diagnostic: a name, the measured value, a one-sentence reading and details."""

    name: str
    value: float
    reading: str
    details: dict[str, Any] = field(default_factory=dict)
    sampled: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "name": self.name,
            "value": _json_number(self.value),
            "reading": self.reading,
            "details": self.details,
            "sampled": self.sampled,
        }


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class DataDiagnostics(dict):
    """Findings by name (``samples``, ``features``, ``samples_per_feature``,
    ``parameters_per_sample``, ``irrelevant_features``, ``correlation``, ``outliers``,
    ``label_noise``, ``class_balance``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: name -> finding dict."""
        return {name: finding.to_dict() for name, finding in self.items()}

    def readings(self) -> list[str]:
        """Every finding's sentence."""
        return [finding.reading for finding in self.values()]


def count_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of an MLP with these layer sizes.

    Examples
    --------
    >>> count_parameters([784, 128, 64, 10])
    109386
    """
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


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


def _irrelevant(
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    names: Sequence[str],
    rng: np.random.Generator,
    sampled: bool,
) -> Finding:
    """Features without detectable signal, called only where the sample size can tell.

    A feature is a candidate when neither test finds signal at a false discovery rate of
    :data:`_RELEVANCE_FDR` (so at most that share of the features called relevant are
    noise); the candidates are called irrelevant only when a ridge on all of them together
    predicts no better than on permuted targets. Otherwise many weak effects hide among
    them and the finding says it cannot tell at this sample size.
    """
    labels = y if task == "classification" else _quantile_bins(y.reshape(-1, 1), _MI_BINS)[:, 0]
    binned = _quantile_bins(X, _MI_BINS)
    p_values, observed = _univariate_p_values(X, y, task, binned, labels)
    candidates = ~_benjamini_hochberg(p_values, _RELEVANCE_FDR)
    joint, null = _joint_signal(X[:, candidates], y, task, rng) if candidates.any() else (0, 0)
    undetermined = bool(candidates.any() and joint > null)
    irrelevant = candidates & (not undetermined)
    count = int(irrelevant.sum())
    listed = [names[int(i)] for i in np.flatnonzero(irrelevant)]
    tests = (
        "no signal in a linear or a mutual-information test at a "
        f"{_RELEVANCE_FDR:.0%} false discovery rate"
    )
    if undetermined:
        reading = (
            f"Cannot tell at this size: {int(candidates.sum())} of {X.shape[1]} features show "
            f"{tests}, but together they predict the target (ridge leave-one-out R² "
            f"{joint:.3f} against {null:.3f} at most on permuted targets): many weak effects, "
            "too few rows to call any of them irrelevant."
        )
    else:
        reading = f"{count} of {X.shape[1]} features look irrelevant ({tests}, alone or together)"
        reading += " → L1 or elastic net can drop them." if count > 0.2 * X.shape[1] else "."
    return Finding(
        "irrelevant_features",
        float(count),
        reading,
        {
            "features": listed,
            "share": count / X.shape[1],
            "undetermined": undetermined,
            "candidates": int(candidates.sum()),
            "joint_r2": round(float(joint), 5),
            "joint_null_r2": round(float(null), 5),
            "mutual_information": observed.round(5).tolist(),
            "p_values": p_values.round(6).tolist(),
        },
        sampled,
    )


def _correlation(X: np.ndarray, names: Sequence[str], sampled: bool) -> Finding:
    """Groups of strongly correlated features and the design's conditioning, called only
    where the sample size supports them.

    A pair joins a group when the lower end of its 95% Fisher-z interval of ``|r|`` is
    above :data:`_CORRELATED` (at 50 rows an observed 0.93 is not enough). The condition
    number counts as ill-conditioned when above 1e3 and far (10x) above what independent
    features give at this shape (the Marchenko-Pastur edge ``(1 + sqrt(p/n)) / (1 -
    sqrt(p/n))``); with no more rows than features it is infinite whatever the correlations,
    so no call is made from it.
    """
    n, p = X.shape
    varying = X.std(0) > 0
    Z = X[:, varying]
    Z = (Z - Z.mean(0)) / Z.std(0)
    corr = np.corrcoef(Z, rowvar=False) if Z.shape[1] > 1 else np.ones((1, 1))
    corr = np.atleast_2d(corr)
    off = np.abs(corr - np.eye(len(corr)))
    largest = float(off.max()) if len(corr) > 1 else 0.0
    singular = np.linalg.svd(Z / math.sqrt(len(Z)), compute_uv=False)
    condition = float(singular[0] / singular[-1]) if singular[-1] > 1e-12 else float("inf")
    vif = np.diag(np.linalg.pinv(corr))
    spread = 1.96 / math.sqrt(max(n - 3, 1))
    lower = np.tanh(np.maximum(np.arctanh(np.minimum(off, 1 - 1e-12)) - spread, 0.0))
    strong = lower > _CORRELATED
    n_groups, label = connected_components(strong, directed=False)
    kept_names = [n for n, keep in zip(names, varying) if keep]
    groups = [[kept_names[i] for i in np.flatnonzero(label == g)] for g in range(n_groups)]
    groups = [g for g in groups if len(g) > 1]
    in_groups = sum(len(g) for g in groups)
    ratio = Z.shape[1] / n
    independent = (1 + math.sqrt(ratio)) / (1 - math.sqrt(ratio)) if ratio < 1 else float("inf")
    ill_conditioned = bool(ratio < 1 and condition > max(1e3, 10 * independent))
    reading = (
        f"Largest |r| between two features is {largest:.2f}; {len(groups)} group(s) of "
        f"features with |r| > {_CORRELATED} (95% sure at {n} rows) cover {in_groups} features; "
        f"condition number {condition:.3g}"
    )
    if ratio >= 1:
        reading += " (no more rows than features: cannot tell conditioning at this size)"
    if groups or ill_conditioned:
        reading += " → correlated features: L2 or elastic net (pure L1 picks one per group)."
    else:
        reading += "."
    return Finding(
        "correlation",
        largest,
        reading,
        {
            "condition_number": _json_number(condition),
            "independent_condition_number": _json_number(independent),
            "ill_conditioned": ill_conditioned,
            "groups": groups[:50],
            "n_groups": len(groups),
            "features_in_groups": in_groups,
            "max_vif": _json_number(float(np.max(vif))),
            "high_vif_features": int((vif > 10).sum()),
        },
        sampled,
    )


def _outliers(X: np.ndarray, seed: int, sampled: bool) -> Finding:
    """Share of rows far out in Mahalanobis distance (whitened principal components)."""
    varying = X.std(0) > 0
    Z = X[:, varying]
    Z = (Z - Z.mean(0)) / Z.std(0)
    components = int(min(_OUTLIER_COMPONENTS, Z.shape[1], len(Z) - 1))
    if components < 1:
        return Finding("outliers", 0.0, "Too few varying features to look for outliers.")
    scores = PCA(components, whiten=True, random_state=seed).fit_transform(Z)
    distance = (scores**2).sum(1)
    limit = float(stats.chi2.ppf(_OUTLIER_QUANTILE, components))
    share = float(np.mean(distance > limit))
    expected = 1 - _OUTLIER_QUANTILE
    reading = (
        f"{share:.1%} of rows lie beyond the {_OUTLIER_QUANTILE:.1%} chi-square limit of the "
        f"Mahalanobis distance over {components} principal components (Gaussian data: "
        f"{expected:.1%})"
    )
    heavy = share > 0.02
    reading += (
        " → outliers: prefer early stopping and moderate L2 over strong L1." if heavy else "."
    )
    return Finding(
        "outliers",
        share,
        reading,
        {"limit": limit, "components": components, "expected_share": expected},
        sampled,
    )


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


def _label_noise(X: np.ndarray, y: np.ndarray, task: str, seed: int, sampled: bool) -> Finding:
    features = _robust_scale(X)
    if X.shape[1] > 50:
        features = PCA(50, random_state=seed).fit_transform(features)
    if task == "classification":
        counts = np.bincount(y)
        folds = int(min(5, counts[counts > 0].min()))
        if folds < 2:
            return Finding(
                "label_noise",
                float("nan"),
                "Too few samples per class to estimate label noise by cross-validation.",
                {},
                sampled,
            )
        predicted = cross_val_predict(LogisticRegression(max_iter=300), features, y, cv=folds)
        disagreement = float(np.mean(predicted != y))
        reading = (
            f"A cross-validated linear model on the {X.shape[1]} relevant features disagrees "
            f"with {disagreement:.1%} of the labels (an upper bound on label noise)"
        )
        reading += (
            " → noisy labels: early stopping, dropout and L2 help."
            if disagreement > _NOISY_LABELS
            else "."
        )
        return Finding("label_noise", disagreement, reading, {"folds": folds}, sampled)
    predicted = cross_val_predict(Ridge(alpha=1.0), features, y, cv=5)
    unexplained = float(np.mean((predicted - y) ** 2) / max(float(np.var(y)), 1e-12))
    reading = (
        f"A cross-validated linear model leaves {unexplained:.1%} of the target variance "
        "unexplained (noise plus non-linear signal)."
    )
    return Finding("label_noise", unexplained, reading, {}, sampled)


def _class_balance(y: np.ndarray) -> Finding:
    counts = np.bincount(y)
    shares = counts / counts.sum()
    ratio = float(counts.max() / max(counts.min(), 1))
    reading = (
        f"Class shares range from {shares.min():.1%} to {shares.max():.1%} (ratio {ratio:.1f})"
    )
    reading += " → imbalanced: watch F1 rather than accuracy." if ratio > 3 else "."
    return Finding("class_balance", ratio, reading, {"shares": shares.round(4).tolist()})


def _check_model_fits(sizes: Sequence[int], p: int, outputs: int, task: str) -> None:
    """Refuse a model that does not fit the data, in the words training uses."""
    if sizes[0] != p:
        suggestion = "-".join(str(s) for s in (p, *sizes[1:]))
        raise InvalidParameterError(
            f"The model's input size is {sizes[0]} but the data has {p} features; "
            f"use a spec starting with {p}, e.g. '{suggestion}'."
        )
    allowed = {outputs} | ({1} if task == "classification" and outputs == 2 else set())
    if sizes[-1] not in allowed:
        what = f"{outputs} classes" if task == "classification" else "a single target column"
        raise InvalidParameterError(
            f"The model's output size is {sizes[-1]} but the data has {what}; the output size "
            f"must be {' or '.join(map(str, sorted(allowed)))}."
        )


def _module_capacity(
    model: str | ModelFactory, dataset: Dataset, outputs: int, seed: int
) -> tuple[str, dict[str, Any]]:
    """The name and :func:`~regulab.custom.describe_module` of a CNN or factory model, built
    for ``dataset`` and checked on two of its rows as training checks it."""
    from regulab.training._generic import check_fits
    from regulab.training._trainer import _targets

    name = model if isinstance(model, str) else factory_reference(model)
    shape = dataset.image_shape
    module = build_model(
        model,
        input_shape=(1, *shape) if shape else (dataset.n_features,),
        n_outputs=outputs,
        task=dataset.task,
        seed=seed,
    )
    probe = torch.as_tensor(np.asarray(dataset.X[:2], dtype=np.float32))  # forward: 2 rows
    y = _targets(dataset.y, dataset.task, len(dataset.y), "y", probe.device)  # every class
    check_fits(module, probe, y, dataset.task)
    return name, describe_module(module)


def diagnose_data(
    dataset: Dataset,
    *,
    model: str | Sequence[int] | ModelFactory | None = None,
    train_share: float = 0.7,
    max_samples: int = 5000,
    seed: int = 0,
) -> DataDiagnostics:
    """Measure what the regularization rules depend on.

    Parameters
    ----------
    dataset : Dataset
    model : str, sequence of int or callable, optional
        Architecture to relate to the data size: layer sizes (default
        ``inputs-128-64-outputs``), ``"cnn"``, an import path ``"package.module:factory"``
        or the factory itself. A CNN or factory model is built once (with no technique
        set) for its parameter count and layer kinds.
    train_share : float, default=0.7
        Share of rows that will train the model (for parameters per training sample).
    max_samples : int, default=5000
        Rows used by the sampled diagnostics (MI, correlation, outliers, label noise).
    seed : int, default=0

    Returns
    -------
    DataDiagnostics

    Notes
    -----
    BLAS runs on one thread here: these are many small matrix products, and on a busy
    2-core machine multi-threaded BLAS spins instead of computing (20x slower measured).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _diagnose(dataset, model, train_share, max_samples, seed)


def _diagnose(
    dataset: Dataset,
    model: str | Sequence[int] | ModelFactory | None,
    train_share: float,
    max_samples: int,
    seed: int,
) -> DataDiagnostics:
    rng = np.random.default_rng(seed)
    X, y = dataset.X, dataset.y
    n, p = X.shape
    if n < 4:
        raise DataError(f"Diagnostics need at least 4 samples; the data has {n}.")
    rows = _sample(n, max_samples, rng)
    sampled = len(rows) < n
    Xs, ys = X[rows].astype(np.float64), y[rows]
    outputs = dataset.n_classes if dataset.task == "classification" else 1
    n_train = max(1, int(n * train_share))
    if callable(model) or (isinstance(model, str) and is_custom(model)):
        name, module = _module_capacity(model, dataset, outputs, seed)
        parameters = int(module["parameters"])
        kind = "convolutional" if module["convolutional"] else "dense"
        described = f"{name} model ({kind}: {', '.join(module['layers'])})"
        details = {"model": name, "layers": module["layers"], "convolutional": kind != "dense"}
    else:
        sizes = parse_sizes(model) if model else (p, 128, 64, outputs)
        _check_model_fits(sizes, p, outputs, dataset.task)
        parameters = count_parameters(sizes)
        described = f"{'-'.join(map(str, sizes))} model"
        details = {"model": list(sizes)}
    per_sample = parameters / n_train
    findings = DataDiagnostics()
    findings["samples"] = Finding("samples", float(n), f"{n} samples.")
    findings["features"] = Finding("features", float(p), f"{p} features.")
    ratio = n / p
    findings["samples_per_feature"] = Finding(
        "samples_per_feature",
        ratio,
        f"{ratio:.1f} samples per feature"
        + (" → few samples for the features: penalties matter." if ratio < 10 else "."),
    )
    findings["parameters_per_sample"] = Finding(
        "parameters_per_sample",
        per_sample,
        f"The {described} has {parameters} parameters, "
        f"{per_sample:.1f} per training sample"
        + (
            " → large capacity for the data: dropout, batch norm or early stopping."
            if per_sample > 1
            else "."
        ),
        {"parameters": parameters, "n_train": n_train, **details},
    )
    findings["irrelevant_features"] = _irrelevant(
        Xs, ys, dataset.task, dataset.feature_names, rng, sampled
    )
    corr_rows = _sample(len(Xs), _CORRELATION_ROWS, rng)
    findings["correlation"] = _correlation(
        Xs[corr_rows], dataset.feature_names, sampled or len(corr_rows) < len(Xs)
    )
    findings["outliers"] = _outliers(Xs, seed, sampled)
    noise_rows = _sample(len(Xs), 3000, rng)
    irrelevant = set(findings["irrelevant_features"].details["features"])
    relevant = [j for j, name in enumerate(dataset.feature_names) if name not in irrelevant]
    Xn = Xs[noise_rows][:, relevant or list(range(p))]
    findings["label_noise"] = _label_noise(
        Xn, ys[noise_rows], dataset.task, seed, sampled or len(noise_rows) < len(Xs)
    )
    if dataset.task == "classification":
        findings["class_balance"] = _class_balance(y)
    return findings


# -- training runs ----------------------------------------------------------------------------

_ALIASES = {"train_loss": "loss", "train_loss_epoch": "loss", "val_loss_epoch": "val_loss"}


def read_history(source: str | Path | Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Epoch records from a Regulab history or a CSV (Keras CSVLogger, Lightning CSVLogger).

    Lightning writes training and validation values on separate rows of the same epoch;
    rows are merged per epoch. ``train_loss`` is read as ``loss``.

    Examples
    --------
    >>> read_history([{"epoch": 1, "loss": 1.0, "val_loss": 1.1}])[0]["val_loss"]
    1.1
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"History file '{path}' does not exist.")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise DataError(f"Cannot read '{path}' as CSV: {error}".splitlines()[0]) from error
    else:
        frame = pd.DataFrame(list(source))
    found = ", ".join(map(str, frame.columns)) or "no columns"  # as written, before aliases
    frame = frame.rename(columns=_ALIASES)
    missing = [c for c in ("loss", "val_loss") if c not in frame.columns]
    if missing:
        raise DataError(
            f"The history has no {' or '.join(missing)} column; found "
            f"{found}. Expected epoch, loss, val_loss[, metrics]."
        )
    if "epoch" not in frame.columns:
        frame["epoch"] = np.arange(1, len(frame) + 1)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    not_numbers = numeric.isna() & frame.notna()
    if not_numbers.any().any():
        column = str(not_numbers.any().idxmax())
        row = int(np.flatnonzero(not_numbers[column])[0])
        raise DataError(
            f"The history's column '{column}' has a value that is not a number: "
            f"{frame[column].iloc[row]!r} in data row {row + 1}."
        )
    merged = numeric.groupby("epoch", sort=True).agg(
        lambda column: column.dropna().iloc[-1] if column.notna().any() else np.nan
    )
    if len(merged) < 1:
        raise DataError("The history is empty.")
    records = []
    for epoch, row in merged.iterrows():
        record: dict[str, float] = {"epoch": int(epoch)}
        record.update({k: float(v) for k, v in row.items() if k not in ("step",)})
        records.append(record)
    return records


@dataclass(frozen=True)
class RunFinding:
    """A pattern found in a training history, with the number behind it and the action."""

    kind: str  # overfitting, underfitting, instability, still_improving, healthy, too_short
    reading: str
    action: str
    epoch: int | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "kind": self.kind,
            "reading": self.reading,
            "action": self.action,
            "epoch": self.epoch,
            "value": self.value,
        }


@dataclass
class RunDiagnostics:
    """Findings of :func:`diagnose_run` plus the best epoch by validation loss."""

    findings: list[RunFinding]
    best_epoch: int | None
    epochs: int

    @property
    def kinds(self) -> list[str]:
        """Kinds of the findings, e.g. ``["overfitting"]``."""
        return [f.kind for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the ``diagnose-run --json`` contract: ``schema_version``,
        ``epochs``, ``best_epoch``, ``findings``)."""
        return {
            "schema_version": 1,
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "findings": [f.to_dict() for f in self.findings],
        }


def _spikes(values: np.ndarray) -> list[int]:
    """Epoch indices where the loss jumps up far more than its usual change."""
    if len(values) < 4:
        return []
    steps = np.diff(values)
    typical = float(np.median(np.abs(steps))) or 1e-12
    return [i + 1 for i, step in enumerate(steps) if step > max(5 * typical, 0.25 * abs(values[i]))]


def diagnose_run(
    history: str | Path | Sequence[Mapping[str, Any]], *, tolerance: float = 0.02
) -> RunDiagnostics:
    """Find overfitting, underfitting and instability in a history, each with an action.

    Parameters
    ----------
    history : path or list of dict
        A CSV (``epoch, loss, val_loss[, metric...]``) or epoch records.
    tolerance : float, default=0.02
        Relative rise of the validation loss above its minimum that counts as overfitting.

    Examples
    --------
    >>> losses = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1]
    >>> val = [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8]
    >>> records = [{"epoch": i + 1, "loss": a, "val_loss": b}
    ...            for i, (a, b) in enumerate(zip(losses, val))]
    >>> diagnose_run(records).kinds
    ['overfitting']
    """
    records = read_history(history)
    epochs = np.array([r["epoch"] for r in records])
    loss = np.array([r.get("loss", np.nan) for r in records])
    val = np.array([r.get("val_loss", np.nan) for r in records])
    findings: list[RunFinding] = []
    bad = ~np.isfinite(loss) | ~np.isfinite(val)
    if bad.any():
        first = int(epochs[np.argmax(bad)])
        findings.append(
            RunFinding(
                "instability",
                f"The loss became non-finite at epoch {first}.",
                "Lower the learning rate (e.g. by 10x), check inputs for NaN or huge values, and "
                "keep early stopping on so the last finite weights are restored.",
                first,
            )
        )
    finite = np.isfinite(val)
    best_epoch = int(epochs[finite][np.argmin(val[finite])]) if finite.any() else None
    spikes = _spikes(np.where(np.isfinite(loss), loss, np.nan)[np.isfinite(loss)])
    if spikes:
        findings.append(
            RunFinding(
                "instability",
                f"The training loss jumped up at epoch(s) "
                f"{', '.join(str(int(epochs[i])) for i in spikes[:5])}.",
                "Lower the learning rate or add batch normalization; clip gradients if it "
                "persists.",
                int(epochs[spikes[0]]),
            )
        )
    if best_epoch is not None:
        position = int(np.flatnonzero(epochs == best_epoch)[0])
        best_val = float(val[position])
        after = val[position + 1 :]
        later_train = loss[position:]
        seen = after[~np.isnan(after)]  # NaN epochs are reported as instability
        rise = float(seen.max() / best_val - 1) if len(seen) and best_val > 0 else 0.0
        if len(after) >= 2 and rise > tolerance and np.nanmin(later_train) < loss[position]:
            gap = val - loss
            growth = float(np.polyfit(epochs[position:], gap[position:], 1)[0])
            findings.append(
                RunFinding(
                    "overfitting",
                    f"Validation loss was lowest at epoch {best_epoch} ({best_val:.4g}) and rose "
                    f"{rise:.0%} afterwards while training loss kept falling; the gap grows by "
                    f"{growth:.3g} per epoch.",
                    f"Stop at epoch {best_epoch} (EarlyStopping('val_loss', patience=3, "
                    "restore_best_weights=True)) and add or increase dropout or weight decay.",
                    best_epoch,
                    growth,
                )
            )
        elif position == len(val) - 1 and len(val) >= 3 and val[-1] < val[-2]:
            findings.append(
                RunFinding(
                    "still_improving",
                    f"Validation loss was still falling at the last epoch ({val[-1]:.4g}).",
                    "Train for more epochs, with early stopping to pick the stopping point.",
                    int(epochs[-1]),
                    float(val[-1]),
                )
            )
    start = loss[np.isfinite(loss)][:1]
    end = loss[np.isfinite(loss)][-3:]
    if len(start) and len(end) == 3 and start[0] > 0:
        drop = 1 - float(np.mean(end)) / float(start[0])
        flat = float(np.ptp(end)) < 0.02 * abs(float(np.mean(end))) + 1e-12
        recent = val[-3:][np.isfinite(val[-3:])]
        close = (
            len(recent) > 0
            and abs(float(np.mean(recent)) - float(np.mean(end)))
            < 0.1 * abs(float(np.mean(end))) + 1e-12
        )
        if drop < 0.2 and flat and close:
            findings.append(
                RunFinding(
                    "underfitting",
                    f"Training loss fell only {drop:.0%} from the first epoch and is flat, with "
                    "validation loss close to it.",
                    "Add capacity (wider or deeper layers), raise the learning rate, or weaken "
                    "regularization (less dropout, smaller penalties).",
                    value=drop,
                )
            )
    if not findings and len(records) < _MIN_EPOCHS_TO_JUDGE:
        findings.append(
            RunFinding(
                "too_short",
                f"The history has {len(records)} epoch(s): too short to judge overfitting, "
                f"underfitting or instability (at least {_MIN_EPOCHS_TO_JUDGE} are needed).",
                f"Train for {_MIN_EPOCHS_TO_JUDGE} or more epochs and diagnose the whole history.",
            )
        )
    elif not findings:
        findings.append(
            RunFinding(
                "healthy",
                "No overfitting, underfitting or instability detected.",
                "Keep the current settings.",
                best_epoch,
            )
        )
    return RunDiagnostics(findings, best_epoch, len(records))
