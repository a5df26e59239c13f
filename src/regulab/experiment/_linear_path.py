"""A linear model's regularization path, solved exactly and chosen by cross-validation (glmnet).

:func:`linear_regularization_path` is ``regulab path`` for a linear model (``--model linear``
or layer sizes without a hidden layer) penalized by L1, L2 or elastic net: instead of training
a grid of networks it solves the whole path with :mod:`regulab.solvers` in one call, from
λ_max (the smallest strength with every weight zero, computed from the data) down a geometric
grid, strongest first, warm-started with strong-rule screening. The strength is chosen by
k-fold cross-validation on the training and validation rows, the same folds for every
strength: λ_min (best mean score) for prediction, or λ_1se (the strongest within one standard
error, so the sparsest) for interpretation. The chosen model is then fitted on all those rows
and its test score is reported once; the test rows never take part in the choice.

On a table (text or category columns, empty cells), the one-hot columns of one original
column are one unit: L1 and elastic net are the group lasso over the table's column groups
(:func:`~regulab.solvers.fit_linear`'s ``groups``), and every cross-validation fold refits the
table's preprocessing on its own training rows (medians, scales, frequent levels), so no
statistic of a fold sees its validation rows.

Examples
--------
>>> from regulab.experiment import linear_regularization_path
>>> path = linear_regularization_path("iris", model="linear", n_steps=5, folds=3)
>>> path.nonzero[0], path.chosen_index == path.lambda_min_index
(0, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from regulab._groups import table_group_ids
from regulab.data import Dataset
from regulab.errors import InvalidParameterError, check_choice, check_range
from regulab.experiment._compare import data_info, json_safe, prepare_experiment
from regulab.experiment._paths import _path_spec
from regulab.experiment._runner import DataBundle
from regulab.experiment._sweep import PATHS_SCHEMA_VERSION
from regulab.models import MLP
from regulab.solvers import (
    cv_linear_path,
    fit_model,
    lambda_max,
    linear_path,
    model_task,
    solvable,
    strength_grid,
)
from regulab.stats import main_metric
from regulab.training import TargetScaling, evaluate

__all__ = ["LinearPathResult", "linear_regularization_path", "RULE_NAMES"]

#: What each selection rule means, as the output says it.
RULE_NAMES = {
    "min": "best cross-validated score",
    "1se": "sparsest within one standard error of the best",
}
#: glmnet's ridge convention: λ_max of an L2 path is computed as for an L1 share of 0.001.
L2_SHARE = 1e-3


@dataclass
class LinearPathResult:
    """The outcome of :func:`linear_regularization_path` (arrays follow ``strengths``,
    strongest first).

    Attributes
    ----------
    penalty : str
        ``"l1"``, ``"l2"`` or ``"elastic_net"``.
    l1_ratio : float or None
        Elastic net's L1 share.
    strengths : list of float
        The grid in the penalty's own units (``L1(s)``, ``L2(s)``, ``ElasticNet(s, l1_ratio)``).
    lambda_max : float
        The top of the grid: the smallest strength with every weight zero (for L2, glmnet's
        convention: that of an L1 share of 0.001; weights there are small, never zero).
    nonzero : list of int
        Nonzero weights of the fit on all cross-validation rows at each strength.
    scoring : str
        ``"neg_log_loss"`` or ``"neg_mean_squared_error"`` (higher is better).
    cv_mean, cv_se : list of float
        Mean cross-validated score over the folds and its standard error.
    folds : int
    lambda_min_index, lambda_1se_index : int
        λ_min: the best mean score; λ_1se: the strongest strength within one standard error.
    rule : str
        ``"min"`` or ``"1se"``: which of the two chose the model.
    test_metric : str
    test_score : float
        The chosen model's test score (fitted on the training and validation rows); reported,
        never used to choose.
    solver : str
        The solver that fitted the path.
    seconds : float
    data : dict
    """

    penalty: str
    l1_ratio: float | None
    strengths: list[float]
    lambda_max: float
    nonzero: list[int]
    scoring: str
    cv_mean: list[float]
    cv_se: list[float]
    folds: int
    lambda_min_index: int
    lambda_1se_index: int
    rule: str
    test_metric: str
    test_score: float
    solver: str
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen_index(self) -> int:
        return self.lambda_min_index if self.rule == "min" else self.lambda_1se_index

    @property
    def other_index(self) -> int:
        """The index the other rule would have chosen."""
        return self.lambda_1se_index if self.rule == "min" else self.lambda_min_index

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary (the keys of ``docs/json-schemas.md#path-json``, exact variant)."""
        return json_safe(
            {
                "schema_version": PATHS_SCHEMA_VERSION,
                "kind": "path",
                "exact": True,
                "penalty": self.penalty,
                "l1_ratio": self.l1_ratio,
                "solver": self.solver,
                "lambda_max": self.lambda_max,
                "path": {
                    "strengths": self.strengths,
                    "nonzero": self.nonzero,
                    "cv_mean": self.cv_mean,
                    "cv_se": self.cv_se,
                },
                "scoring": self.scoring,
                "folds": self.folds,
                "rule": self.rule,
                "chosen_index": self.chosen_index,
                "lambda_min_index": self.lambda_min_index,
                "lambda_1se_index": self.lambda_1se_index,
                "lambda_min": self.strengths[self.lambda_min_index],
                "lambda_1se": self.strengths[self.lambda_1se_index],
                "test_metric": self.test_metric,
                "test_score": self.test_score,
                "seconds": self.seconds,
                "data": self.data,
            }
        )


def _solver_strengths(penalty: str, l1_ratio: float) -> tuple[float, float]:
    """``(factor, share)``: a strength ``s`` of ``penalty`` is the solvers'
    ``ElasticNet(factor * s, share)`` (``L2(s)`` is ``ElasticNet(2 s, 0)``)."""
    if penalty == "l1":
        return 1.0, 1.0
    if penalty == "l2":
        return 2.0, 0.0
    return 1.0, l1_ratio


def table_groups(bundle: DataBundle) -> list[int] | None:
    """One group id per encoded column of a table bundle (its original column), or None when
    there is no table or every original column owns one encoded column."""
    if bundle.table is None:
        return None
    return table_group_ids(bundle.table.layout.groups_, len(bundle.feature_names))


def linear_regularization_path(
    data: str | Dataset,
    penalty: str = "l1",
    *,
    model: str = "linear",
    n_steps: int = 30,
    ratio: float = 1e-3,
    strength_max: float | None = None,
    l1_ratio: float = 0.5,
    folds: int = 5,
    rule: str = "min",
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    max_train: int | None = None,
    data_seed: int = 0,
) -> LinearPathResult:
    """Solve a linear model's whole path exactly and choose its strength by cross-validation.

    Parameters
    ----------
    data : str or Dataset
    penalty : {"l1", "l2", "elastic_net"}, default="l1"
    model : str, default="linear"
        ``"linear"`` or layer sizes without a hidden layer (``"64-10"``).
    n_steps : int, default=30
        Grid points (>= 2), geometric from ``strength_max`` down to ``strength_max * ratio``.
    ratio : float, default=1e-3
        In (0, 1).
    strength_max : float, optional
        Top of the grid; default λ_max computed from the training and validation rows.
    l1_ratio : float, default=0.5
        Elastic net's L1 share, in (0, 1].
    folds : int, default=5
        Cross-validation folds of the training and validation rows (>= 2), unshuffled
        ``StratifiedKFold`` (classification) or ``KFold``, the same for every strength.
    rule : {"min", "1se"}, default="min"
        λ_min (best mean score) or λ_1se (sparsest within one standard error).
    target, task, mnist_dir, max_train, data_seed
        How the data is loaded and split (see :func:`~regulab.experiment.prepare_data`).

    Returns
    -------
    LinearPathResult

    Examples
    --------
    >>> path = linear_regularization_path("iris", n_steps=4, folds=3, rule="1se")
    >>> path.lambda_1se_index <= path.lambda_min_index, path.chosen_index == path.lambda_1se_index
    (True, True)
    """
    owner = "linear_regularization_path"
    penalties = ("l1", "l2", "elastic_net")
    check_choice("penalty", penalty, penalties, owner=owner)
    check_range("n_steps", n_steps, low=2, integer=True, owner=owner)
    check_range("ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True, owner=owner)
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True, owner=owner)
    check_range("folds", folds, low=2, integer=True, owner=owner)
    if rule not in RULE_NAMES:
        raise InvalidParameterError(
            f"The 'rule' parameter of {owner} must be 'min' or '1se'. Got {rule!r} instead."
        )
    if strength_max is not None:
        check_range("strength_max", strength_max, low=0.0, low_open=True, owner=owner)
    start = time.perf_counter()
    dataset, bundle, base = prepare_experiment(
        data,
        model=model,
        target=target,
        task=task,
        mnist_dir=mnist_dir,
        max_train=max_train,
        data_seed=data_seed,
    )
    probe = base.build_model(bundle.X_train.shape[1], bundle.n_outputs, bundle.task)
    if not isinstance(probe, MLP) or not solvable(probe, ()):
        raise InvalidParameterError(
            f"{owner} solves a linear model (model 'linear' or layer sizes without a hidden "
            f"layer). Got model {model!r}; use regularization_path for a network."
        )
    solver_task = model_task(probe)
    X = np.concatenate([bundle.X_train, bundle.X_val]).astype(np.float64)
    y = np.concatenate([bundle.y_train, bundle.y_val])
    targets = y
    if solver_task == "regression":
        scaling = TargetScaling.fit(y)
        targets = scaling.standardize(torch.as_tensor(y, dtype=torch.float64)).numpy()
    n_classes = probe.architecture.sizes[-1] if solver_task == "multiclass" else None
    factor, share = _solver_strengths(penalty, l1_ratio)
    groups = table_groups(bundle)
    common: dict[str, Any] = {"task": solver_task, "n_classes": n_classes, "groups": groups}
    top = lambda_max(X, targets, l1_ratio=share or L2_SHARE, **common) / factor
    grid = strength_grid(strength_max or top, n=n_steps, eps=ratio)
    path = linear_path(X, targets, factor * grid, l1_ratio=share, **common)
    table = bundle.table
    cv = cv_linear_path(
        X,
        targets,
        folds,
        factor * grid,
        rule=rule,
        l1_ratio=share,
        encode=None if table is None else (lambda train, valid: table.encode(train, valid)[1:]),
        **common,
    )
    ratio_value = l1_ratio if penalty == "elastic_net" else 1.0
    chosen = _path_spec(penalty, float(grid[cv.chosen_index]), ratio_value, base, 0, {})
    final = chosen.config.build_model(X.shape[1], bundle.n_outputs, bundle.task)
    fit_model(final, chosen.config.penalties(), X, y, groups=groups)
    test_name, _ = main_metric(bundle.task)
    test_score = evaluate(final, bundle.X_test, bundle.y_test)[test_name.removeprefix("test_")]
    return LinearPathResult(
        penalty=penalty,
        l1_ratio=l1_ratio if penalty == "elastic_net" else None,
        strengths=[float(s) for s in grid],
        lambda_max=float(top),
        nonzero=[int(n) for n in path.n_nonzero],
        scoring=cv.scoring,
        cv_mean=[float(v) for v in cv.mean],
        cv_se=[float(v) for v in cv.se],
        folds=folds,
        lambda_min_index=cv.best_index,
        lambda_1se_index=cv.one_se_index,
        rule=rule,
        test_metric=test_name,
        test_score=float(test_score),
        solver=path.solver,
        seconds=time.perf_counter() - start,
        data=data_info(dataset, bundle, base),
    )
