"""Column groups of the group lasso: block norms, the group soft-threshold and the KKT test.

With ``feature_groups`` (one group id per column, see ``regulab.penalties.group_ids``), the L1
part of the penalty becomes ``l1 * sum_h sum_g sqrt(|g|) * ||W[h, g]||_2``: a group lasso per
output row ``h``. A group of one column is ``l1 * |w|``, the element-wise L1. Its optimality
(KKT) conditions, with ``G = dLoss/dW[h, g]`` and ``c = l1 * sqrt(|g|)``:

- a zero block: ``||G|| <= c``; its violation is ``max(0, ||G|| - c)``;
- a nonzero block: ``G + c * W[h, g] / ||W[h, g]|| = 0``; its violation is that vector's norm.

The solvers stop when the largest violation (and the largest intercept gradient) is at most
``tol``: for singletons it is the element-wise test of the L1 solvers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from regulab.errors import InvalidParameterError


class Groups:
    """Column groups on one device: ``ids`` (one per column, ``0..G-1``) and the weights
    ``sqrt(|g|)`` of the groups (kept when columns are screened out).

    Examples
    --------
    >>> groups = Groups(torch.tensor([0, 0, 1]), torch.tensor([2.0, 1.0]).sqrt())
    >>> groups.norms(torch.tensor([[3.0, 4.0, -2.0]])).tolist()
    [[5.0, 2.0]]
    """

    def __init__(self, ids: torch.Tensor, weights: torch.Tensor) -> None:
        self.ids = ids
        self.weights = weights

    @property
    def count(self) -> int:
        return len(self.weights)

    def norms(self, W: torch.Tensor) -> torch.Tensor:
        """Block norms ``||W[h, g]||`` of shape ``(K, G)``."""
        squares = torch.zeros(W.shape[0], self.count, dtype=W.dtype, device=W.device)
        return squares.index_add_(1, self.ids, W * W).sqrt_()

    def penalty(self, W: torch.Tensor) -> torch.Tensor:
        """``sum_h sum_g sqrt(|g|) * ||W[h, g]||`` (times ``l1``, the group lasso term)."""
        return (self.norms(W) * self.weights.to(W.dtype)).sum()

    def prox(self, W: torch.Tensor, threshold: float) -> torch.Tensor:
        """Group soft-threshold: ``W[h, g] * max(0, 1 - threshold * sqrt|g| / ||W[h, g]||)``."""
        norms = self.norms(W)
        cut = threshold * self.weights.to(W.dtype)
        factor = torch.clamp(1.0 - cut / torch.clamp(norms, min=1e-300), min=0.0)
        return W * factor[:, self.ids]

    def violation(self, W: torch.Tensor, grad: torch.Tensor, l1: float) -> torch.Tensor:
        """Each block's KKT violation (module docstring), shape ``(K, G)``."""
        norms = self.norms(W)
        cut = l1 * self.weights.to(W.dtype)
        unit = W / torch.clamp(norms, min=1e-300)[:, self.ids]
        moved = self.norms(grad + cut[self.ids] * unit)
        return torch.where(norms > 0, moved, torch.clamp(self.norms(grad) - cut, min=0.0))

    def excess(self, grad: torch.Tensor, level: float) -> torch.Tensor:
        """Per column: ``max_h ||grad[h, g]|| - level * sqrt|g|`` of its group ``g``."""
        over = self.norms(grad) - level * self.weights.to(grad.dtype)
        return over.max(0).values[self.ids]

    def scaled_max(self, grad: torch.Tensor) -> float:
        """``max_{h,g} ||grad[h, g]|| / sqrt|g|``: the smallest ``l1`` at which zero weights
        satisfy the KKT conditions."""
        if self.count == 0:
            return 0.0
        return float((self.norms(grad) / self.weights.to(grad.dtype)).max())

    def whole(self, keep: torch.Tensor) -> torch.Tensor:
        """``keep`` widened to whole groups (a column is kept when any of its group is)."""
        hit = torch.zeros(self.count, dtype=torch.bool, device=keep.device)
        hit[self.ids[keep]] = True
        return hit[self.ids]

    def columns(self, keep: torch.Tensor) -> Groups:
        """The groups of the columns ``keep`` (whole groups keep their weights)."""
        present, ids = torch.unique(self.ids[keep], return_inverse=True)
        return Groups(ids, self.weights[present])


def group_structure(
    groups: Sequence[int] | None,
    n_features: int,
    device: str | torch.device,
    dtype: torch.dtype,
    *,
    force: bool = False,
) -> Groups | None:
    """Validate one group id per column; None when every column is its own group (today's
    element-wise solvers), unless ``force`` (then singleton groups).

    Examples
    --------
    >>> group_structure([3, 3, 7], 3, "cpu", torch.float64).ids.tolist()
    [0, 0, 1]
    >>> group_structure(None, 3, "cpu", torch.float64) is None
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
    return Groups(
        torch.as_tensor(order[inverse], device=device),
        torch.as_tensor(np.sqrt(sizes[np.argsort(order)]), dtype=dtype, device=device),
    )
