"""L-BFGS-B on centered, rescaled columns: the same optimum in fewer quasi-Newton steps.

The intercepts are not penalized, so centering the columns of ``X`` is a change of variables
(the intercepts absorb ``W @ mean``), and dividing column ``j`` by its standard deviation
``s_j`` is one too when the penalties follow: the weight becomes ``s_j * W[:, j]`` and its L1
and L2 strengths ``l1 / s_j`` and ``l2 / s_j ** 2`` (``Problem.col_scale``). The optimum is the
same point; the quasi-Newton method, whose first steps are gradient steps, sees a far better
conditioned problem (raw pixels share one large mean direction).

A constant column ``c`` is dropped and its weight is zero: its gradient is ``c`` times the
intercepts' gradient, which is zero at the optimum, so weight zero satisfies the KKT conditions
for any ``l1 >= 0`` (and is the only optimum when ``l1 + l2 > 0``).

The stopping test is the original problem's: the inner problem carries the columns' means and
scales (``Problem.violation`` maps its gradient back), so ``tol`` means what it means without
the change of variables.
"""

from __future__ import annotations

import torch

from regulab.solvers._lbfgsb import lbfgsb
from regulab.solvers._owlqn import SolverResult
from regulab.solvers._problem import Problem


def standardized_lbfgsb(
    problem: Problem, x0: torch.Tensor, *, tol: float, max_iter: int
) -> SolverResult:
    """Minimize ``problem`` from ``x0`` by L-BFGS-B on standardized columns (same optimum)."""
    K = problem.n_outputs
    Z, mean, scale = problem.standardized()
    keep = scale > 0
    if not bool(keep.any()):  # every column constant: the intercept-only model is optimal
        return lbfgsb(problem, x0, tol=tol, max_iter=max_iter)
    mean_k, scale_k = mean[keep], scale[keep]
    inner = Problem(
        Z if bool(keep.all()) else Z[:, keep],
        problem.targets,
        problem.task,
        K,
        problem.l1,
        problem.l2,
        col_mean=mean_k,
        col_scale=scale_k,
    )
    W0, b0 = problem.split(x0)
    x = torch.cat([(W0[:, keep] * scale_k).reshape(-1), b0 + W0 @ mean])
    result = lbfgsb(inner, x, tol=tol, max_iter=max_iter)
    W_in, b_in = inner.split(result.x)
    W = torch.zeros(K, problem.n_features, dtype=x.dtype, device=x.device)
    W[:, keep] = W_in / scale_k
    result.x = torch.cat([W.reshape(-1), b_in - W @ mean])
    return result
