"""Regularization paths like glmnet: λ_max, a geometric grid, warm starts and strong rules.

Strengths are Regulab's ``ElasticNet(alpha, l1_ratio)`` strengths ``alpha`` (``l1_ratio=1``
is ``L1(alpha)``), fitted strongest first. Each step starts from the previous solution and
solves on the features the sequential strong rule keeps (Tibshirani et al. 2012: feature ``j``
is dropped when every ``|dLoss/dW[:, j]| < 2 * l1 - l1_previous``), then checks the KKT
conditions on every feature and solves again with the violators added, so the answer is the
exact solution on all features.
"""

from __future__ import annotations

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
from regulab.solvers._owlqn import solver_threads
from regulab.solvers._problem import Problem, make_problem


def lambda_max(
    X: Any, y: Any, *, task: str, n_classes: int | None = None, l1_ratio: float = 1.0
) -> float:
    """The smallest ``alpha`` of ``ElasticNet(alpha, l1_ratio)`` whose fit has all weights zero.

    At the best intercept-only model the weights' gradient is ``G``; every weight stays zero
    exactly while ``alpha * l1_ratio >= max|G|``, so ``alpha_max = max|G| / l1_ratio``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [-1.0], [2.0], [-2.0]])
    >>> lambda_max(X, np.array([1, 0, 1, 0]), task="binary")
    0.75
    """
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True, owner="lambda_max")
    problem = make_problem(X, y, task, n_classes, "cpu", torch.float64)
    return _l1_max(problem) / l1_ratio


def _l1_max(problem: Problem) -> float:
    grad = problem.smooth(problem.intercept_only())[1]
    return float(grad[: problem.n_outputs * problem.n_features].abs().max())


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


def _path_on(
    problem: Problem,
    strengths: np.ndarray,
    l1_ratio: float,
    tol: float,
    max_iter: int,
    screening: bool,
    solver: str,
) -> list[LinearFit]:
    """Warm-started fits along ``strengths`` (strongest first), with strong-rule screening
    when ``screening``, in the threads :func:`solver_threads` picks for the problem."""
    with solver_threads(problem):
        p = problem.n_features
        x = problem.intercept_only()
        l1_prev = _l1_max(problem)
        fits = []
        for alpha in strengths:
            l1, l2 = elastic_net_strengths(float(alpha), l1_ratio)
            problem.l1, problem.l2 = l1, l2
            W = problem.split(x)[0]
            grad_W = problem.split(problem.smooth(x)[1])[0]
            if screening and l1 > 0:
                keep = (grad_W.abs() >= 2 * l1 - l1_prev).any(0) | (W != 0).any(0)
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


def linear_path(
    X: Any,
    y: Any,
    strengths: Any,
    *,
    task: str,
    n_classes: int | None = None,
    l1_ratio: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    screening: bool = True,
    solver: str = "auto",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> LinearPath:
    """Fit ``ElasticNet(alpha, l1_ratio)`` for every ``alpha`` in ``strengths``, warm-started.

    Parameters are those of :func:`fit_linear`; ``strengths`` are sorted strongest first
    (typically ``strength_grid(lambda_max(...))``); ``screening=False`` solves on every
    feature at every step (same answers, slower).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    >>> grid = strength_grid(lambda_max(X, y, task="binary"), n=4, eps=0.01)
    >>> linear_path(X, y, grid, task="binary").n_nonzero.tolist()
    [0, 2, 2, 4]
    """
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, owner="linear_path")
    if solver not in SOLVERS:
        raise InvalidParameterError(
            f"The 'solver' parameter of linear_path must be one of {', '.join(SOLVERS)}. "
            f"Got {solver!r} instead."
        )
    values = check_strengths(strengths)
    problem = make_problem(X, y, task, n_classes, device, dtype)
    fits = _path_on(problem, values, l1_ratio, tol, max_iter, screening, solver)
    return _stack(fits, values, l1_ratio)
