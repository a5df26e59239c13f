"""The majority-class baseline: scikit-learn's ``DummyClassifier(strategy="prior")`` (the
training rows' class shares for every row) or ``DummyRegressor`` (their mean), fitted on
each fold's training rows and scored with the same metrics as every run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.dummy import DummyClassifier, DummyRegressor

from regulab.advise._metric import Metric
from regulab.experiment import RunRecord, mean_ci
from regulab.experiment._runner import DataBundle
from regulab.training._metrics import head_kind, member_metrics

__all__ = ["majority_metrics", "baseline_block", "MAJORITY_NOTE"]

#: How the advice begins when no config beats the majority-class baseline.
MAJORITY_NOTE = "No model beats predicting the majority class here"


def majority_metrics(bundle: DataBundle) -> dict[str, float]:
    """``val_*`` and ``test_*`` metrics of the baseline fitted on ``bundle``'s training rows.

    Examples
    --------
    >>> from regulab.experiment._runner import DataBundle
    >>> X, y = np.zeros((10, 2), "float32"), np.array([0] * 8 + [1] * 2)
    >>> bundle = DataBundle(X_train=X, y_train=y, X_val=X, y_val=y, X_test=X, y_test=y,
    ...                     task="classification", n_outputs=1, feature_names=("a", "b"),
    ...                     fingerprint="fp")
    >>> metrics = majority_metrics(bundle)
    >>> metrics["val_accuracy"], metrics["val_balanced_accuracy"], metrics["val_roc_auc"]
    (0.8, 0.5, 0.5)
    """
    kind = head_kind(bundle.task, bundle.n_outputs)
    result: dict[str, float] = {}
    for part, X, y in (("val", bundle.X_val, bundle.y_val), ("test", bundle.X_test, bundle.y_test)):
        if len(y) == 0:
            continue
        scores = _scores(bundle, kind, X)
        metrics = member_metrics(
            torch.as_tensor(scores)[None], torch.as_tensor(y), kind, full=True
        )[0]
        result.update({f"{part}_{name}": value for name, value in metrics.items()})
    return result


def _scores(bundle: DataBundle, kind: str, X: np.ndarray) -> np.ndarray:
    """The baseline's scores in the runs' output layout (logits, or values)."""
    if kind == "regression":
        regressor = DummyRegressor(strategy="mean").fit(bundle.X_train, bundle.y_train)
        return np.asarray(regressor.predict(X), np.float32).reshape(len(X), -1)
    classifier = DummyClassifier(strategy="prior").fit(bundle.X_train, bundle.y_train)
    columns = max(bundle.n_outputs, 2)
    proba = np.full((len(X), columns), 1e-12)
    proba[:, classifier.classes_] = classifier.predict_proba(X)
    logits = np.log(np.clip(proba, 1e-12, 1.0))
    if kind == "binary":
        return (logits[:, 1] - logits[:, 0]).reshape(-1, 1).astype(np.float32)
    return logits.astype(np.float32)


def baseline_block(
    records: Sequence[RunRecord],
    baselines: Mapping[str, dict[str, float]],
    chosen: str,
    metric: Metric,
    test_metric: str,
    task: str,
) -> dict[str, Any]:
    """The ``baseline`` block of the advice: the majority-class baseline on the chosen
    config's folds (or seeds) paired with it, and whether the chosen config beats it.

    The chosen config beats the baseline when the mean paired improvement on the selection
    ``metric`` is larger than its standard error (one SE, as the choice itself).
    """
    runs = [r for r in records if r.config_name == chosen and r.data_fingerprint in baselines]
    paired = [(r, baselines[r.data_fingerprint]) for r in runs]
    keys = [metric.key, test_metric, "val_accuracy", "test_accuracy"]
    means = {
        key: _finite(np.mean([b.get(key, np.nan) for _, b in paired])) if paired else None
        for key in dict.fromkeys(keys)
    }
    sign = 1.0 if metric.higher else -1.0
    improvements = [
        sign * (r.metrics.get(metric.key, np.nan) - b.get(metric.key, np.nan)) for r, b in paired
    ]
    mean, _, se = mean_ci(improvements) if improvements else (np.nan, np.nan, np.nan)
    beats = bool(np.isfinite(mean) and mean > (se if np.isfinite(se) else 0.0))
    return {
        "strategy": "prior" if task == "classification" else "mean",
        "metrics": means,
        "selection_metric": metric.key,
        "improvement_mean": _finite(mean),
        "improvement_se": _finite(se),
        "beaten": beats,
    }


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
