"""The MLP estimators: :class:`RegularizedMLPClassifier` and :class:`RegularizedMLPRegressor`."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch

from regulab._format import register
from regulab.errors import InvalidParameterError
from regulab.estimators._base import (
    _constraints,
    _is_rate,
    _RegularizedEstimator,
    constructor,
)
from regulab.estimators._docs import _CLASS_WEIGHT_DOC, _FITTED_DOC, _PENALTY_DOC
from regulab.estimators._tasks import _RegularizedClassifier, _RegularizedRegressor
from regulab.models import MLP

_MLP_DOC = """\
    hidden_layer_sizes : int or tuple of int, default=(128, 64)
        Width of each hidden layer.
    activation : str, default="relu"
        One of ``relu, gelu, tanh, sigmoid, elu, leaky_relu, silu``.
    dropout : float or tuple of float, default=0.0
        Dropout rate after each hidden layer (one value for all or one per layer), in [0, 1).
    batchnorm : bool or tuple of int, default=False
        Batch normalization after every hidden layer, or after the listed (0-based) ones.
"""


def _mlp_parameters(
    hidden_layer_sizes: int | Sequence[int] = (128, 64),
    *,
    activation: str = "relu",
    dropout: float | Sequence[float] = 0.0,
    batchnorm: bool | Sequence[int] = False,
) -> None:
    """The MLP estimators' own parameters (``_MLP_DOC``)."""


class _MLPEstimator(_RegularizedEstimator):
    """What the MLP estimators share: a constructor that only stores its arguments
    (scikit-learn's contract; they are validated at fit time), the hidden layers, the model
    and its ``feature_importances_``."""

    # set by __init__ as given; checked by _validate_structure and the parameter table
    hidden_layer_sizes: Any
    activation: str
    dropout: Any
    batchnorm: Any

    __init__ = constructor(_mlp_parameters)

    def _validate_structure(self, owner: str) -> None:
        sizes = self.hidden_layer_sizes
        values = [sizes] if isinstance(sizes, (Real, str)) else sizes
        try:
            values = list(values)
        except TypeError:
            values = [values]
        if not all(
            isinstance(s, Integral) and not isinstance(s, bool) and int(s) >= 1 for s in values
        ):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter of {owner} must be an int in the range "
                f"[1, inf) or a sequence of such ints. Got {sizes!r} instead."
            )
        dropout = self.dropout
        if isinstance(dropout, (Real, str)) or not isinstance(dropout, (Sequence, np.ndarray)):
            return  # scalars (and wrong types) are left to the table
        rates = list(dropout)
        if not all(_is_rate(r) for r in rates) or len(rates) != len(values):
            raise InvalidParameterError(
                f"The 'dropout' parameter of {owner} must be a float in the range [0.0, 1.0) "
                f"or one such float per hidden layer ({len(values)}). Got {dropout!r} instead."
            )

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        return (int(sizes),) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> MLP:
        dropout = self.dropout
        batchnorm = self.batchnorm
        return MLP(
            [n_features, *self._hidden_sizes(), n_outputs],
            activation=self.activation,
            dropout=float(dropout) if isinstance(dropout, Real) else [float(r) for r in dropout],
            input_dropout=float(self.input_dropout),
            batchnorm=bool(batchnorm) if isinstance(batchnorm, bool) else list(batchnorm),
            task=self._task,
            seed=seed,
        )

    def _set_weight_attributes(self, state: dict[str, torch.Tensor]) -> None:
        weight = state["linears.0.weight"].detach().cpu().double().numpy()
        norms = np.linalg.norm(weight, axis=0)
        total = norms.sum()
        self.feature_importances_ = norms / total if total > 0 else norms


@register
class RegularizedMLPClassifier(_MLPEstimator, _RegularizedClassifier):
    __doc__ = f"""Multi-layer perceptron classifier with Regulab's regularization.

    Parameters
    ----------
{_MLP_DOC}{_PENALTY_DOC}{_CLASS_WEIGHT_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
{_FITTED_DOC}    feature_importances_ : ndarray of shape (n_features,)
        L2 norm of each input's first-layer weights, normalized to sum to 1.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((16,), l2=1e-4, learning_rate=1e-2, epochs=20,
    ...                                random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", True)
    __init__ = constructor(_mlp_parameters, classifier=True)


@register
class RegularizedMLPRegressor(_MLPEstimator, _RegularizedRegressor):
    __doc__ = f"""Multi-layer perceptron regressor with Regulab's regularization.

    Parameters
    ----------
{_MLP_DOC}{_PENALTY_DOC}
    Attributes
    ----------
    n_outputs_ : int
{_FITTED_DOC}    feature_importances_ : ndarray of shape (n_features,)
        L2 norm of each input's first-layer weights, normalized to sum to 1.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=100, n_features=4, noise=1.0, random_state=0)
    >>> reg = RegularizedMLPRegressor((16,), epochs=3, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("regression", True)
