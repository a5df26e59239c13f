"""The grid of penalty strengths a regularization path trains, strongest first.

How the strengths are chosen is kept apart from how a path is solved (:mod:`._paths`), the
way scikit-learn keeps ``_alpha_grid`` apart from ``enet_path``: a log-spaced grid from
``strength_max`` down to ``strength_max * ratio``, where ``strength_max`` for L1 and elastic
net starts from a gradient estimate (:func:`gradient_scale`) that the path then verifies.

Examples
--------
>>> [round(s, 6) for s in strength_grid(1.0, 1e-2, 3)]
[1.0, 0.1, 0.01]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from regulab.config import TrainConfig
from regulab.experiment._runner import DataBundle
from regulab.penalties import penalized_weights
from regulab.training import FitResult
from regulab.training._metrics import head_kind, member_losses

__all__ = [
    "L2_STRENGTH_MAX",
    "SPARSE_ENOUGH",
    "MAX_DOUBLINGS",
    "GRADIENT_BATCHES",
    "strength_grid",
    "gradient_scale",
    "first_zero_share",
    "verified_strength_max",
]

#: Default strongest L2 strength: the ``2 * l2 * w`` term then outweighs data gradients of
#: order 0.1-1 (standardized inputs), so the weights shrink to near zero.
L2_STRENGTH_MAX = 1.0
#: Share of exact zeros the first weight matrix must reach at ``strength_max``.
SPARSE_ENOUGH = 0.99
#: Doublings of the gradient-based estimate tried before giving up.
MAX_DOUBLINGS = 6
#: Minibatches averaged for the gradient-based estimate of ``strength_max``.
GRADIENT_BATCHES = 8


def strength_grid(strength_max: float, ratio: float, n_strengths: int) -> list[float]:
    """``n_strengths`` log-spaced strengths from ``strength_max`` down to ``strength_max * ratio``.

    The first entry is exactly ``strength_max``.
    """
    grid = np.geomspace(strength_max, strength_max * ratio, n_strengths)
    grid[0] = strength_max
    return [float(s) for s in grid]


def gradient_scale(base: TrainConfig, data: DataBundle, batch_size: int) -> float:
    """Mean over minibatches of max |dL/dW1| at the initial weights with W1 set to zero."""
    X = torch.from_numpy(np.asarray(data.X_train, dtype=np.float32))
    dtype = np.float32 if data.task == "regression" else np.int64
    y = torch.from_numpy(np.asarray(data.y_train).astype(dtype))
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    starts = range(0, min(len(X), GRADIENT_BATCHES * batch_size), batch_size)

    def scale(zero_first: bool) -> float:
        model = replace(base, seed=0, device="cpu").build_model(
            X.shape[1], data.n_outputs, data.task
        )
        model.eval()
        first = penalized_weights(model)[0][1]
        if zero_first:
            with torch.no_grad():
                first.zero_()
        kind = head_kind(data.task, model.architecture.sizes[-1])
        values = []
        for start in starts:
            index = order[start : start + batch_size]
            model.zero_grad()
            scores = model(X[index]).unsqueeze(0)
            member_losses(scores, y[index].unsqueeze(0), kind).sum().backward()
            assert first.grad is not None
            values.append(float(first.grad.abs().max()))
        return float(np.mean(values)) if values else 0.0

    value = scale(zero_first=True)
    if not (value > 0 and math.isfinite(value)):  # every unit dead at W1 = 0
        value = scale(zero_first=False)
    return value if value > 0 and math.isfinite(value) else 1e-3


def first_zero_share(result: FitResult) -> float:
    """Share of exact zeros in the first weight matrix of a trained model."""
    name = penalized_weights(result.model)[0][0]
    return float(result.sparsity.per_layer[name])


def verified_strength_max(
    estimate: float,
    grid_for: Callable[[float], list[float]],
    stored_share: Callable[[list[float]], float | None],
    train_first: Callable[[list[float]], list[FitResult]],
    epochs: int,
) -> tuple[float, dict[str, Any], list[FitResult] | None]:
    """The strongest strength of an L1 or elastic-net path, verified by training.

    Tries ``estimate * 2**k`` for ``k = 0..MAX_DOUBLINGS``: the first candidate whose path
    ``grid_for(candidate)`` is already stored is reused (only a verified strength is ever
    stored; ``stored_share`` gives its first point's smallest first-layer zero share, or None
    when not stored). Otherwise each candidate's first point is trained (``train_first``)
    until every seed's first weight matrix is at least :data:`SPARSE_ENOUGH` exact zeros; a
    RuntimeWarning says when even the last candidate is not enough (it is kept).

    Returns
    -------
    tuple
        ``(strength_max, rule, first_results)``: ``rule`` says how it was chosen
        (``source="computed"``, ``gradient_estimate``, ``doublings``,
        ``first_layer_zero_share``, and ``reused`` when found in the store);
        ``first_results`` are the verified first point's runs (None when reused).
    """
    rule: dict[str, Any] = {"source": "computed", "gradient_estimate": estimate}
    candidates = [estimate * 2.0**k for k in range(MAX_DOUBLINGS + 1)]
    for k, candidate in enumerate(candidates):
        share = stored_share(grid_for(candidate))
        if share is not None:
            rule.update(doublings=k, first_layer_zero_share=share, reused=True)
            return candidate, rule, None
    for k, candidate in enumerate(candidates):
        results = train_first(grid_for(candidate))
        share = min(first_zero_share(r) for r in results)
        rule.update(doublings=k, first_layer_zero_share=share)
        if share >= SPARSE_ENOUGH:
            return candidate, rule, results
    warnings.warn(
        f"regularization_path: even {candidates[-1]:.4g} ({2**MAX_DOUBLINGS} times "
        f"the gradient estimate {estimate:.4g}) left only {share:.0%} of the first layer at "
        f"zero after {epochs} epochs; pass strength_max or more epochs.",
        RuntimeWarning,
        stacklevel=3,
    )
    return candidates[-1], rule, results
