"""Predictions and test metrics for a trained model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from regulab.custom import recipe
from regulab.models import MLP
from regulab.training._common import _features, _targets
from regulab.training._generic import infer_task, module_inputs, module_scores
from regulab.training._metrics import head_kind, member_metrics

__all__ = ["predict_scores", "predict", "predict_proba", "evaluate"]


@torch.no_grad()
def predict_scores(model: nn.Module, X: Any, chunk: int = 8192) -> torch.Tensor:
    """Raw scores (logits or values) in eval mode, on the CPU.

    Examples
    --------
    >>> predict_scores(MLP("3-2", seed=0), np.zeros((4, 3), "float32")).shape
    torch.Size([4, 2])
    """
    device = next(model.parameters()).device
    if not isinstance(model, MLP):  # any module: inputs of any shape
        return module_scores(model, module_inputs(X, "X", device), chunk).cpu()
    features = _features(X, "X", device)
    was_training = model.training
    model.eval()
    scores = torch.cat([model(features[i : i + chunk]) for i in range(0, len(features), chunk)])
    model.train(was_training)
    return scores.cpu()


def _task(model: nn.Module, task: str | None) -> str:
    if isinstance(model, MLP):
        return model.architecture.task
    return task or (recipe(model) or {}).get("task") or "classification"


def predict_proba(model: nn.Module, X: Any) -> np.ndarray:
    """Class probabilities (n, classes) of a classification model."""
    scores = predict_scores(model, X)
    if scores.shape[1] == 1:
        positive = torch.sigmoid(scores[:, 0])
        return torch.stack([1 - positive, positive], dim=1).numpy()
    return torch.softmax(scores, dim=1).numpy()


def predict(model: nn.Module, X: Any, *, task: str | None = None) -> np.ndarray:
    """Class codes for classification, values for regression.

    ``task`` is needed only for a regression module other than Regulab's ``MLP`` or a
    module built by :func:`regulab.custom.build_model` (which carry their task); other
    modules default to classification.
    """
    scores = predict_scores(model, X)
    if _task(model, task) == "regression":
        return scores.squeeze(1).numpy() if scores.shape[1] == 1 else scores.numpy()
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).long().numpy()
    return scores.argmax(1).numpy()


def evaluate(model: nn.Module, X: Any, y: Any, *, task: str | None = None) -> dict[str, float]:
    """Loss and metrics on a data set (accuracy, balanced accuracy, F1 macro, ROC AUC, or
    MSE/MAE/R^2).

    For a module other than Regulab's ``MLP``, ``task`` defaults to what ``y`` suggests
    (integer targets: classification).

    Examples
    --------
    >>> sorted(evaluate(MLP("3-2", seed=0), np.zeros((4, 3), "float32"), [0, 1, 0, 1]))
    ['accuracy', 'balanced_accuracy', 'f1_macro', 'loss', 'roc_auc']
    """
    scores = predict_scores(model, X)
    task = _task(model, task or infer_task(np.asarray(y)))
    targets = _targets(y, task, len(scores), "y", torch.device("cpu"))
    kind = head_kind(task, scores.shape[1])
    return member_metrics(scores.unsqueeze(0), targets, kind, full=True)[0]
