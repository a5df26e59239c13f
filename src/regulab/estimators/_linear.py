"""The linear estimators: :class:`RegularizedLinearClassifier` (logistic regression) and
:class:`RegularizedLinearRegressor` (lasso, ridge, elastic net)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

from regulab._format import register
from regulab.errors import InvalidParameterError
from regulab.estimators._base import (
    FitArrays,
    _constraints,
    _RegularizedEstimator,
    constructor,
)
from regulab.estimators._docs import _CLASS_WEIGHT_DOC, _FITTED_DOC, _PENALTY_DOC
from regulab.estimators._tasks import _RegularizedClassifier, _RegularizedRegressor
from regulab.models import MLP, LinearModel
from regulab.solvers import exact_result, exact_strengths
from regulab.training import resolve_device

#: ``solver`` values: exact when the problem allows it, always exact, or the epoch trainer.
SOLVER_CHOICES = ("auto", "exact", "trainer")

_SOLVER_DOC = """\
    solver : {"auto", "exact", "trainer"}, default="auto"
        ``"exact"`` solves the convex problem to its optimum with
        :func:`regulab.solvers.fit_linear` (L-BFGS, L-BFGS-B or scikit-learn's coordinate
        descent; stops when the largest KKT violation is at most 1e-6, ignoring ``epochs``,
        ``optimizer``, ``learning_rate``, ``batch_size``); it needs no ``input_dropout``, no
        ``weight_decay``, no ``early_stopping`` and (a classifier) no ``class_weight``: the
        exact solvers weigh no rows, so ``"auto"`` trains a weighted classifier with the
        trainer (``solver_`` then names the optimizer). ``"trainer"`` trains for ``epochs`` with
        ``optimizer`` like a network. ``"auto"`` is ``"exact"`` where it applies.
"""

_SOLVER_FITTED_DOC = """\
    solver_ : str
        What fitted the model: the exact solver (``"lbfgs"``, ``"lbfgs-b"``,
        ``"sklearn.ElasticNet"``...) or the trainer's optimizer (``"adam"``...).
    converged_ : bool or None
        Whether the exact solver met its KKT tolerance (None after the trainer). An exact
        fit's ``n_iter_`` counts the solver's iterations; its history has one record and
        ``stop_reason_`` is ``converged`` (or ``max_epochs`` when the iteration guard stopped
        it).
"""

#: The exact solver's tolerance (largest KKT violation, gradient units) and iteration guard.
EXACT_TOL = 1e-6
EXACT_MAX_ITER = 1000


def _linear_parameters(*, solver: str = "auto") -> None:
    """The linear estimators' own parameter (``_SOLVER_DOC``)."""


class _LinearEstimator(_RegularizedEstimator):
    """What the linear estimators share: a constructor that only stores its arguments, the
    linear model and its ``coef_``/``intercept_`` in the target's units."""

    __init__ = constructor(_linear_parameters)

    def _exact(self) -> bool:
        """Whether ``fit`` solves exactly (``solver`` and the parameters allow it)."""
        if self.solver == "trainer":
            return False
        blockers = [
            name
            for name, blocks in (
                ("input_dropout", float(self.input_dropout) > 0),
                ("weight_decay", exact_strengths(self._penalties()) is None),
                ("early_stopping", bool(self.early_stopping)),
                ("class_weight", self.class_weight is not None),  # the solvers weigh no rows
            )
            if blocks
        ]
        if blockers and self.solver == "exact":
            raise InvalidParameterError(
                f"solver='exact' of {type(self).__name__} solves L1, L2 and elastic net "
                f"penalties only, without {', '.join(blockers)}; use solver='trainer' or "
                "'auto' to train with them."
            )
        return not blockers

    def _train(self, data: FitArrays, n_outputs: int) -> None:
        if not self._exact():
            super()._train(data, n_outputs)
            self.solver_, self.converged_ = str(self.optimizer), None
            return
        self._start(data.X.shape[1], n_outputs)
        result, fit = exact_result(
            self.model_,
            self._penalties(),
            data.X,
            data.y,
            data.X_val,
            data.y_val,
            feature_names=self._feature_names(),
            tol=EXACT_TOL,
            max_iter=EXACT_MAX_ITER,
            device=resolve_device(self.device),
        )
        self._set_model_attributes()
        self.solver_, self.n_iter_, self.converged_ = fit.solver, fit.n_iter, fit.converged
        self.history_ = result.history
        self.stop_reason_ = result.stop_reason
        self.stop_message_ = result.stop_message
        self.best_epoch_ = None

    def _export_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super()._export_state()  # type: ignore[misc]
        state.update(solver=self.solver_, converged=self.converged_)
        return state

    def _import_state(self, state: dict[str, Any], model: MLP) -> None:
        self.solver_ = str(state.get("solver", self.optimizer))
        self.converged_ = state.get("converged")
        super()._import_state(state, model)  # type: ignore[misc]

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
{_PENALTY_DOC}{_CLASS_WEIGHT_DOC}{_SOLVER_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{_FITTED_DOC}{_SOLVER_FITTED_DOC}
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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_constraints("classification", False),
        "solver": [StrOptions(set(SOLVER_CHOICES))],
    }
    __init__ = constructor(_linear_parameters, classifier=True)


@register
class RegularizedLinearRegressor(_LinearEstimator, _RegularizedRegressor):
    __doc__ = f"""Linear regression with Regulab's regularization (lasso, ridge, elastic net).

    Parameters
    ----------
{_PENALTY_DOC}{_SOLVER_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_outputs_ : int
{_FITTED_DOC}{_SOLVER_FITTED_DOC}
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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_constraints("regression", False),
        "solver": [StrOptions(set(SOLVER_CHOICES))],
    }
