"""Column groups of the group lasso: block norms, the group soft-threshold and the KKT test.

With ``feature_groups`` (one group id per column, see ``regulab.penalties.group_ids``), the L1
part of the penalty becomes ``l1 * sum_h sum_g sqrt(|g|) * ||W[h, g]||_2``: a group lasso per
output row ``h``. A group of one column is ``l1 * |w|``, the element-wise L1. Its optimality
(KKT) conditions, with ``G = dLoss/dW[h, g]`` and ``c = l1 * sqrt(|g|)``:

- a zero block: ``||G|| <= c``; its violation is ``max(0, ||G|| - c)``;
- a nonzero block: ``G + c * W[h, g] / ||W[h, g]|| = 0``; its violation is that vector's norm.

The solvers stop when the largest violation (and the largest intercept gradient) is at most
``tol``: for singletons it is the element-wise test of the L1 solvers. The groups, their block
norms, the term and its soft-threshold are the trainers' own (:mod:`regulab._groups`, with the
weight's input axis 1); this module adds what only an exact solver needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from regulab._groups import FeatureGroups, group_norms
from regulab.errors import InvalidParameterError


def block_violation(
    W: torch.Tensor, grad: torch.Tensor, l1: float, groups: FeatureGroups
) -> torch.Tensor:
    """Each block's KKT violation (module docstring), shape ``(K, G)``: below, the zero
    block's ``||G|| - 0.25 * sqrt(2)`` and the nonzero one's ``|-0.5 + 0.25|``.

    Examples
    --------
    >>> groups = FeatureGroups([0, 0, 1])
    >>> W, grad = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.3, 0.4, -0.5]])
    >>> [round(v, 4) for v in block_violation(W, grad, 0.25, groups)[0].tolist()]
    [0.1464, 0.25]
    """
    norms = group_norms(W, groups, axis=1)
    cut = l1 * groups.weights.to(W.dtype)
    unit = W / torch.clamp(norms, min=1e-300)[:, groups.index]
    moved = group_norms(grad + cut[groups.index] * unit, groups, axis=1)
    return torch.where(norms > 0, moved, torch.clamp(group_norms(grad, groups, 1) - cut, min=0.0))


def column_excess(grad: torch.Tensor, level: float, groups: FeatureGroups) -> torch.Tensor:
    """Per column: ``max_h ||grad[h, g]|| - level * sqrt|g|`` of its group ``g``."""
    over = group_norms(grad, groups, axis=1) - level * groups.weights.to(grad.dtype)
    return over.max(0).values[groups.index]


def scaled_max(grad: torch.Tensor, groups: FeatureGroups) -> float:
    """``max_{h,g} ||grad[h, g]|| / sqrt|g|``: the smallest ``l1`` at which zero weights
    satisfy the KKT conditions."""
    if groups.n_groups == 0:
        return 0.0
    return float((group_norms(grad, groups, axis=1) / groups.weights.to(grad.dtype)).max())


def group_structure(
    groups: Sequence[int] | None,
    n_features: int,
    device: str | torch.device,
    *,
    force: bool = False,
) -> FeatureGroups | None:
    """Validate one group id per column; None when every column is its own group (today's
    element-wise solvers), unless ``force`` (then singleton groups).

    Examples
    --------
    >>> group_structure([3, 3, 7], 3, "cpu").ids
    (0, 0, 1)
    >>> group_structure(None, 3, "cpu") is None
    True
    """
    if groups is None:
        ids = np.arange(n_features)
    else:
        ids = np.asarray(groups).reshape(-1)
        if len(ids) != n_features or (len(ids) and not np.issubdtype(ids.dtype, np.integer)):
            raise InvalidParameterError(
                f"'groups' must hold one integer group id per feature column ({n_features}). "
                f"Got {len(ids)} values of type {ids.dtype}."
            )
    _, first, inverse, sizes = np.unique(
        ids, return_index=True, return_inverse=True, return_counts=True
    )
    if len(sizes) == n_features and not force:
        return None
    order = np.argsort(np.argsort(first))  # ids 0..G-1 in first-appearance order
    return FeatureGroups(order[inverse].tolist(), device)
