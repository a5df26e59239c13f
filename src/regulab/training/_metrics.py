"""Losses and metrics computed on stacked scores of shape (members, samples, outputs)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from regulab.stats import HIGHER_IS_BETTER, LOWER_IS_BETTER

__all__ = [
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


def member_losses(scores: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean loss of each member: scores (K, B, C), targets (K, B) -> (K,)."""
    members, batch = scores.shape[0], scores.shape[1]
    if kind == "multiclass":
        flat = F.cross_entropy(
            scores.reshape(members * batch, -1), targets.reshape(-1), reduction="none"
        )
        return flat.view(members, batch).mean(1)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(
            scores.squeeze(-1), targets.to(scores.dtype), reduction="none"
        ).mean(1)
    return regression_losses(scores, targets).mean(1)


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


def _f1_macro(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> float:
    confusion = np.bincount(truth * n_classes + pred, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes)
    tp = np.diag(confusion).astype(float)
    denom = confusion.sum(0) + confusion.sum(1)
    present = confusion.sum(1) > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[present].mean()) if present.any() else 0.0


@torch.no_grad()
def member_metrics(
    scores: torch.Tensor, targets: torch.Tensor, kind: str
) -> list[dict[str, float]]:
    """Loss and metrics per member: scores (K, N, C), targets (N,) -> K dicts."""
    members = scores.shape[0]
    expanded = targets.unsqueeze(0).expand(members, *targets.shape)
    losses = member_losses(scores, expanded, kind).cpu().numpy()
    results = []
    truth = targets.cpu().numpy()
    for k in range(members):
        record = {"loss": float(losses[k])}
        member_scores = scores[k].float().cpu().numpy()
        if kind == "regression":
            error = member_scores.reshape(len(truth), -1) - truth.reshape(len(truth), -1)
            mse = float(np.mean(error**2))
            variance = float(np.var(truth))
            record.update(
                mse=mse,
                mae=float(np.mean(np.abs(error))),
                r2=1.0 - mse / variance if variance > 0 else 0.0,
            )
        else:
            if kind == "binary":
                pred = (member_scores[:, 0] > 0).astype(np.int64)
                n_classes = 2
            else:
                pred = member_scores.argmax(1)
                n_classes = member_scores.shape[1]
            record["accuracy"] = float(np.mean(pred == truth))
            record["f1_macro"] = _f1_macro(pred, truth.astype(np.int64), n_classes)
            if kind == "binary":
                finite = np.isfinite(member_scores[:, 0]).all()
                two_classes = len(np.unique(truth)) == 2
                record["roc_auc"] = (
                    float(roc_auc_score(truth, member_scores[:, 0]))
                    if finite and two_classes
                    else float("nan")
                )
        results.append(record)
    return results
