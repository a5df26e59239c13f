"""Regularization paths like glmnet: λ_max, a geometric grid, warm starts and strong rules.

Strengths are Regulab's ``ElasticNet(alpha, l1_ratio)`` strengths ``alpha`` (``l1_ratio=1``
is ``L1(alpha)``), fitted strongest first. Each step starts from the previous solution and
solves on the features the sequential strong rule keeps (Tibshirani et al. 2012: feature ``j``
is dropped when every ``|dLoss/dW[:, j]| < 2 * l1 - l1_previous``), then checks the KKT
conditions on every feature and solves again with the violators added, so the answer is the
exact solution on all features. With column ``groups`` (the group lasso of
:func:`~regulab.solvers.fit_linear`) the rule screens whole groups: group ``g`` is dropped
when every ``||dLoss/dW[h, g]|| < sqrt(|g|) * (2 * l1 - l1_previous)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regulab.errors import InvalidParameterError, check_range
from regulab.solvers._fit import (
    SOLVERS,
    LinearFit,
    elastic_net_strengths,
    finish,
    solve_screened,
)
from regulab.solvers._groups import group_structure
from regulab.solvers._owlqn import solver_threads
from regulab.solvers._problem import Problem, make_problem


def lambda_max(
    X: Any,
    y: Any,
    *,
    task: str,
    l1_ratio: float = 1.0,
    groups: Sequence[int] | None = None,
    n_classes: int | None = None,
) -> float:
    """The smallest ``alpha`` of ``ElasticNet(alpha, l1_ratio)`` whose fit has all weights zero.

    At the best intercept-only model the weights' gradient is ``G``; every weight stays zero
    exactly while ``alpha * l1_ratio >= max|G|``, so ``alpha_max = max|G| / l1_ratio``. With
    column ``groups``: ``max_{h,g} ||G[h, g]|| / (sqrt(|g|) * l1_ratio)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [-1.0], [2.0], [-2.0]])
    >>> lambda_max(X, np.array([1, 0, 1, 0]), task="binary")
    0.75
    """
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True, owner="lambda_max")
    problem = make_problem(X, y, task, n_classes, "cpu", torch.float64)
    problem.groups = group_structure(groups, problem.n_features, "cpu")
    return problem.l1_max() / l1_ratio


def strength_grid(lmax: float, n: int = 100, eps: float = 1e-3) -> np.ndarray:
    """``n`` strengths from ``lmax`` down to ``eps * lmax``, evenly spaced in log scale.

    Examples
    --------
    >>> strength_grid(1.0, n=3, eps=0.01).tolist()
    [1.0, 0.1, 0.01]
    """
    check_range("lmax", lmax, low=0.0, low_open=True, owner="strength_grid")
    check_range("n", n, low=1, integer=True, owner="strength_grid")
    check_range("eps", eps, low=0.0, high=1.0, low_open=True, owner="strength_grid")
    return np.geomspace(lmax, lmax * eps, n)


@dataclass
class LinearPath:
    """Solutions along a path, strongest strength first (arrays indexed by step)."""

    strengths: np.ndarray
    l1_ratio: float
    coefs: np.ndarray  # (steps, n_outputs, n_features)
    intercepts: np.ndarray  # (steps, n_outputs)
    n_nonzero: np.ndarray
    kkt: np.ndarray
    n_iter: np.ndarray
    objectives: np.ndarray
    solver: str

    def fit(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(coef, intercept)`` at one step."""
        return self.coefs[step], self.intercepts[step]


def _path_on(problem: Problem, strengths: np.ndarray, settings: PathSettings) -> list[LinearFit]:
    """Warm-started fits along ``strengths`` (strongest first), with strong-rule screening
    when ``settings.screening``, in the threads :func:`solver_threads` picks for the problem."""
    tol, max_iter, solver = settings.tol, settings.max_iter, settings.solver
    with solver_threads(problem):
        p = problem.n_features
        x = problem.intercept_only()
        l1_prev = problem.l1_max()
        fits = []
        for alpha in strengths:
            l1, l2 = elastic_net_strengths(float(alpha), settings.l1_ratio)
            problem.l1, problem.l2 = l1, l2
            W = problem.split(x)[0]
            grad_W = problem.split(problem.smooth(x)[1])[0]
            if settings.screening and l1 > 0:
                keep = (problem.excess(grad_W, 2 * l1 - l1_prev) >= 0) | (W != 0).any(0)
            else:
                keep = torch.ones(p, dtype=torch.bool, device=x.device)
            x, n_iter, name = solve_screened(
                problem, x, keep, tol=tol, max_iter=max_iter, solver=solver
            )
            fits.append(finish(problem, x, n_iter, name, tol))
            l1_prev = l1
        return fits


def _stack(fits: list[LinearFit], strengths: np.ndarray, l1_ratio: float) -> LinearPath:
    return LinearPath(
        strengths=strengths,
        l1_ratio=l1_ratio,
        coefs=np.stack([f.coef for f in fits]),
        intercepts=np.stack([f.intercept for f in fits]),
        n_nonzero=np.array([f.n_nonzero for f in fits]),
        kkt=np.array([f.kkt for f in fits]),
        n_iter=np.array([f.n_iter for f in fits]),
        objectives=np.array([f.objective for f in fits]),
        solver=next((f.solver for f in fits if f.solver != "intercept-only"), fits[-1].solver),
    )


def check_strengths(strengths: Any) -> np.ndarray:
    """The strengths as a float array sorted strongest first; each must be positive."""
    values = np.sort(np.asarray(strengths, dtype=np.float64).reshape(-1))[::-1]
    if len(values) == 0 or not np.all(np.isfinite(values)) or values[-1] <= 0:
        raise InvalidParameterError(
            f"The 'strengths' of a path must be positive finite floats. Got {strengths!r}."
        )
    return values.copy()


@dataclass(frozen=True)
class PathSettings:
    """The keyword options of :func:`linear_path` and :func:`cv_linear_path`.

    Attributes
    ----------
    n_classes : int, optional
        Number of classes for ``"multiclass"`` (default: largest label + 1).
    l1_ratio : float, default=1.0
        The L1 share of ``ElasticNet(alpha, l1_ratio)`` along the path (1: ``L1(alpha)``).
    groups : sequence of int, optional
        One group id per column: the L1 part becomes the group lasso (see
        :func:`~regulab.solvers.fit_linear`) and screening keeps or drops whole groups.
    tol, max_iter, solver, device, dtype
        As in :func:`~regulab.solvers.fit_linear`.
    screening : bool, default=True
        Strong-rule screening with a KKT check on every feature; False solves on every
        feature at every step (same answers, slower).
    """

    n_classes: int | None = None
    l1_ratio: float = 1.0
    groups: Sequence[int] | None = None
    tol: float = 1e-6
    max_iter: int = 1000
    screening: bool = True
    solver: str = "auto"
    device: str | torch.device = "cpu"
    dtype: torch.dtype = torch.float64

    def __post_init__(self) -> None:
        check_range("l1_ratio", self.l1_ratio, low=0.0, high=1.0, owner="linear_path")
        if self.solver not in SOLVERS:
            raise InvalidParameterError(
                f"The 'solver' parameter of linear_path must be one of {', '.join(SOLVERS)}. "
                f"Got {self.solver!r} instead."
            )

    def problem(self, X: Any, y: Any, task: str) -> Problem:
        """The validated data as a :class:`Problem` with its groups."""
        problem = make_problem(X, y, task, self.n_classes, self.device, self.dtype)
        problem.groups = group_structure(
            self.groups,
            problem.n_features,
            problem.X.device,
            force=self.solver == "group-fista",
        )
        return problem

    def path(self, problem: Problem, strengths: np.ndarray) -> list[LinearFit]:
        """Warm-started fits of ``problem`` along ``strengths`` (strongest first)."""
        return _path_on(problem, strengths, self)


def linear_path(X: Any, y: Any, strengths: Any, *, task: str, **options: Any) -> LinearPath:
    """Fit ``ElasticNet(alpha, l1_ratio)`` for every ``alpha`` in ``strengths``, warm-started.

    ``strengths`` are sorted strongest first (typically ``strength_grid(lambda_max(...))``);
    ``task`` is that of :func:`~regulab.solvers.fit_linear`; ``options`` are the fields of
    :class:`PathSettings`: ``n_classes``, ``l1_ratio`` (1.0), ``groups``, ``tol`` (1e-6),
    ``max_iter`` (1000), ``screening`` (True), ``solver`` ("auto"), ``device`` ("cpu") and
    ``dtype`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    >>> grid = strength_grid(lambda_max(X, y, task="binary"), n=4, eps=0.01)
    >>> linear_path(X, y, grid, task="binary").n_nonzero.tolist()
    [0, 2, 2, 4]
    >>> pairs = [0, 0, 1, 1, 2, 2]  # the group lasso: columns 0-1, 2-3, 4-5 enter together
    >>> grid = strength_grid(lambda_max(X, y, task="binary", groups=pairs), n=4, eps=0.01)
    >>> linear_path(X, y, grid, task="binary", groups=pairs).n_nonzero.tolist()
    [0, 2, 2, 6]
    """
    settings = PathSettings(**options)
    values = check_strengths(strengths)
    fits = settings.path(settings.problem(X, y, task), values)
    return _stack(fits, values, settings.l1_ratio)
