"""Exact fits of Regulab's own linear models: a ``LinearModel`` and its penalties, solved by
:func:`~regulab.solvers.fit_linear` and written back into the model.

A model is solvable exactly when it is one linear layer without input dropout or batch norm and
its penalties reduce to one L1 and one L2 coefficient on that layer (``L1``, ``L2``,
``ElasticNet``, no feature factors, no penalized bias, no decoupled decay): then training it is
a convex problem whose optimum the solvers reach. Column groups (``feature_groups``: the
penalties', or ``TrainConfig.feature_groups`` passed as ``groups``) make the L1 part a group
lasso per output row, solved by ``"group-fista"``. Regression targets are standardized with the
training rows' statistics, as the trainer does, and the model's ``target_mean``/``target_scale``
buffers are set, so the fitted model predicts in the target's units exactly like a trained one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from regulab.errors import InvalidParameterError
from regulab.models import MLP
from regulab.penalties import Penalty, sparsity
from regulab.solvers._fit import LinearFit, fit_linear
from regulab.training import FitResult, History, StopReason, TargetScaling, evaluate


def exact_strengths(penalties: Sequence[Penalty]) -> tuple[float, float] | None:
    """``(l1, l2)`` of a linear model's penalties, or None when they are not L1/L2 terms.

    Examples
    --------
    >>> from regulab.penalties import L1, ElasticNet, WeightDecay
    >>> exact_strengths([L1(0.01), ElasticNet(0.1, 0.5)])
    (0.060000000000000005, 0.025)
    >>> exact_strengths([WeightDecay(1e-4)]) is None
    True
    """
    l1 = l2 = 0.0
    for penalty in penalties:
        if penalty.feature_factors is not None or penalty.include_bias:
            return None
        a, b, decay = penalty.coefficients(penalty.layer_strength(0))
        if decay:
            return None
        l1, l2 = l1 + a, l2 + b
    return l1, l2


def exact_groups(penalties: Sequence[Penalty]) -> list[int] | None:
    """The column groups the penalties carry (``feature_groups`` of L1 / ElasticNet), if any.

    Examples
    --------
    >>> from regulab.penalties import L2
    >>> exact_groups([L2(0.01)]) is None
    True
    """
    for penalty in penalties:
        if penalty.feature_groups is not None:
            return list(penalty.feature_groups)
    return None


def solvable(model: Any, penalties: Sequence[Penalty]) -> bool:
    """Whether :func:`fit_model` solves ``model`` with ``penalties`` exactly."""
    return (
        isinstance(model, MLP)
        and len(model.linears) == 1
        and model.input_dropout == 0
        and not model.architecture.batchnorm
        and exact_strengths(penalties) is not None
    )


def model_task(model: MLP) -> str:
    """The solvers' task of a linear model: ``"binary"`` (one logit), ``"multiclass"`` or
    ``"regression"``."""
    if model.architecture.task == "regression":
        return "regression"
    return "binary" if model.architecture.sizes[-1] == 1 else "multiclass"


def fit_model(
    model: MLP,
    penalties: Sequence[Penalty],
    X: Any,
    y: Any,
    *,
    groups: Sequence[int] | None = None,
    tol: float = 1e-6,
    max_iter: int = 1000,
    device: str | torch.device = "cpu",
) -> LinearFit:
    """Solve ``model`` (a solvable linear model) on ``(X, y)`` exactly and load the weights.

    ``y`` holds class codes ``0..C-1`` (0/1 for a one-logit binary model) or regression
    targets of shape (n,) or (n, K) in their own units. Returns the solver's
    :class:`LinearFit` (weights in the model's units: standardized targets for regression).
    ``groups`` (one id per column; default: the penalties' ``feature_groups``) makes the L1
    part the group lasso of :func:`~regulab.solvers.fit_linear`.

    Examples
    --------
    >>> import numpy as np
    >>> from regulab.models import LinearModel
    >>> from regulab.penalties import L1
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> model = LinearModel(4, 1, seed=0)
    >>> fit = fit_model(model, [L1(0.1)], X, (X[:, 0] > 0).astype(int))
    >>> fit.converged, fit.n_nonzero, int((model.linears[0].weight != 0).sum())
    (True, 1, 1)
    """
    strengths = exact_strengths(penalties)
    if not solvable(model, penalties) or strengths is None:
        raise InvalidParameterError(
            "fit_model solves one linear layer without input dropout or batch norm, penalized "
            f"by L1, L2 or ElasticNet only. Got {model.architecture} with {list(penalties)}."
        )
    task = model_task(model)
    targets = np.asarray(y)
    if task == "regression":
        scaling = TargetScaling.of_model(model) or TargetScaling.fit(targets)
        targets = scaling.standardize(torch.as_tensor(targets, dtype=torch.float64)).numpy()
        for name, value in scaling.buffers().items():
            getattr(model, name).copy_(value)
    n_classes = model.architecture.sizes[-1] if task == "multiclass" else None
    fit = fit_linear(
        np.asarray(X, dtype=np.float64),
        targets,
        task=task,
        n_classes=n_classes,
        l1=strengths[0],
        l2=strengths[1],
        groups=exact_groups(penalties) if groups is None else groups,
        tol=tol,
        max_iter=max_iter,
        device=device,
    )
    layer: torch.nn.Linear = model.linears[0]  # type: ignore[assignment]
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(fit.coef, dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(fit.intercept, dtype=layer.bias.dtype))
    return fit


def exact_result(
    model: MLP,
    penalties: Sequence[Penalty],
    X: Any,
    y: Any,
    X_val: Any = None,
    y_val: Any = None,
    *,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    groups: Sequence[int] | None = None,
    column_groups: Mapping[str, Sequence[int]] | None = None,
    device: str | torch.device = "cpu",
    tol: float = 1e-6,
    max_iter: int = 1000,
) -> tuple[FitResult, LinearFit]:
    """:func:`fit_model`, reported as the trainer reports a run, and the solver's fit.

    The history has one record with an epoch's keys (training ``loss``, ``val_*`` on
    ``(X_val, y_val)`` when given, ``penalty``, ``sparsity``, ``seconds``); ``epochs_run`` is
    the solver's iteration count; the stop reason is ``converged`` (``max_epochs`` when
    ``max_iter`` stopped the solver first). ``groups`` are those of :func:`fit_model`; the
    record's ``penalty`` is the group lasso term when there are groups. ``column_groups`` (a
    table's original column -> encoded inputs) names the dropped original columns in the
    sparsity report.

    Examples
    --------
    >>> import numpy as np
    >>> from regulab.models import LinearModel
    >>> from regulab.penalties import L2
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> result, fit = exact_result(LinearModel(3, 1, seed=0), [L2(0.01)], X, X[:, 0] > 0)
    >>> result.stop_reason.value, len(result.history), fit.solver
    ('converged', 1, 'lbfgs')
    """
    start = time.perf_counter()
    fit = fit_model(
        model, penalties, X, y, groups=groups, tol=tol, max_iter=max_iter, device=device
    )
    seconds = time.perf_counter() - start
    report = sparsity(model, feature_names, column_groups)
    with torch.no_grad():
        record: dict[str, Any] = {"epoch": 1, "loss": evaluate(model, X, y)["loss"]}
        if X_val is not None and y_val is not None and len(X_val):
            record.update({f"val_{k}": v for k, v in evaluate(model, X_val, y_val).items()})
    record.update(penalty=fit.penalty(), sparsity=report.total, seconds=seconds)
    verdict = "converged" if fit.converged else "stopped"
    message = (
        f"{fit.solver} {verdict} after {fit.n_iter} iterations: largest KKT violation "
        f"{fit.kkt:.2g} {'<=' if fit.converged else '>'} tol {tol:g}"
        + ("" if fit.converged else _stop_cause(fit.n_iter, max_iter))
    )
    result = FitResult(
        model=model,
        history=History([record]),
        stop_reason=StopReason.CONVERGED if fit.converged else StopReason.MAX_EPOCHS,
        stop_message=message,
        best_epoch=None,
        epochs_run=fit.n_iter,
        seconds=seconds,
        sparsity=report,
        penalties=list(penalties),
        seed=seed,
    )
    return result, fit


def _stop_cause(n_iter: int, max_iter: int) -> str:
    """Why an unconverged fit stopped: its iteration guard, or no decrease left to find."""
    if n_iter >= max_iter:
        return f" at max_iter={max_iter}"
    return " where the objective showed no more decrease (its dtype's resolution)"
