"""Diagnostics of a data set: size against capacity, irrelevant and correlated features,
outliers, label noise and class balance, each a :class:`Finding` with a one-sentence reading."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.sparse.csgraph import connected_components
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from regulab.custom import ModelFactory, is_custom
from regulab.data import Dataset
from regulab.diagnose._capacity import _check_model_fits, _module_capacity, count_parameters
from regulab.diagnose._columns import (
    between_units,
    reference_coded,
    unit_of,
    unit_p_values,
    units,
)
from regulab.diagnose._statistics import (
    _MI_BINS,
    _benjamini_hochberg,
    _joint_signal,
    _quantile_bins,
    _robust_scale,
    _sample,
    _univariate_p_values,
)
from regulab.errors import DataError
from regulab.models import parse_sizes

_RELEVANCE_FDR = 0.05  # Benjamini-Hochberg level at which a feature counts as relevant
_CORRELATED = 0.9
_OUTLIER_COMPONENTS = 30
_OUTLIER_QUANTILE = 0.999
_NOISY_LABELS = 0.2
_CORRELATION_ROWS = 2000


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


def format_ratio(value: float) -> str:
    """A ratio as a reading shows it: one decimal, and a whole number without one.

    Examples
    --------
    >>> format_ratio(15.0), format_ratio(2.54), format_ratio(2.98), format_ratio(0.004)
    ('15', '2.5', '3', '0.004')
    """
    if 0 < abs(value) < 0.05:
        return f"{value:.1g}"
    return f"{value:.1f}".removesuffix(".0")


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


def diagnose_data(
    dataset: Dataset,
    *,
    model: str | Sequence[int] | ModelFactory | None = None,
    train_share: float = 0.7,
    max_samples: int = 5000,
    seed: int = 0,
    groups: Mapping[str, Sequence[int]] | None = None,
) -> DataDiagnostics:
    """Measure what the regularization rules depend on.

    On a table (``dataset.table``, or ``groups``) the irrelevant and correlated features are
    the original columns, not their encoded inputs (see :mod:`regulab.diagnose._columns`:
    a categorical is irrelevant when none of its one-hot levels carries signal; two columns
    correlate as strongly as their most correlated pair of encoded columns).

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
    groups : mapping of str to sequence of int, optional
        Original column -> its encoded columns of ``dataset.X``; by default
        ``dataset.table.groups`` for a table, else every feature is its own column.

    Returns
    -------
    DataDiagnostics

    Notes
    -----
    BLAS runs on one thread here: these are many small matrix products, and on a busy
    2-core machine multi-threaded BLAS spins instead of computing (20x slower measured).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        if groups is None and dataset.table is not None:
            groups = dataset.table.groups
        return _diagnose(dataset, model, train_share, max_samples, seed, groups)


def _diagnose(
    dataset: Dataset,
    model: str | Sequence[int] | ModelFactory | None,
    train_share: float,
    max_samples: int,
    seed: int,
    groups: Mapping[str, Sequence[int]] | None,
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
        f"{format_ratio(ratio)} samples per feature"
        + (" → few samples for the features: penalties matter." if ratio < 10 else "."),
    )
    findings["parameters_per_sample"] = Finding(
        "parameters_per_sample",
        per_sample,
        f"The {described} has {parameters} parameters, "
        f"{format_ratio(per_sample)} per training sample"
        + (
            " → large capacity for the data: dropout, batch norm or early stopping."
            if per_sample > 1
            else "."
        ),
        {"parameters": parameters, "n_train": n_train, **details},
    )
    columns = units(dataset.feature_names, groups)
    table = groups is not None
    findings["irrelevant_features"] = _irrelevant(
        Xs, ys, dataset.task, columns, rng, sampled, table
    )
    corr_rows = _sample(len(Xs), _CORRELATION_ROWS, rng)
    indicators = [] if dataset.table is None else dataset.table.preprocessor.indicator_columns_
    findings["correlation"] = _correlation(
        Xs[corr_rows], columns, sampled or len(corr_rows) < len(Xs), table, indicators
    )
    findings["outliers"] = _outliers(Xs, seed, sampled)
    noise_rows = _sample(len(Xs), 3000, rng)
    irrelevant = set(findings["irrelevant_features"].details["features"])
    relevant = sorted(j for name, cols in columns.items() if name not in irrelevant for j in cols)
    Xn = Xs[noise_rows][:, relevant or list(range(p))]
    findings["label_noise"] = _label_noise(
        Xn, ys[noise_rows], dataset.task, seed, sampled or len(noise_rows) < len(Xs)
    )
    if dataset.task == "classification":
        findings["class_balance"] = _class_balance(y, dataset.classes)
    return findings


def _irrelevant(
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    columns: Mapping[str, Sequence[int]],
    rng: np.random.Generator,
    sampled: bool,
    table: bool = False,
) -> Finding:
    """Features (a table's original ``columns``) without detectable signal, called only
    where the sample size can tell.

    A feature is a candidate when neither test finds signal at a false discovery rate of
    :data:`_RELEVANCE_FDR` (so at most that share of the features called relevant are
    noise); the candidates are called irrelevant only when a ridge on all of them together
    predicts no better than on permuted targets. Otherwise many weak effects hide among
    them and the finding says it cannot tell at this sample size. A column of a table is
    tested through its encoded columns (:func:`~regulab.diagnose._columns.unit_p_values`);
    ``mutual_information`` and ``p_values`` stay per encoded column, ``column_p_values``
    is per original column.
    """
    labels = y if task == "classification" else _quantile_bins(y.reshape(-1, 1), _MI_BINS)[:, 0]
    binned = _quantile_bins(X, _MI_BINS)
    p_values, observed = _univariate_p_values(X, y, task, binned, labels)
    column_p = unit_p_values(p_values, columns)
    candidates = ~_benjamini_hochberg(column_p, _RELEVANCE_FDR)
    inputs = np.isin(unit_of(columns, X.shape[1]), np.flatnonzero(candidates))
    joint, null = _joint_signal(X[:, inputs], y, task, rng) if candidates.any() else (0, 0)
    undetermined = bool(candidates.any() and joint > null)
    irrelevant = candidates & (not undetermined)
    count, total, word = int(irrelevant.sum()), len(columns), "columns" if table else "features"
    names = list(columns)
    listed = [names[int(i)] for i in np.flatnonzero(irrelevant)]
    tests = (
        "no signal in a linear or a mutual-information test at a "
        f"{_RELEVANCE_FDR:.0%} false discovery rate"
    )
    if undetermined:
        reading = (
            f"Cannot tell at this size: {int(candidates.sum())} of {total} {word} show "
            f"{tests}, but together they predict the target (ridge leave-one-out R² "
            f"{joint:.3f} against {null:.3f} at most on permuted targets): many weak effects, "
            "too few rows to call any of them irrelevant."
        )
    else:
        reading = f"{count} of {total} {word} look irrelevant ({tests}, alone or together)"
        reading += " → L1 or elastic net can drop them." if count > 0.2 * total else "."
    by_column = {"column_p_values": column_p.round(6).tolist()} if table else {}
    return Finding(
        "irrelevant_features",
        float(count),
        reading,
        {
            "features": listed,
            "share": count / total,
            "undetermined": undetermined,
            "candidates": int(candidates.sum()),
            "joint_r2": round(float(joint), 5),
            "joint_null_r2": round(float(null), 5),
            "mutual_information": observed.round(5).tolist(),
            "p_values": p_values.round(6).tolist(),
            **by_column,
        },
        sampled,
    )


def _correlation(
    X: np.ndarray,
    columns: Mapping[str, Sequence[int]],
    sampled: bool,
    table: bool = False,
    indicators: Sequence[int] = (),
) -> Finding:
    """Groups of strongly correlated features (a table's original ``columns``) and the
    design's conditioning, called only where the sample size supports them.

    A pair joins a group when the lower end of its 95% Fisher-z interval of ``|r|`` is
    above :data:`_CORRELATED` (at 50 rows an observed 0.93 is not enough). The condition
    number counts as ill-conditioned when above 1e3 and far (10x) above what independent
    features give at this shape (the Marchenko-Pastur edge ``(1 + sqrt(p/n)) / (1 -
    sqrt(p/n))``); with no more rows than features it is infinite whatever the correlations,
    so no call is made from it. On a table, two columns correlate as their most correlated
    pair of encoded columns (the largest ``|r|``, not a dedicated association measure such
    as Cramér's V), pairs within one column do not count, and each categorical loses one
    level before the conditioning (:mod:`regulab.diagnose._columns`). A numeric column's
    missing ``indicators`` do not count: columns empty on the same rows share an indicator
    pattern, which says nothing about how their values correlate.
    """
    n, p = X.shape
    varying = X.std(0) > 0
    varying[list(indicators)] = False
    owner = unit_of(columns, p)[varying]
    Z = X[:, varying]
    Z = (Z - Z.mean(0)) / Z.std(0)
    corr = np.corrcoef(Z, rowvar=False) if Z.shape[1] > 1 else np.ones((1, 1))
    corr = np.atleast_2d(corr)
    off = between_units(np.abs(corr - np.eye(len(corr))), owner)
    largest = float(off.max()) if len(corr) > 1 else 0.0
    coded = reference_coded(Z, owner)
    Z, corr = Z[:, coded], corr[np.ix_(coded, coded)]
    singular = np.linalg.svd(Z / math.sqrt(len(Z)), compute_uv=False)
    condition = float(singular[0] / singular[-1]) if singular[-1] > 1e-12 else float("inf")
    vif = np.diag(np.linalg.pinv(corr))
    spread = 1.96 / math.sqrt(max(n - 3, 1))
    lower = np.tanh(np.maximum(np.arctanh(np.minimum(off, 1 - 1e-12)) - spread, 0.0))
    first, second = np.nonzero(lower > _CORRELATED)
    strong = np.zeros((len(columns), len(columns)), dtype=bool)
    strong[owner[first], owner[second]] = True
    n_groups, label = connected_components(strong, directed=False)
    names = list(columns)
    groups = [[names[i] for i in np.flatnonzero(label == g)] for g in range(n_groups)]
    groups = [g for g in groups if len(g) > 1]
    in_groups = sum(len(g) for g in groups)
    ratio = Z.shape[1] / n
    independent = (1 + math.sqrt(ratio)) / (1 - math.sqrt(ratio)) if ratio < 1 else float("inf")
    ill_conditioned = bool(ratio < 1 and condition > max(1e3, 10 * independent))
    word = "columns" if table else "features"
    reading = (
        f"Largest |r| between two {word} is {largest:.2f}; {len(groups)} group(s) of "
        f"{word} with |r| > {_CORRELATED} (95% sure at {n} rows) cover {in_groups} {word}; "
        f"condition number {condition:.3g}"
    )
    if ratio >= 1:
        reading += f" (no more rows than {word}: cannot tell conditioning at this size)"
    if groups or ill_conditioned:
        reading += f" → correlated {word}: L2 or elastic net (pure L1 picks one per group)."
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


#: A class rarer than this share of the rows makes accuracy misleading: predicting the
#: majority class alone scores at least 1 - share.
RARE_CLASS_SHARE = 0.2


def _class_balance(y: np.ndarray, classes: Sequence[Any] | None = None) -> Finding:
    """Class counts and shares; below :data:`RARE_CLASS_SHARE` the minority class is called
    rare, with its count, and accuracy is called out as misleading.

    Examples
    --------
    >>> _class_balance(np.array([0] * 47 + [1] * 3), ["no", "yes"]).reading[:52]
    'Rare class: yes has 3 of 50 rows (6.0%); no has 47 ('
    """
    counts = np.bincount(y)
    shares = counts / counts.sum()
    labels = [str(c) for c in (classes or range(len(counts)))][: len(counts)]
    present = np.flatnonzero(counts)
    minority = int(present[np.argmin(counts[present])])
    majority = int(np.argmax(counts))
    ratio = float(counts.max() / max(counts[present].min(), 1))
    details = {
        "shares": shares.round(4).tolist(),
        "counts": counts.tolist(),
        "classes": labels,
        "minority_class": labels[minority],
        "minority_share": round(float(shares[minority]), 4),
        "rare": bool(shares[minority] < RARE_CLASS_SHARE),
    }
    if details["rare"]:
        reading = (
            f"Rare class: {labels[minority]} has {counts[minority]} of {counts.sum()} rows "
            f"({shares[minority]:.1%}); {labels[majority]} has {counts[majority]} "
            f"({shares[majority]:.1%}) (ratio {format_ratio(ratio)}) → predicting the majority "
            f"class scores {shares[majority]:.1%} accuracy: judge by balanced accuracy, ROC AUC "
            "or log loss, and try class weighting."
        )
        return Finding("class_balance", ratio, reading, details)
    reading = (
        f"Class shares range from {shares[present].min():.1%} to {shares.max():.1%} "
        f"(ratio {format_ratio(ratio)})"
    )
    reading += " → imbalanced: watch F1 rather than accuracy." if ratio > 3 else "."
    return Finding("class_balance", ratio, reading, details)
