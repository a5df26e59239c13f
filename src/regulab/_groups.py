"""Group lasso on the first weight matrix: one original table column, one unit.

``feature_groups`` gives every encoded input column a group id (0..G-1 in first-appearance
order): the one-hot columns of one categorical share an id, a numeric column with missing
values shares one with its indicator. On the first weight matrix the L1 part of a penalty
becomes, per output unit ``h`` and group ``g``,

``l1 * sqrt(|g|) * ||W[h, g]||_2``

whose subgradient is ``l1 * sqrt(|g|) * W[h, g] / ||W[h, g]||`` (0 for a zero block) and
whose proximal step is the group soft-threshold
``W[h, g] <- W[h, g] * max(0, 1 - t * sqrt(|g|) / ||W[h, g]||)``. A group of one column is
exactly ``l1 * |w|``, its subgradient ``sign(w)``, its prox the element-wise soft-threshold.

The functions take the weight's input ``axis``; every other axis indexes output units (and
members of a stack), so ``(out, in)`` of ``nn.Linear`` is ``axis=1``, the stacked trainer's
``(in, out)`` is ``axis=0`` and a torch.func stack's ``(members, out, in)`` is ``axis=2``.

Examples
--------
>>> groups = FeatureGroups([0, 1, 1])
>>> w = torch.tensor([[-2.0, 3.0, 4.0]])
>>> group_direction(w, groups, axis=1)
tensor([[-1.0000,  0.8485,  1.1314]])
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from regulab.errors import InvalidParameterError

__all__ = [
    "FeatureGroups",
    "nontrivial_groups",
    "check_dense",
    "check_feature_groups",
    "group_ids",
    "table_group_ids",
    "group_direction",
    "group_norms",
    "group_term",
    "prox_group_l1_",
]


def check_feature_groups(values: Any, owner: str) -> list[int] | None:
    """``values`` as a list of group ids, or one error naming the bad entry and its range.

    Ids are ints from 0, numbered in order of first appearance: entry ``i`` lies in
    ``[0, m + 1]`` where ``m`` is the largest id before it (``-1`` at the start).

    Examples
    --------
    >>> check_feature_groups([0, 1, 1, 2], "L1")
    [0, 1, 1, 2]
    >>> check_feature_groups([0, 2], "L1")
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: The 'feature_groups[1]' parameter of L1 must be an \
int in the range [0, 1] (group ids 0..G-1 in first-appearance order). Got 2 instead.
    """
    if values is None:
        return None
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise InvalidParameterError(
            f"The 'feature_groups' parameter of {owner} must be a sequence of group ids, one "
            f"int per input column. Got {values!r} instead."
        )
    ids: list[int] = []
    top = -1
    for index, value in enumerate(values):
        integral = isinstance(value, int) and not isinstance(value, bool)
        if not integral or not 0 <= value <= top + 1:
            raise InvalidParameterError(
                f"The 'feature_groups[{index}]' parameter of {owner} must be an int in the "
                f"range [0, {top + 1}] (group ids 0..G-1 in first-appearance order). "
                f"Got {value!r} instead."
            )
        ids.append(int(value))
        top = max(top, int(value))
    return ids


def group_ids(groups: Mapping[str, Sequence[int]], n_features: int) -> list[int]:
    """One group id per encoded column from ``name -> column indices`` (a table's groups).

    Ids follow the columns' order (0..G-1 in first-appearance order); a column no group
    names is a group of its own. A column named twice, or out of ``[0, n_features)``, is an
    error.

    Examples
    --------
    >>> group_ids({"age": [0], "shelf": [1, 2, 3], "price": [4, 5]}, 6)
    [0, 1, 1, 1, 2, 2]
    >>> group_ids({"shelf": [2, 1]}, 4)
    [0, 1, 1, 2]
    """
    owner: dict[int, str] = {}
    for name, columns in groups.items():
        for column in columns:
            if not 0 <= int(column) < n_features:
                raise InvalidParameterError(
                    f"Group {name!r} names column {column}, outside the range "
                    f"[0, {n_features - 1}] of the {n_features} features."
                )
            if int(column) in owner:
                raise InvalidParameterError(
                    f"Column {column} is in two groups: {owner[int(column)]!r} and {name!r}."
                )
            owner[int(column)] = name
    numbering: dict[Any, int] = {}
    ids = []
    for column in range(n_features):
        key = ("group", owner[column]) if column in owner else ("column", column)
        ids.append(numbering.setdefault(key, len(numbering)))
    return ids


def table_group_ids(
    groups: Mapping[str, Sequence[int]] | None, n_features: int
) -> list[int] | None:
    """:func:`group_ids` of a table's groups when one has two or more columns, else None
    (every column its own group: plain element-wise L1, today's numbers).

    Examples
    --------
    >>> table_group_ids({"a": [0], "b": [1, 2]}, 3), table_group_ids({"a": [0]}, 2)
    ([0, 1, 1], None)
    """
    if not groups or all(len(columns) < 2 for columns in groups.values()):
        return None
    return group_ids(groups, n_features)


class FeatureGroups:
    """The index tensors of a ``feature_groups`` list, on one device.

    Parameters
    ----------
    ids : sequence of int
        The group id (0..G-1) of each input column.
    device : torch.device or str, optional
    weights : sequence of float, optional
        Each group's weight in the penalty; default ``sqrt(|g|)``. The exact solvers pass the
        weights of the whole table when they keep a subset of its columns (:meth:`columns`).

    Attributes
    ----------
    ids : tuple of int
        The group id of each input column.
    index : torch.Tensor
        ``ids`` as a long tensor.
    n_groups : int
    weights : torch.Tensor
        Each group's weight, ``(n_groups,)``, float64.
    scale : torch.Tensor
        The weight of each column's group, ``(inputs,)``, float64.
    first : torch.Tensor
        The first column of each group, ``(n_groups,)``.

    Examples
    --------
    >>> groups = FeatureGroups([0, 1, 1, 2])
    >>> groups.weights.tolist()
    [1.0, 1.4142135623730951, 1.0]
    >>> groups.columns(torch.tensor([False, True, True, True]))
    FeatureGroups(3 columns in 2 groups)
    """

    def __init__(
        self,
        ids: Sequence[int],
        device: torch.device | str | None = None,
        weights: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        self.ids = tuple(int(i) for i in ids)
        self.index = torch.tensor(self.ids, dtype=torch.long, device=device)
        self.n_groups = max(self.ids, default=-1) + 1
        sizes = torch.bincount(self.index, minlength=self.n_groups)
        if weights is None:
            weights = sizes.double().sqrt()
        self.weights = torch.as_tensor(weights, dtype=torch.float64).to(self.index.device)
        self.scale = self.weights.index_select(0, self.index)
        positions = torch.arange(len(self.ids), device=device)
        first = torch.full((self.n_groups,), len(self.ids), dtype=torch.long, device=device)
        self.first = first.scatter_reduce_(0, self.index, positions, "amin")
        self.nontrivial = bool((sizes > 1).any())

    def to(self, device: torch.device | str) -> FeatureGroups:
        """The same groups with their tensors on ``device``."""
        return FeatureGroups(self.ids, device, self.weights)

    def columns(self, keep: torch.Tensor) -> FeatureGroups:
        """The groups of the columns ``keep`` (a boolean mask), renumbered 0..G'-1 in the
        same order; each group keeps its weight (a screened-out column does not change the
        penalty of the columns left)."""
        present, ids = torch.unique(self.index[keep.to(self.index.device)], return_inverse=True)
        return FeatureGroups(ids.tolist(), self.index.device, self.weights[present])

    def whole(self, keep: torch.Tensor) -> torch.Tensor:
        """``keep`` widened to whole groups (a column is kept when any of its group is)."""
        hit = torch.zeros(self.n_groups, dtype=torch.bool, device=self.index.device)
        hit[self.index[keep]] = True
        return hit[self.index]

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FeatureGroups)
            and self.ids == other.ids
            and torch.equal(self.weights.cpu(), other.weights.cpu())
        )

    def __hash__(self) -> int:
        return hash(self.ids)

    def __repr__(self) -> str:
        return f"FeatureGroups({len(self.ids)} columns in {self.n_groups} groups)"


def nontrivial_groups(
    ids: Sequence[int] | None, device: torch.device | str | None = None
) -> FeatureGroups | None:
    """:class:`FeatureGroups` of ``ids`` on ``device`` when some group has two or more
    columns, else None (element-wise L1 is the same and faster); cached, since a loss term
    built in the user's own loop asks for them at every step.

    Examples
    --------
    >>> nontrivial_groups([0, 1, 1]), nontrivial_groups([0, 1, 2])
    (FeatureGroups(3 columns in 2 groups), None)
    """
    if ids is None:
        return None
    return _cached_groups(tuple(ids), None if device is None else str(device))


@functools.lru_cache(maxsize=32)
def _cached_groups(ids: tuple[int, ...], device: str | None) -> FeatureGroups | None:
    groups = FeatureGroups(ids, device)
    return groups if groups.nontrivial else None


def check_dense(weight: torch.Tensor) -> None:
    """Groups need a dense first layer: a weight of shape ``(out, in)``."""
    if weight.ndim != 2:
        raise InvalidParameterError(
            "'feature_groups' needs a dense first layer (a weight of shape (out, in)); "
            f"the model's first weight has shape {tuple(weight.shape)}."
        )


def _along(values: torch.Tensor, axis: int, like: torch.Tensor) -> torch.Tensor:
    """A ``(n,)`` tensor viewed to broadcast along ``like``'s ``axis``."""
    shape = [1] * like.ndim
    shape[axis] = -1
    return values.to(like.dtype).view(shape)


def _block_sums(values: torch.Tensor, groups: FeatureGroups, axis: int) -> torch.Tensor:
    """Sums of ``values`` over each group's columns: ``axis`` shrinks to ``n_groups``."""
    shape = list(values.shape)
    shape[axis] = groups.n_groups
    sums = torch.zeros(shape, dtype=values.dtype, device=values.device)
    return sums.index_add_(axis, groups.index, values)


def group_norms(weight: torch.Tensor, groups: FeatureGroups, axis: int) -> torch.Tensor:
    """``||W[h, g]||_2`` for every unit and group (``axis`` becomes the group axis).

    Differentiable, with gradient 0 (not NaN) at a zero block: the subgradient the
    trainers use.

    Examples
    --------
    >>> group_norms(torch.tensor([[3.0, 4.0, 0.0]]), FeatureGroups([0, 0, 1]), axis=1)
    tensor([[5., 0.]])
    """
    squares = _block_sums(weight.pow(2), groups, axis)
    if not squares.requires_grad:  # no gradient to guard: the plain root
        return squares.sqrt_()
    positive = squares > 0
    return torch.where(positive, torch.where(positive, squares, 1.0).sqrt(), 0.0)


def _column_norms(weight: torch.Tensor, groups: FeatureGroups, axis: int) -> torch.Tensor:
    """Each entry's block norm, shaped like ``weight``."""
    return group_norms(weight, groups, axis).index_select(axis, groups.index)


def group_term(
    weight: torch.Tensor,
    coefficient: float | torch.Tensor,
    groups: FeatureGroups,
    axis: int,
) -> torch.Tensor:
    """``sum_h sum_g c_g * sqrt(|g|) * ||W[h, g]||`` as a differentiable scalar.

    ``coefficient`` is a float or per-column factors ``(inputs,)`` (equal within a group;
    the group's first column gives ``c_g``).

    Examples
    --------
    >>> w = torch.tensor([[3.0, 4.0, -1.0]])
    >>> round(float(group_term(w, 0.5, FeatureGroups([0, 0, 1]), axis=1)), 4)  # 0.5*(5*sqrt(2)+1)
    4.0355
    """
    norms = group_norms(weight, groups, axis)
    scale = _along(groups.scale.index_select(0, groups.first), axis, norms)
    if isinstance(coefficient, torch.Tensor):
        coefficient = _along(coefficient.reshape(-1).index_select(0, groups.first), axis, norms)
    return (norms * scale * coefficient).sum()


@torch.no_grad()
def group_direction(weight: torch.Tensor, groups: FeatureGroups, axis: int) -> torch.Tensor:
    """The group term's subgradient per unit strength, shaped like ``weight``:
    ``sqrt(|g|) * W[h, g] / ||W[h, g]||``, 0 in a zero block (``sign(w)`` for a group of one).
    """
    norms = _column_norms(weight, groups, axis)
    scale = _along(groups.scale, axis, weight)
    return torch.where(norms > 0, weight * scale / torch.where(norms > 0, norms, 1.0), 0.0)


@torch.no_grad()
def prox_group_l1_(
    weight: torch.Tensor,
    threshold: float | torch.Tensor,
    groups: FeatureGroups,
    axis: int = 1,
) -> torch.Tensor:
    """Group soft-threshold in place: ``W[h, g] *= max(0, 1 - t * sqrt(|g|) / ||W[h, g]||)``.

    A block whose norm is at most ``t * sqrt(|g|)`` becomes exactly zero; any other shrinks
    towards zero along its own direction. ``threshold`` is a float or a tensor that
    broadcasts against ``weight`` (per-column factors, Adam's per-weight thresholds); a
    block uses the mean of its entries' thresholds. A group of one column is
    :func:`regulab.penalties.prox_l1_`.

    Examples
    --------
    >>> w = torch.tensor([[3.0, 4.0, 0.5]])
    >>> prox_group_l1_(w, 1.0, FeatureGroups([0, 0, 1]))  # 5 > sqrt(2): shrink; 0.5 <= 1: zero
    tensor([[2.1515, 2.8686, 0.0000]])
    """
    if isinstance(threshold, torch.Tensor):
        full = threshold.to(weight.dtype).expand_as(weight)
        counts = _block_sums(torch.ones_like(weight), groups, axis)
        mean = _block_sums(full, groups, axis).div_(counts.clamp_(min=1.0))
        bound: float | torch.Tensor = mean.index_select(axis, groups.index)
    else:
        bound = float(threshold)
    norms = _column_norms(weight, groups, axis)
    scale = _along(groups.scale, axis, weight)
    safe = torch.where(norms > 0, norms, 1.0)
    shrink = torch.where(norms > 0, (1.0 - bound * scale / safe).clamp_(min=0.0), 0.0)
    return weight.mul_(shrink)
