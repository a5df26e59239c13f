"""One exact fit: :func:`fit_linear`, its result :class:`LinearFit` and the strength mapping."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regulab.errors import InvalidParameterError, check_range
from regulab.solvers._fista import group_fista
from regulab.solvers._groups import group_structure
from regulab.solvers._owlqn import solver_threads
from regulab.solvers._problem import Problem, check_task, make_problem
from regulab.solvers._standardize import standardized_lbfgsb

SOLVERS = ("auto", "lbfgs-b", "sklearn", "group-fista")

#: A cold L1 logistic fit on at least 3x this many rows first fits this many randomly chosen
#: rows, then solves all rows from there on that fit's nonzero columns (the KKT check on every
#: column adds any other column that needs a weight, so the answer is the exact optimum).
SUBSAMPLE_ROWS = 10_000


@dataclass
class LinearFit:
    """An exact fit of a linear model in Regulab's penalty semantics.

    Attributes
    ----------
    coef : ndarray of shape (n_outputs, n_features)
        Weights, ``nn.Linear.weight``'s layout (one row for binary and one-column regression).
    intercept : ndarray of shape (n_outputs,)
        Unpenalized intercepts (multiclass: centered to sum zero, which changes no prediction).
    n_iter : int
        Iterations of the solver (quasi-Newton steps, or coordinate-descent passes; a large L1
        logistic fit counts the steps of its warm start on a row subsample too).
    solver : str
        ``"lbfgs-b"`` (L1/elastic net), ``"lbfgs"`` (no L1 term), ``"group-fista"`` (column
        groups), or the scikit-learn estimator that solved a squared loss
        (``"sklearn.ElasticNet"``, ``"sklearn.Ridge"``, ...).
    kkt : float
        Largest KKT violation at exit (minimum-norm subgradient, gradient units).
    converged : bool
        ``kkt <= tol``.
    objective : float
        Mean data loss + ``l1 * sum(|coef|) + l2 * sum(coef ** 2)`` at exit (with groups the
        L1 part is the group lasso ``l1 * sum_h sum_g sqrt(|g|) * ||coef[h, g]||``).
    groups : list of int, optional
        The column groups of the fit (None: every column its own group).
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    solver: str
    kkt: float
    converged: bool
    objective: float
    task: str
    l1: float
    l2: float
    groups: list[int] | None = None

    @property
    def n_nonzero(self) -> int:
        """Number of weights that are not exactly zero."""
        return int(np.count_nonzero(self.coef))

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X @ coef.T + intercept`` of shape (n, n_outputs)."""
        return np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept

    def penalty(self) -> float:
        """The penalty at ``coef``: the L1 (or group lasso) term plus the L2 term."""
        if self.groups is None:
            l1_part = np.abs(self.coef).sum()
        else:
            ids = np.asarray(self.groups)
            blocks = np.zeros((len(self.coef), ids.max() + 1))
            np.add.at(blocks.T, ids, np.square(self.coef.T))
            l1_part = (np.sqrt(blocks) * np.sqrt(np.bincount(ids))).sum()
        return float(self.l1 * l1_part + self.l2 * np.square(self.coef).sum())


def elastic_net_strengths(alpha: float, l1_ratio: float) -> tuple[float, float]:
    """``(l1, l2)`` of Regulab's ``ElasticNet(alpha, l1_ratio)``: ``(a*r, a*(1-r)/2)``.

    ``l1_ratio=1`` is ``L1(alpha)``; ``l1_ratio=0`` is ``L2(alpha / 2)``.

    Examples
    --------
    >>> elastic_net_strengths(0.1, 0.5)
    (0.05, 0.025)
    """
    check_range("alpha", alpha, low=0.0, owner="elastic_net_strengths")
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, owner="elastic_net_strengths")
    return alpha * l1_ratio, alpha * (1.0 - l1_ratio) / 2.0


def sklearn_strength(
    task: str, l1: float, l2: float, n_samples: int, n_outputs: int = 1
) -> dict[str, float]:
    """Constructor arguments of the scikit-learn estimator minimizing the same objective.

    ==========================  ===================================================
    Regulab (mean loss + l1, l2)  scikit-learn
    ==========================  ===================================================
    logistic, any penalty       ``LogisticRegression(C=1/(n*(l1+2*l2)),
                                l1_ratio=l1/(l1+2*l2))``
    squared loss, l1 > 0        ``ElasticNet(alpha=K*(l1/2+l2),
                                l1_ratio=(l1/2)/(l1/2+l2))`` (``Lasso(alpha=K*l1/2)``)
    squared loss, l1 = 0        ``Ridge(alpha=n*K*l2)``
    ==========================  ===================================================

    ``n`` is the number of training rows and ``K`` the number of regression targets (Regulab
    averages the squared error over target columns, scikit-learn sums over them).

    Examples
    --------
    >>> sklearn_strength("binary", l1=0.01, l2=0.0, n_samples=100)
    {'C': 1.0, 'l1_ratio': 1.0}
    >>> sklearn_strength("regression", l1=0.0, l2=0.5, n_samples=10)
    {'alpha': 5.0}
    """
    check_task(task)
    total = l1 + 2.0 * l2
    if total <= 0:
        raise InvalidParameterError(
            "sklearn_strength needs l1 > 0 or l2 > 0 (scikit-learn has no finite strength "
            f"for an unpenalized fit). Got l1={l1!r}, l2={l2!r}."
        )
    if task != "regression":
        return {"C": 1.0 / (n_samples * total), "l1_ratio": l1 / total}
    if l1 > 0:
        return {"alpha": n_outputs * (l1 / 2 + l2), "l1_ratio": (l1 / 2) / (l1 / 2 + l2)}
    return {"alpha": n_samples * n_outputs * l2}


def _sklearn_squared(
    problem: Problem, coef_init: np.ndarray | None, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, str]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet, LinearRegression, Ridge

    X = problem.X.double().cpu().numpy()
    Y = problem.targets.double().cpu().numpy()
    y = Y[:, 0] if Y.shape[1] == 1 else Y
    estimator: Any
    if problem.l1 > 0:
        mapped = sklearn_strength("regression", problem.l1, problem.l2, len(X), Y.shape[1])
        estimator = ElasticNet(
            **mapped, tol=max(tol**2, 1e-15), max_iter=max_iter, warm_start=coef_init is not None
        )
        if coef_init is not None:
            estimator.coef_ = coef_init[0] if Y.shape[1] == 1 else coef_init.copy()
    elif problem.l2 > 0:
        estimator = Ridge(alpha=sklearn_strength("regression", 0.0, problem.l2, len(X))["alpha"])
        estimator.alpha *= Y.shape[1]
    else:
        estimator = LinearRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    n_iter = int(np.max(getattr(estimator, "n_iter_", None) or 1))
    coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(Y.shape[1], -1)
    intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)
    return coef, intercept, n_iter, f"sklearn.{type(estimator).__name__}"


def fit_linear(
    X: Any,
    y: Any,
    *,
    task: str,
    n_classes: int | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    groups: Any = None,
    tol: float = 1e-6,
    max_iter: int = 1000,
    coef_init: Any = None,
    intercept_init: Any = None,
    solver: str = "auto",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> LinearFit:
    """Fit a linear model exactly: mean data loss + ``l1 * sum|W| + l2 * sum W**2``.

    With ``groups`` the L1 part is the group lasso ``l1 * sum_h sum_g sqrt(|g|) *
    ||W[h, g]||_2`` per output row ``h`` (singleton groups: ``l1 * |w|``).

    Parameters
    ----------
    X : array-like of shape (n, p)
    y : array-like
        Class indices (``"multiclass"``), 0/1 labels (``"binary"``, one logit) or targets of
        shape (n,) or (n, K) (``"regression"``; Regulab's trainer standardizes them first, do the
        same to get its semantics).
    task : {"multiclass", "binary", "regression"}
    n_classes : int, optional
        Number of classes for ``"multiclass"`` (default: largest label + 1).
    l1, l2 : float, default=0.0
        Regulab's ``L1(l1)`` and ``L2(l2)`` strengths (see :func:`elastic_net_strengths`).
    groups : sequence of int, optional
        One group id per column (``feature_groups``, e.g. the one-hot columns of one original
        column share an id). None, or every column its own group, fits today's element-wise
        L1 with the solvers below; real groups are solved by ``"group-fista"``.
    tol : float, default=1e-6
        Stop when the largest KKT violation (gradient units) is at most ``tol``.
    max_iter : int, default=1000
        Guard on the iterations; a run stopped by it has ``converged=False``.
    coef_init, intercept_init : array-like, optional
        Warm start (default: all weights zero and the best intercept-only model).
    solver : {"auto", "lbfgs-b", "sklearn", "group-fista"}, default="auto"
        ``"auto"``: ``"group-fista"`` when there are groups of more than one column and
        ``l1 > 0``; otherwise scikit-learn's coordinate descent / Ridge for a squared loss on
        the CPU, L-BFGS-B on split weights (L-BFGS when ``l1 == 0``) otherwise (``"lbfgs-b"``
        forces it). ``"sklearn"`` is for squared loss only.
        ``"group-fista"`` (accelerated proximal gradient with backtracking and adaptive
        restart on centered columns; ``max_iter`` counts its proximal steps) solves any
        groups, singletons included.
    device : str or torch.device, default="cpu"
        Where the losses and gradients are computed (``"cuda"`` on a GPU).
    dtype : torch.dtype, default=torch.float64

    Returns
    -------
    LinearFit

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = (X[:, 0] - X[:, 1] > 0).astype(int)
    >>> fit = fit_linear(X, y, task="binary", l1=0.02)
    >>> fit.converged, fit.coef.shape, fit.n_nonzero
    (True, (1, 5), 2)
    """
    check_range("l1", l1, low=0.0, owner="fit_linear")
    check_range("l2", l2, low=0.0, owner="fit_linear")
    check_range("tol", tol, low=0.0, low_open=True, owner="fit_linear")
    check_range("max_iter", max_iter, low=1, integer=True, owner="fit_linear")
    if solver not in SOLVERS:
        raise InvalidParameterError(
            f"The 'solver' parameter of fit_linear must be one of {', '.join(SOLVERS)}. "
            f"Got {solver!r} instead."
        )
    if solver == "sklearn" and task != "regression":
        raise InvalidParameterError(
            f"solver='sklearn' solves squared loss only; task={task!r} uses 'lbfgs-b'."
        )
    problem = make_problem(X, y, task, n_classes, device, dtype)
    problem.l1, problem.l2 = float(l1), float(l2)
    problem.groups = group_structure(
        groups, problem.n_features, problem.X.device, force=solver == "group-fista"
    )
    if problem.groups is not None and l1 > 0 and solver in ("lbfgs-b", "sklearn"):
        raise InvalidParameterError(
            f"solver={solver!r} solves element-wise L1; column groups need 'group-fista' "
            "(or 'auto')."
        )
    with solver_threads(problem):
        return _fit(problem, coef_init, intercept_init, tol, max_iter, solver)


def _fit(
    problem: Problem, coef_init: Any, intercept_init: Any, tol: float, max_iter: int, solver: str
) -> LinearFit:
    x0 = problem.intercept_only()
    weights, bias = problem.split(x0)
    if coef_init is not None:
        weights.copy_(torch.as_tensor(np.asarray(coef_init, np.float64)).reshape(weights.shape))
    if intercept_init is not None:
        bias.copy_(torch.as_tensor(np.asarray(intercept_init, np.float64).reshape(-1)))
    warm = coef_init is not None or intercept_init is not None
    n = len(problem.X)
    big = n >= 3 * SUBSAMPLE_ROWS
    if not warm and problem.task != "regression" and problem.l1 > 0 and big:
        x, n_iter, name = _from_subsample(problem, tol, max_iter, solver)
    else:
        x, n_iter, name = solve(problem, x0, warm=warm, tol=tol, max_iter=max_iter, solver=solver)
    return finish(problem, x, n_iter, name, tol)


def _from_subsample(
    problem: Problem, tol: float, max_iter: int, solver: str
) -> tuple[torch.Tensor, int, str]:
    """Warm start from a fit on :data:`SUBSAMPLE_ROWS` rows, then the screened exact solve."""
    generator = torch.Generator().manual_seed(0)
    rows = torch.randperm(len(problem.X), generator=generator)[:SUBSAMPLE_ROWS]
    rows = rows.to(problem.X.device)
    sub = problem.rows(rows)
    x_sub, steps, _ = solve(
        sub, sub.intercept_only(), warm=False, tol=tol, max_iter=max_iter, solver=solver
    )
    keep = (sub.split(x_sub)[0] != 0).any(0)
    x, more, name = solve_screened(problem, x_sub, keep, tol=tol, max_iter=max_iter, solver=solver)
    return x, steps + more, name


def solve(
    problem: Problem, x0: torch.Tensor, *, warm: bool, tol: float, max_iter: int, solver: str
) -> tuple[torch.Tensor, int, str]:
    """Minimize ``problem`` from ``x0``: flat solution, iterations and the solver's name."""
    if problem.n_features == 0:  # every feature screened out: the intercept-only model
        return problem.intercept_only(), 0, "intercept-only"
    method = _method(problem, solver)
    if method == "group-fista":
        result = group_fista(problem, x0, tol=tol, max_iter=max_iter)
        return result.x, result.n_iter, "group-fista"
    if method == "sklearn":
        W0 = problem.split(x0)[0].double().cpu().numpy() if warm else None
        coef, intercept, n_iter, name = _sklearn_squared(problem, W0, tol, max_iter)
        x = torch.cat([torch.as_tensor(coef.reshape(-1)), torch.as_tensor(intercept)])
        return x.to(dtype=problem.X.dtype, device=problem.X.device), n_iter, name
    result = standardized_lbfgsb(problem, x0, tol=tol, max_iter=max_iter)
    return result.x, result.n_iter, "lbfgs-b" if problem.l1 > 0 else "lbfgs"


def _method(problem: Problem, solver: str) -> str:
    """Which method :func:`solve` runs: ``"group-fista"``, ``"sklearn"`` or ``"lbfgs-b"``."""
    if problem.groups is not None and (problem.l1 > 0 or solver == "group-fista"):
        return "group-fista"
    on_cpu = problem.X.device.type == "cpu"
    if problem.task == "regression" and (solver == "sklearn" or (solver == "auto" and on_cpu)):
        return "sklearn"
    return "lbfgs-b"


def solve_screened(
    problem: Problem, x: torch.Tensor, keep: torch.Tensor, *, tol: float, max_iter: int, solver: str
) -> tuple[torch.Tensor, int, str]:
    """Solve on the columns ``keep`` from ``x``, then add every column that violates the KKT
    conditions on all columns and solve again, until none does: the exact solution."""
    W, b = problem.split(x)
    if _method(problem, solver) == "lbfgs-b":
        problem.standardized()  # once for every column subset below (and every path step)
    if problem.groups is not None:
        keep = problem.groups.whole(keep)
    n_iter = 0
    while True:
        sub = problem.columns(keep)
        x_sub, steps, name = solve(
            sub,
            torch.cat([W[:, keep].reshape(-1), b]),
            warm=True,
            tol=tol,
            max_iter=max_iter,
            solver=solver,
        )
        n_iter += steps
        W_sub, b = sub.split(x_sub)
        W = torch.zeros_like(W)
        W[:, keep] = W_sub
        x = torch.cat([W.reshape(-1), b])
        grad_W = problem.split(problem.smooth(x)[1])[0]
        violators = ~keep & (problem.excess(grad_W, problem.l1) > tol)
        if not bool(violators.any()):
            return x, n_iter, name
        keep = keep | violators


def finish(problem: Problem, x: torch.Tensor, n_iter: int, name: str, tol: float) -> LinearFit:
    W, b = problem.split(x)
    if problem.task == "multiclass":  # softmax scores are unchanged by a shift over classes
        b -= b.mean()
        if not problem.l1 and not problem.l2:
            W -= W.mean(0, keepdim=True)
    kkt = problem.kkt(x)
    return LinearFit(
        coef=W.detach().double().cpu().numpy().copy(),
        intercept=b.detach().double().cpu().numpy().copy(),
        n_iter=n_iter,
        solver=name,
        kkt=kkt,
        converged=kkt <= tol,
        objective=problem.objective(x),
        task=problem.task,
        l1=problem.l1,
        l2=problem.l2,
        groups=None if problem.groups is None else list(problem.groups.ids),
    )
