"""The linear estimators: :class:`RegularizedLinearClassifier` (logistic regression) and
:class:`RegularizedLinearRegressor` (lasso, ridge, elastic net)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from regulab._format import register
from regulab.estimators._base import _constraints, _RegularizedEstimator, _store_arguments
from regulab.estimators._docs import _FITTED_DOC, _PENALTY_DOC
from regulab.estimators._tasks import _RegularizedClassifier, _RegularizedRegressor
from regulab.models import MLP, LinearModel


class _LinearEstimator(_RegularizedEstimator):
    """What the linear estimators share: a constructor that only stores its arguments, the
    linear model and its ``coef_``/``intercept_`` in the target's units."""

    def __init__(
        self,
        *,
        input_dropout: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
        elastic_net: tuple[float, float] | None = None,
        weight_decay: float = 0.0,
        prox_l1: bool = False,
        early_stopping: bool = False,
        monitor: str = "val_loss",
        patience: int = 5,
        validation_fraction: float = 0.1,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 32,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        _store_arguments(self, locals())

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> MLP:
        return LinearModel(
            n_features,
            n_outputs,
            task=self._task,
            input_dropout=float(self.input_dropout),
            seed=seed,
        )

    def _set_weight_attributes(self, state: dict[str, torch.Tensor]) -> None:
        weight = state["linears.0.weight"].detach().cpu().double().numpy()
        bias = state["linears.0.bias"].detach().cpu().double().numpy()
        if "target_scale" in state:  # the head's scaling, folded in: the target's units
            scale = state["target_scale"].double().numpy()
            weight = weight * scale[:, None]
            bias = bias * scale + state["target_mean"].double().numpy()
        self.coef_: np.ndarray = weight.copy()
        self.intercept_: np.ndarray | float = bias.copy()
        if self._task == "regression" and not getattr(self, "_y_2d", False):
            self.coef_, self.intercept_ = weight[0].copy(), float(bias[0])


@register
class RegularizedLinearClassifier(_LinearEstimator, _RegularizedClassifier):
    __doc__ = f"""Logistic regression (binary or multinomial) with Regulab's regularization.

    Parameters
    ----------
{_PENALTY_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{_FITTED_DOC}
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = RegularizedLinearClassifier(l1=1e-3, prox_l1=True, epochs=5,
    ...                                   random_state=0).fit(scale(X), y)
    >>> clf.coef_.shape
    (1, 30)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", False)


@register
class RegularizedLinearRegressor(_LinearEstimator, _RegularizedRegressor):
    __doc__ = f"""Linear regression with Regulab's regularization (lasso, ridge, elastic net).

    Parameters
    ----------
{_PENALTY_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_outputs_ : int
{_FITTED_DOC}
    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> y = X @ [2.0, 0.0, -1.0] + 0.5
    >>> reg = RegularizedLinearRegressor(l1=1e-3, prox_l1=True, learning_rate=0.05,
    ...                                  epochs=30, random_state=0).fit(X, y)
    >>> np.round(reg.coef_, 1).tolist()
    [2.0, 0.0, -1.0]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("regression", False)
