"""Losses and metrics computed on stacked scores of shape (members, samples, outputs).

The metrics are scikit-learn's (``sklearn.metrics``), so a figure here means what it means
there. Those scored every epoch (accuracy, F1 macro, binary ROC AUC, MSE, MAE, R^2) are the
same formulas in plain NumPy, tested equal to scikit-learn's: its per-call input checks cost
milliseconds, more than the epoch itself on small data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.utils.class_weight import compute_class_weight

from regulab.errors import InvalidParameterError
from regulab.stats import HIGHER_IS_BETTER, LOWER_IS_BETTER

__all__ = [
    "CLASS_WEIGHTS",
    "class_weights",
    "member_losses",
    "regression_losses",
    "member_metrics",
    "metric_names",
    "LOWER_IS_BETTER",
    "HIGHER_IS_BETTER",
]


def head_kind(task: str, n_outputs: int) -> str:
    """``"multiclass"``, ``"binary"`` or ``"regression"``."""
    if task == "regression":
        return "regression"
    return "binary" if n_outputs == 1 else "multiclass"


def member_losses(
    scores: torch.Tensor,
    targets: torch.Tensor,
    kind: str,
    class_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean loss of each member: scores (K, B, C), targets (K, B) -> (K,).

    ``class_weight`` (one weight per class, from :func:`class_weights`) makes it the
    weighted mean ``sum_i w[y_i] loss_i / sum_i w[y_i]``: what
    ``torch.nn.functional.cross_entropy(weight=w)`` computes, and the same normalisation
    for a one-logit binary head."""
    members, batch = scores.shape[0], scores.shape[1]
    if kind == "multiclass":
        flat = F.cross_entropy(
            scores.reshape(members * batch, -1), targets.reshape(-1), reduction="none"
        )
        return weighted_mean(flat.view(members, batch), targets, class_weight)
    if kind == "binary":
        losses = F.binary_cross_entropy_with_logits(
            scores.squeeze(-1), targets.to(scores.dtype), reduction="none"
        )
        return weighted_mean(losses, targets, class_weight)
    return regression_losses(scores, targets).mean(1)


def weighted_mean(
    losses: torch.Tensor, targets: torch.Tensor, class_weight: torch.Tensor | None
) -> torch.Tensor:
    """Mean of per-sample ``losses`` over the last axis, each weighted by its class's
    weight when ``class_weight`` is given (the plain mean when None)."""
    if class_weight is None:
        return losses.mean(-1)
    weights = class_weight[targets]
    return (losses * weights).sum(-1) / weights.sum(-1)


CLASS_WEIGHTS = ("balanced",)


def class_weights(class_weight: str | None, y: torch.Tensor, task: str) -> torch.Tensor | None:
    """Per-class loss weights from the training targets ``y`` (class codes), or None.

    ``"balanced"`` is scikit-learn's ``compute_class_weight("balanced")``:
    ``n_samples / (n_classes * count)`` over the classes present in ``y``; a class code
    absent from ``y`` (it weighs no training row) gets weight 1.

    Examples
    --------
    >>> class_weights("balanced", torch.tensor([0, 0, 0, 1]), "classification")
    tensor([0.6667, 2.0000])
    """
    if class_weight is None:
        return None
    if class_weight not in CLASS_WEIGHTS:
        raise InvalidParameterError(
            f"The 'class_weight' parameter must be None or 'balanced'. Got {class_weight!r} "
            "instead."
        )
    if task == "regression":
        raise InvalidParameterError(
            "class_weight='balanced' weights classes, but the task is regression; leave "
            "class_weight as None."
        )
    labels = y.cpu().numpy()
    present = np.unique(labels)
    weights = np.ones(int(present.max()) + 1)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return torch.as_tensor(weights, dtype=torch.float32, device=y.device)


def regression_losses(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error per member and target column: scores (K, B, C) -> (K, C)."""
    members, batch = scores.shape[0], scores.shape[1]
    return (scores - targets.view(members, batch, -1)).pow(2).mean(1)


def metric_names(kind: str) -> list[str]:
    """Names of the metrics :func:`member_metrics` returns for a head kind."""
    if kind == "regression":
        return ["mse", "mae", "r2"]
    if kind == "binary":
        return ["accuracy", "f1_macro", "roc_auc"]
    return ["accuracy", "f1_macro"]


@torch.no_grad()
def member_metrics(
    scores: torch.Tensor, targets: torch.Tensor, kind: str, *, full: bool = False
) -> list[dict[str, float]]:
    """Loss and metrics per member: scores (K, N, C), targets (N,) -> K dicts.

    Those of :func:`metric_names` (cheap enough for every epoch); ``full`` adds
    ``balanced_accuracy`` and, for several classes, ``roc_auc`` (one-vs-rest macro), as a
    run's returned weights are scored."""
    members = scores.shape[0]
    expanded = targets.unsqueeze(0).expand(members, *targets.shape)
    losses = member_losses(scores, expanded, kind).cpu().numpy()
    results = []
    truth = targets.cpu().numpy()
    for k in range(members):
        record = {"loss": float(losses[k])}
        member_scores = scores[k].float().cpu().numpy()
        if kind == "regression":
            predicted = member_scores.reshape(truth.shape)
            if not np.isfinite(predicted).all():
                record.update(mse=math.nan, mae=math.nan, r2=math.nan)
            else:
                record.update(_regression_metrics(truth, predicted))
        else:
            if kind == "binary":
                pred = (member_scores[:, 0] > 0).astype(np.int64)
            else:
                pred = member_scores.argmax(1)
            record["accuracy"] = float(np.mean(truth == pred))
            if full:
                record["balanced_accuracy"] = float(balanced_accuracy_score(truth, pred))
            record["f1_macro"] = _f1_macro(truth, pred)
            if full or kind == "binary":
                record["roc_auc"] = _roc_auc(truth, member_scores, kind)
        results.append(record)
    return results


def _regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """scikit-learn's ``mean_squared_error``, ``mean_absolute_error`` and ``r2_score``
    (uniform average over target columns; R^2 of a constant column is 1 when predicted
    exactly, else 0; NaN under two rows).

    Examples
    --------
    >>> metrics = _regression_metrics(np.array([3.0, -0.5, 2, 7]), np.array([2.5, 0.0, 2, 8]))
    >>> {name: round(value, 4) for name, value in metrics.items()}
    {'mse': 0.375, 'mae': 0.5, 'r2': 0.9486}
    """
    errors = truth - predicted
    record = {"mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors)))}
    if len(truth) < 2:
        return {**record, "r2": math.nan}
    residual = np.sum(errors**2, axis=0)
    total = np.sum((truth - np.mean(truth, axis=0)) ** 2, axis=0)
    scores = np.where(residual == 0, 1.0, 0.0)
    explained = (residual != 0) & (total != 0)
    scores[explained] = 1 - residual[explained] / total[explained]
    return {**record, "r2": float(np.mean(scores))}


def _f1_macro(truth: np.ndarray, pred: np.ndarray) -> float:
    """scikit-learn's ``f1_score(average="macro", zero_division=0)``: the mean over the
    labels found in ``truth`` or ``pred`` of ``2 tp / (2 tp + fp + fn)``.

    Examples
    --------
    >>> round(_f1_macro(np.array([0, 1, 2, 0]), np.array([0, 2, 2, 0])), 4)
    0.5556
    """
    labels, codes = np.unique(np.concatenate([truth, pred]), return_inverse=True)
    true_codes, pred_codes = codes[: len(truth)], codes[len(truth) :]
    hits = np.bincount(true_codes[true_codes == pred_codes], minlength=len(labels))
    counts = np.bincount(true_codes, minlength=len(labels))
    counts += np.bincount(pred_codes, minlength=len(labels))
    return float(np.mean(2 * hits / counts))


def _binary_roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's ``roc_auc_score`` for two classes (the larger label positive), as the
    Mann-Whitney statistic: the share of (positive, negative) pairs ranked in order, ties
    counting half.

    Examples
    --------
    >>> _binary_roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    values, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # ties share their mean rank
    positive = truth == truth.max()
    n_pos = int(positive.sum())
    n_neg = len(truth) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(truth: np.ndarray, scores: np.ndarray, kind: str) -> float:
    """ROC AUC from scores (N, C): the positive class's score for two classes (one logit, or
    the second softmax probability), one-vs-rest macro over softmax probabilities for more;
    NaN where undefined (a class absent from ``truth``, or non-finite scores).

    Examples
    --------
    >>> _roc_auc(np.array([0, 1, 1]), np.array([[-1.0], [2.0], [0.5]]), "binary")
    1.0
    """
    classes = 2 if kind == "binary" else scores.shape[1]
    if not np.isfinite(scores).all() or len(np.unique(truth)) < classes:
        return math.nan
    if kind == "binary":
        return _binary_roc_auc(truth, scores[:, 0])
    shifted = np.exp(scores - scores.max(1, keepdims=True))
    proba = shifted / shifted.sum(1, keepdims=True)
    if classes == 2:
        return _binary_roc_auc(truth, proba[:, 1])
    return float(roc_auc_score(truth, proba, multi_class="ovr", average="macro"))
