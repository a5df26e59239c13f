"""Weight penalties: L1 (lasso), L2 (ridge), elastic net and decoupled weight decay.

Every penalty works on any ``torch.nn.Module``: call it to get the term to add to the loss,
or hand it to Regulab's trainer, which applies it much faster (closed-form gradients, proximal
steps) and can train several differently-penalized copies of one model at once.

Formulas (Keras' convention for L1/L2, scikit-learn/glmnet's for elastic net):

===================  ==========================================================
``L1(l1)``           ``l1 * sum(|w|)``
``L2(l2)``           ``l2 * sum(w ** 2)``
``ElasticNet(a, r)`` ``a * (r * sum(|w|) + (1 - r) / 2 * sum(w ** 2))``
``WeightDecay(wd)``  not a loss term: with each step ``w <- w - lr * wd * w``
L1 part, grouped     ``l1 * sum_h sum_g sqrt(|g|) * ||W[h, g]||_2`` on the first
                     weight matrix ``W`` (out, in) with ``feature_groups``
===================  ==========================================================

Coupled L2 versus decoupled decay under Adam: an L2 term enters the gradient, so Adam divides
it by the running gradient scale and heavily-updated weights are barely shrunk. Decoupled
decay (AdamW, Loshchilov & Hutter 2019) shrinks every weight by the same fraction
``lr * wd`` per step regardless of its gradient history. With plain SGD the two coincide
(``wd = 2 * l2``).

Biases and normalization parameters are excluded by default (``include_bias=True`` opts in).
``per_layer`` overrides the strength of chosen layers (index = order of weight matrices), and
``feature_factors`` scales the first layer's penalty per input feature like glmnet's
``penalty.factor``: 0 leaves a feature unpenalized, 1 is normal, >1 penalizes more (on a
convolution, per input channel).

``feature_groups`` (Regulab's own group lasso, for tables) gives each input feature a group
id, 0..G-1 in first-appearance order (:func:`group_ids` builds it from a table's
``name -> columns`` mapping): the one-hot columns of one categorical share an id. On the first
weight matrix, and there only, the L1 part of ``L1`` and ``ElasticNet`` then penalizes each
output unit's block of a group by its Euclidean norm (the table's last row), so a group's
columns leave the model together (``W[:, g]`` all zero). A group of one column is exactly
``l1 * |w|``: numeric data gives today's numbers. Feature factors must be equal within a
group; the group's factor multiplies its term. L2 and deeper layers are unchanged, and
penalties without an L1 part ignore the groups. For a linear model (one row per class or
target) this is the standard group lasso per class row.

``proximal=True`` on L1 or elastic net replaces the L1 subgradient by soft-thresholding after
each optimizer step, ``w <- sign(w) * max(|w| - t, 0)``, which produces exact zeros. The
threshold ``t`` is ``l1`` (gradient units) times the optimizer's step per unit of gradient
(weight units): ``lr * (1 - mu**t) / (1 - mu)`` for SGD with momentum ``mu`` after ``t``
steps, ``lr / (sqrt(v_hat) + eps)`` per weight for Adam, so a weight settles at zero where
``|dL/dw| <= l1`` whatever the optimizer (:func:`regulab.training._stack.prox_threshold`).
With ``feature_groups`` the step is the group soft-threshold
``W[h, g] <- W[h, g] * max(0, 1 - t * sqrt(|g|) / ||W[h, g]||)`` (:func:`prox_group_l1_`),
with ``t`` the block's mean threshold under Adam's per-weight thresholds.
Decoupled decay is applied just before each optimizer step, as ``torch.optim.AdamW`` does.

Examples
--------
>>> import torch
>>> from regulab.penalties import L1, L2
>>> model = torch.nn.Linear(3, 2)
>>> loss_term = L1(1e-3)(model) + L2(1e-4)(model)
>>> float(loss_term) > 0
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import nn

from regulab._groups import (
    FeatureGroups,
    check_dense,
    check_feature_groups,
    group_ids,
    group_term,
    nontrivial_groups,
    prox_group_l1_,
)
from regulab.errors import InvalidParameterError, check_range, did_you_mean

__all__ = [
    "Penalty",
    "L1",
    "L2",
    "ElasticNet",
    "WeightDecay",
    "LayerCoefficients",
    "penalized_weights",
    "resolve",
    "prox_l1_",
    "prox_group_l1_",
    "group_ids",
    "FeatureGroups",
    "describe",
    "sparsity",
    "SparsityReport",
    "get",
    "from_config",
]

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def penalized_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Return the model's weight tensors that penalties apply to, in layer order.

    These are the parameters with two or more dimensions outside normalization layers
    (the weights of ``Linear`` and ``Conv`` layers); their position is the layer index used
    by ``per_layer``.
    """
    norm_params = {
        id(p) for m in model.modules() if isinstance(m, _NORM_TYPES) for p in m.parameters()
    }
    return [
        (name, p)
        for name, p in model.named_parameters()
        if p.ndim >= 2 and id(p) not in norm_params
    ]


def _other_params(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    weights = {id(p) for _, p in penalized_weights(model)}
    return [(n, p) for n, p in model.named_parameters() if id(p) not in weights]


class Penalty:
    """Base class: a penalty with a strength, optional per-layer strengths and feature factors.

    Subclasses define :meth:`coefficients`, which reduces the penalty to an L1 coefficient, an
    L2 coefficient and a decoupled decay rate; everything else (the loss term, the audit, the
    trainer's fast path) is built on those three numbers.
    """

    name = "penalty"
    proximal = False

    def __init__(
        self,
        *,
        per_layer: Mapping[int, float] | None = None,
        feature_factors: Sequence[float] | None = None,
        feature_groups: Sequence[int] | None = None,
        include_bias: bool = False,
    ) -> None:
        try:
            self.per_layer = {int(k): float(v) for k, v in (per_layer or {}).items()}
        except (TypeError, ValueError, AttributeError) as error:
            raise InvalidParameterError(
                f"The 'per_layer' parameter of {type(self).__name__} must map layer indices "
                f"(ints, 0 = first weight matrix) to strengths. Got {per_layer!r} instead."
            ) from error
        for index, strength in self.per_layer.items():
            check_range(f"per_layer[{index}]", strength, low=0.0, owner=type(self).__name__)
        self.feature_factors = (
            None if feature_factors is None else [float(f) for f in feature_factors]
        )
        for index, factor in enumerate(self.feature_factors or []):
            check_range(f"feature_factors[{index}]", factor, low=0.0, owner=type(self).__name__)
        self.feature_groups = check_feature_groups(feature_groups, type(self).__name__)
        self._check_factors_per_group()
        self.include_bias = bool(include_bias)

    def _check_factors_per_group(self) -> None:
        """Feature factors, when given with groups, are one value per group."""
        factors, ids = self.feature_factors, self.feature_groups
        if factors is None or ids is None:
            return
        owner = type(self).__name__
        if len(factors) != len(ids):
            raise InvalidParameterError(
                f"The 'feature_groups' parameter of {owner} has {len(ids)} ids but "
                f"'feature_factors' has {len(factors)} values; give one of each per feature."
            )
        seen: dict[int, tuple[int, float]] = {}
        for column, (group, factor) in enumerate(zip(ids, factors)):
            first, value = seen.setdefault(group, (column, factor))
            if value != factor:
                raise InvalidParameterError(
                    f"The 'feature_factors' parameter of {owner} must be equal within a "
                    f"group: features {first} and {column} share group {group} but have "
                    f"factors {value} and {factor}."
                )

    # -- what subclasses define -------------------------------------------------------------
    def coefficients(self, strength: float) -> tuple[float, float, float]:
        """Return ``(l1, l2, decay)`` for a layer penalized with ``strength``."""
        raise NotImplementedError

    @property
    def strength(self) -> float:
        """The default strength applied to every layer not in ``per_layer``."""
        raise NotImplementedError

    def _own_config(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- shared behaviour -------------------------------------------------------------------
    def layer_strength(self, layer: int) -> float:
        """Strength for weight matrix number ``layer``."""
        return self.per_layer.get(layer, self.strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        """Return the penalty term for ``model`` (add it to the loss in your own loop).

        Decoupled weight decay has no loss term and returns zero.
        """
        weights = penalized_weights(model)
        total = torch.zeros((), device=weights[0][1].device if weights else None)
        groups = self._groups(weights[0][1]) if weights else None
        for layer, (_, w) in enumerate(weights):
            l1, l2, _ = self.coefficients(self.layer_strength(layer))
            scale = self._row_factors(w, layer)
            if l1 and not self.proximal and layer == 0 and groups is not None:
                total = total + l1 * group_term(w, scale, groups, axis=1)
            elif l1 and not self.proximal:
                total = total + l1 * (scale * w.abs()).sum()
            if l2:
                total = total + l2 * (scale * w.pow(2)).sum()
        if self.include_bias:
            for _, p in _other_params(model):
                l1, l2, _ = self.coefficients(self.strength)
                if l1 and not self.proximal:
                    total = total + l1 * p.abs().sum()
                if l2:
                    total = total + l2 * p.pow(2).sum()
        return total

    def _row_factors(self, weight: torch.Tensor, layer: int) -> torch.Tensor | float:
        if layer != 0 or self.feature_factors is None:
            return 1.0
        _check_width("feature_factors", self, len(self.feature_factors), weight.shape[1])
        factors = torch.tensor(self.feature_factors, dtype=weight.dtype, device=weight.device)
        # nn.Linear stores (out, in), nn.Conv* (out, in, *kernel): inputs are axis 1
        return factors.view(1, -1, *([1] * (weight.ndim - 2)))

    def _groups(self, weight: torch.Tensor) -> FeatureGroups | None:
        """The first layer's groups when some group has two or more features, else None."""
        if self.feature_groups is None:
            return None
        _check_width("feature_groups", self, len(self.feature_groups), weight.shape[1])
        groups = nontrivial_groups(self.feature_groups, weight.device)
        if groups is not None:
            check_dense(weight)
        return groups

    def get_config(self) -> dict[str, Any]:
        """Return JSON-safe constructor arguments; ``from_config`` rebuilds the penalty."""
        config = {"name": self.name, **self._own_config()}
        if self.proximal:
            config["proximal"] = True
        if self.per_layer:
            config["per_layer"] = {str(k): v for k, v in self.per_layer.items()}
        if self.feature_factors is not None:
            config["feature_factors"] = list(self.feature_factors)
        if self.feature_groups is not None:
            config["feature_groups"] = list(self.feature_groups)
        if self.include_bias:
            config["include_bias"] = True
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Penalty:
        """Rebuild a penalty from :meth:`get_config`'s output."""
        return from_config(config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Penalty) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(repr(self))


def _check_width(parameter: str, penalty: Penalty, count: int, n_inputs: int) -> None:
    if count != n_inputs:
        raise InvalidParameterError(
            f"The '{parameter}' parameter of {type(penalty).__name__} has {count} values but "
            f"the first layer has {n_inputs} inputs."
        )


class _OneCoefficient(Penalty):
    """A penalty whose strength is one of the three coefficients as it is: ``l1`` (L1),
    ``l2`` (L2) or ``decay`` (WeightDecay), stored under the parameter name ``_parameter``."""

    _parameter: ClassVar[str]
    _slot: ClassVar[int]  # position in ``(l1, l2, decay)``

    def _checked(self, strength: float) -> float:
        return float(check_range(self._parameter, strength, low=0.0, owner=type(self).__name__))

    @property
    def strength(self) -> float:
        return float(getattr(self, self._parameter))

    def coefficients(self, strength: float) -> tuple[float, float, float]:
        slots = [0.0, 0.0, 0.0]
        slots[self._slot] = strength
        return slots[0], slots[1], slots[2]

    def _own_config(self) -> dict[str, Any]:
        return {self._parameter: self.strength}


class L1(_OneCoefficient):
    """Lasso penalty ``l1 * sum(|w|)``; ``proximal=True`` gives exact zeros.

    Parameters
    ----------
    l1 : float, default=0.01
        Strength, >= 0.
    proximal : bool, default=False
        Soft-threshold after each step instead of adding the subgradient.
    per_layer, feature_factors, feature_groups, include_bias
        See the module documentation.

    Examples
    --------
    >>> L1(1e-4, proximal=True)
    L1(l1=0.0001, proximal=True)
    """

    name = "l1"
    _parameter = "l1"
    _slot = 0

    def __init__(self, l1: float = 0.01, *, proximal: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l1 = self._checked(l1)
        self.proximal = bool(proximal)


class L2(_OneCoefficient):
    """Ridge penalty ``l2 * sum(w ** 2)`` (coupled: it enters the gradient).

    Parameters
    ----------
    l2 : float, default=0.01
        Strength, >= 0.

    Examples
    --------
    >>> L2(1e-4)
    L2(l2=0.0001)
    """

    name = "l2"
    _parameter = "l2"
    _slot = 1

    def __init__(self, l2: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l2 = self._checked(l2)


class ElasticNet(Penalty):
    """Elastic net ``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)``.

    scikit-learn's and glmnet's parameterization: ``l1_ratio=1`` is the lasso with
    ``l1=alpha``, ``l1_ratio=0`` is ridge with ``l2=alpha/2``.

    Parameters
    ----------
    alpha : float, default=0.01
        Overall strength, >= 0.
    l1_ratio : float, default=0.5
        Share of L1 in [0, 1].
    proximal : bool, default=False
        Soft-threshold the L1 part after each step.
    per_layer, feature_factors, feature_groups, include_bias
        See the module documentation.

    Examples
    --------
    >>> ElasticNet(1e-3, 0.7).coefficients(1e-3)
    (0.0007, 0.00015000000000000001, 0.0)
    """

    name = "elastic_net"

    def __init__(
        self, alpha: float = 0.01, l1_ratio: float = 0.5, *, proximal: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.alpha = float(check_range("alpha", alpha, low=0.0, owner="ElasticNet"))
        self.l1_ratio = float(
            check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, owner="ElasticNet")
        )
        self.proximal = bool(proximal)

    @property
    def strength(self) -> float:
        return self.alpha

    def coefficients(self, strength: float) -> tuple[float, float, float]:
        return strength * self.l1_ratio, strength * (1.0 - self.l1_ratio) / 2.0, 0.0

    def _own_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "l1_ratio": self.l1_ratio}


class WeightDecay(_OneCoefficient):
    """Decoupled weight decay (AdamW-style): ``w <- w - lr * wd * w`` with each step.

    It adds nothing to the loss; the trainer applies it. With SGD it equals ``L2(wd / 2)``.

    Parameters
    ----------
    wd : float, default=1e-4
        Decay rate per unit learning rate, >= 0.

    Examples
    --------
    >>> WeightDecay(1e-4).coefficients(1e-4)
    (0.0, 0.0, 0.0001)
    """

    name = "weight_decay"
    _parameter = "wd"
    _slot = 2

    def __init__(self, wd: float = 1e-4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wd = self._checked(wd)


_REGISTRY: dict[str, type[Penalty]] = {
    "l1": L1,
    "lasso": L1,
    "l2": L2,
    "ridge": L2,
    "elastic_net": ElasticNet,
    "elasticnet": ElasticNet,
    "weight_decay": WeightDecay,
}


def get(identifier: str | Penalty | Mapping[str, Any], **kwargs: Any) -> Penalty:
    """Resolve a short name (``"l1"``, ``"ridge"``, ``"elastic_net"``...), a config or a penalty.

    Examples
    --------
    >>> get("ridge", l2=1e-3)
    L2(l2=0.001)
    """
    if isinstance(identifier, Penalty):
        return identifier
    if isinstance(identifier, Mapping):
        return from_config(identifier)
    key = str(identifier).lower()
    if key not in _REGISTRY:
        raise InvalidParameterError(
            f"Unknown penalty '{identifier}'. Known penalties: {', '.join(sorted(_REGISTRY))}."
            + did_you_mean(key, _REGISTRY)
        )
    return _REGISTRY[key](**kwargs)


def from_config(config: Mapping[str, Any]) -> Penalty:
    """Rebuild a penalty from ``get_config()`` output.

    Examples
    --------
    >>> from_config(L1(1e-3).get_config())
    L1(l1=0.001)
    """
    args = dict(config)
    name = args.pop("name", None)
    if name is None:
        raise InvalidParameterError("A penalty config needs a 'name' key, e.g. {'name': 'l1'}.")
    if "per_layer" in args:
        args["per_layer"] = {int(k): v for k, v in args["per_layer"].items()}
    return get(str(name), **args)


@dataclass(frozen=True)
class LayerCoefficients:
    """What one parameter tensor receives once all penalties are combined.

    ``l1`` and ``l2`` may be a tensor of per-input factors (first layer with
    ``feature_factors``) or a float; ``prox_l1`` is the threshold coefficient applied by the
    proximal step; ``decay`` the decoupled weight-decay rate. ``groups`` (first layer only,
    when some group has two or more features) makes ``l1`` and ``prox_l1`` group-wise.
    """

    l1: float | torch.Tensor = 0.0
    l2: float | torch.Tensor = 0.0
    prox_l1: float | torch.Tensor = 0.0
    decay: float = 0.0
    groups: FeatureGroups | None = None

    @property
    def active(self) -> bool:
        """True when the tensor receives any penalty or decay."""
        return any(_nonzero(c) for c in (self.l1, self.l2, self.prox_l1, self.decay))


def _nonzero(value: float | torch.Tensor) -> bool:
    return bool(value.abs().sum() > 0) if isinstance(value, torch.Tensor) else value != 0.0


def _add(a: float | torch.Tensor, b: float | torch.Tensor) -> float | torch.Tensor:
    return a + b if _nonzero(b) else a


def resolve(
    penalties: Iterable[Penalty], n_weights: int, n_inputs: int
) -> tuple[list[LayerCoefficients], LayerCoefficients]:
    """Combine penalties into per-weight-matrix coefficients plus one for other parameters.

    Feature factors become a ``(n_inputs,)`` tensor on the first layer's L1/L2 coefficients;
    feature groups with a group of two or more features become the first layer's ``groups``
    (penalties whose L1 part reaches the first layer must then agree on them).

    Returns
    -------
    weights : list of LayerCoefficients
        One entry per weight matrix, in layer order.
    others : LayerCoefficients
        What biases and normalization parameters receive (zero unless ``include_bias``).
    """
    layers = [LayerCoefficients() for _ in range(n_weights)]
    others = LayerCoefficients()
    grouped: list[Penalty] = []  # the penalties with an L1 part on the first layer so far
    for penalty in penalties:
        for index in penalty.per_layer:
            if not 0 <= index < n_weights:
                raise InvalidParameterError(
                    f"The 'per_layer' parameter of {type(penalty).__name__} names layer {index}"
                    f" but the model has {n_weights} weight matrices (0 to {n_weights - 1})."
                )
        for index in range(n_weights):
            l1, l2, decay = penalty.coefficients(penalty.layer_strength(index))
            factor: float | torch.Tensor = 1.0
            if index == 0 and penalty.feature_factors is not None:
                _check_width("feature_factors", penalty, len(penalty.feature_factors), n_inputs)
                factor = torch.tensor(penalty.feature_factors, dtype=torch.float32)
            layers[index] = _combine(layers[index], l1, l2, decay, factor, penalty.proximal)
        if n_weights and penalty.coefficients(penalty.layer_strength(0))[0]:
            layers[0] = _with_groups(layers[0], penalty, n_inputs, grouped)
            grouped.append(penalty)
        if penalty.include_bias:
            l1, l2, decay = penalty.coefficients(penalty.strength)
            others = _combine(others, l1, l2, decay, 1.0, penalty.proximal)
    return layers, others


def _with_groups(
    first: LayerCoefficients, penalty: Penalty, n_inputs: int, before: list[Penalty]
) -> LayerCoefficients:
    """The first layer's coefficients with ``penalty``'s groups, checked against the groups
    of the ``before`` penalties that also put an L1 part there."""
    ids = penalty.feature_groups
    if ids is not None:
        _check_width("feature_groups", penalty, len(ids), n_inputs)
    groups = nontrivial_groups(ids)
    if before and groups != first.groups:
        raise InvalidParameterError(
            f"{type(penalty).__name__} and {type(before[0]).__name__} both put an L1 part on "
            "the first layer but with different 'feature_groups'; give them the same groups."
        )
    return replace(first, groups=groups)


def _combine(
    current: LayerCoefficients,
    l1: float,
    l2: float,
    decay: float,
    factor: float | torch.Tensor,
    proximal: bool,
) -> LayerCoefficients:
    return replace(
        current,
        l1=current.l1 if proximal or not l1 else _add(current.l1, l1 * factor),
        l2=_add(current.l2, l2 * factor) if l2 else current.l2,
        prox_l1=_add(current.prox_l1, l1 * factor) if proximal and l1 else current.prox_l1,
        decay=current.decay + decay,
    )


@torch.no_grad()
def prox_l1_(weight: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Soft-threshold ``weight`` in place: ``sign(w) * max(|w| - threshold, 0)``.

    Computed as ``w - clamp(w, -threshold, threshold)``: every weight with
    ``|w| <= threshold`` becomes exactly zero, no weight grows and no sign flips.
    ``threshold`` may be a tensor that broadcasts against ``weight`` (per-weight thresholds).

    Examples
    --------
    >>> prox_l1_(torch.tensor([0.5, -0.05, -2.0]), 0.1)
    tensor([ 0.4000,  0.0000, -1.9000])
    """
    bound = torch.as_tensor(threshold, dtype=weight.dtype, device=weight.device)
    return weight.sub_(weight.clamp(-bound, bound))


@dataclass(frozen=True)
class SparsityReport:
    """Exact-zero shares of a model's weight matrices.

    Attributes
    ----------
    per_layer : dict
        Weight name -> fraction of entries exactly equal to zero.
    total : float
        Fraction over all weight matrices together.
    dropped_features : list
        Input features whose outgoing first-layer weights are all zero; with column
        ``groups`` (a table), the original columns whose encoded columns are all dropped.
    dropped_encoded : list or None
        With ``groups``: every dropped encoded input column (a one-hot level can be
        dropped while its column is kept); None without groups.
    n_columns : int or None
        With ``groups``: the number of original columns; None without groups.
    """

    per_layer: dict[str, float]
    total: float
    dropped_features: list[str]
    dropped_encoded: list[str] | None = None
    n_columns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``dropped_encoded`` and ``n_columns`` only with groups)."""
        found: dict[str, Any] = {
            "per_layer": self.per_layer,
            "total": self.total,
            "dropped_features": self.dropped_features,
        }
        if self.dropped_encoded is not None:
            found.update(dropped_encoded=self.dropped_encoded, n_columns=self.n_columns)
        return found


@torch.no_grad()
def sparsity(
    model: nn.Module,
    feature_names: Sequence[str] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
) -> SparsityReport:
    """Measure exact zeros per weight matrix, in total, and the dropped input features.

    Parameters
    ----------
    model : torch.nn.Module
    feature_names : sequence of str, optional
        The first layer's input names (``x0``, ``x1``, ... when None).
    groups : mapping of str to sequence of int, optional
        A table's original column -> its encoded input columns (``Dataset.table.groups``;
        every input in exactly one group). A column is dropped when all of its encoded
        columns are: ``dropped_features`` then names original columns, and
        ``dropped_encoded`` keeps the encoded ones.

    Examples
    --------
    >>> layer = torch.nn.Linear(3, 2)
    >>> _ = layer.weight.data.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]))
    >>> sparsity(layer, ["a", "b", "c"]).dropped_features
    ['a', 'c']
    >>> report = sparsity(layer, ["a", "c_x", "c_y"], groups={"a": [0], "c": [1, 2]})
    >>> report.dropped_features, report.dropped_encoded
    (['a'], ['a', 'c_y'])
    """
    weights = penalized_weights(model)
    per_layer = {name: float((w == 0).float().mean()) for name, w in weights}
    zeros = sum(int((w == 0).sum()) for _, w in weights)
    count = sum(w.numel() for _, w in weights)
    total = zeros / count if count else 0.0
    if not weights:
        return SparsityReport(per_layer, total, [], [] if groups is not None else None)
    first = weights[0][1].reshape(weights[0][1].shape[0], weights[0][1].shape[1], -1)
    dead = (first == 0).all(dim=2).all(dim=0).tolist()
    names = list(feature_names) if feature_names is not None else None
    encoded = [names[i] if names else f"x{i}" for i, gone in enumerate(dead) if gone]
    if groups is None:
        return SparsityReport(per_layer, total, encoded)
    _check_groups(groups, len(dead))
    columns = [name for name, cols in groups.items() if all(dead[i] for i in cols)]
    return SparsityReport(per_layer, total, columns, encoded, len(groups))


def _check_groups(groups: Mapping[str, Sequence[int]], n_inputs: int) -> None:
    """Refuse ``groups`` that do not assign each of the ``n_inputs`` inputs exactly once."""
    assigned = sorted(int(i) for cols in groups.values() for i in cols)
    if assigned != list(range(n_inputs)) or not all(groups.values()):
        raise InvalidParameterError(
            f"The 'groups' parameter of sparsity must give each of the first layer's {n_inputs} "
            f"inputs (0..{n_inputs - 1}) to exactly one non-empty group. Got {dict(groups)!r}."
        )


def describe(model: nn.Module, penalties: Iterable[Penalty]) -> list[dict[str, Any]]:
    """Audit: for each parameter tensor, which penalties and decay it receives, how strong.

    Examples
    --------
    >>> rows = describe(torch.nn.Linear(3, 1), [L2(1e-3)])
    >>> [(r["parameter"], r["l2"]) for r in rows]
    [('weight', 0.001), ('bias', 0.0)]
    """
    penalties = list(penalties)
    weights = penalized_weights(model)
    n_inputs = weights[0][1].shape[1] if weights else 0
    layer_coefs, other_coefs = resolve(penalties, len(weights), n_inputs)
    coefs = {name: c for (name, _), c in zip(weights, layer_coefs)}
    rows = []
    for name, p in model.named_parameters():
        c = coefs.get(name, other_coefs)
        rows.append(
            {
                "parameter": name,
                "shape": list(p.shape),
                "l1": _summary(c.l1),
                "l2": _summary(c.l2),
                "prox_l1": _summary(c.prox_l1),
                "weight_decay": c.decay,
                "penalized": c.active,
            }
        )
    return rows


def _summary(value: float | torch.Tensor) -> float | str:
    if isinstance(value, torch.Tensor):
        return f"per-feature {float(value.min()):g}..{float(value.max()):g}"
    return float(value)
