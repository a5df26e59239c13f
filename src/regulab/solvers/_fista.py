"""Accelerated proximal gradient (FISTA) for the group lasso, with backtracking and restarts.

Beck & Teboulle (2009) with a backtracking step (the step may grow again by 1/0.9 each
iteration, so it follows the local curvature) and O'Donoghue & Candès' (2015) adaptive restart:
the momentum is dropped when the step and the momentum disagree (``(y - z) . (z - x) > 0``),
and a step that would raise the objective is not taken (monotone: the next step starts from
the last point without momentum). The proximal step of the group term is the group
soft-threshold; intercepts are not penalized.

The columns are centered first (the intercepts absorb ``W @ mean``: the same optimum, a far
better conditioned problem). The run stops when the largest KKT violation of the original
problem (per block: :mod:`._groups`) is at most ``tol``; ``max_iter`` only guards against a
run that does not get there.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from regulab._groups import prox_group_l1_
from regulab.solvers._owlqn import SolverResult
from regulab.solvers._problem import Problem

#: Objective changes below this (relative) are rounding: near the optimum, a step that lowers
#: the KKT violation may change the objective by less than its last bits.
ROUNDOFF = 1e-12
#: Curvature of each loss in its scores, per row: the bound behind the first step size.
CURVATURE = {"regression": 2.0, "binary": 0.25, "multiclass": 0.5}


def _lipschitz(problem: Problem) -> float:
    """An upper bound of the smooth part's gradient Lipschitz constant (power iteration on
    ``X``, with a 10% margin over the estimate)."""
    X = problem.X
    v = torch.ones(X.shape[1], dtype=X.dtype, device=X.device) / max(1, X.shape[1]) ** 0.5
    sigma2 = 0.0
    for _ in range(20):
        u = X.T @ (X @ v)
        sigma2 = float(u.norm())
        if sigma2 == 0.0:
            break
        v = u / sigma2
    per_output = problem.n_outputs if problem.task == "regression" else 1
    curvature = CURVATURE[problem.task] / (len(X) * per_output)
    return 1.1 * curvature * max(sigma2, 1e-12) + 2.0 * problem.l2


def group_fista(problem: Problem, x0: torch.Tensor, *, tol: float, max_iter: int) -> SolverResult:
    """Minimize ``problem`` (which has ``groups``) from ``x0`` (not modified)."""
    assert problem.groups is not None and problem.col_scale is None
    mean = problem.X.mean(0)
    inner = replace(problem, X=problem.X - mean, col_mean=mean, standard=None)
    W0, b0 = problem.split(x0)
    x = torch.cat([W0.reshape(-1), b0 + W0 @ mean])
    cut = problem.n_outputs * problem.n_features
    groups, l1 = inner.groups, inner.l1
    assert groups is not None

    def prox(point: torch.Tensor, step: float) -> torch.Tensor:
        W = point[:cut].view(problem.n_outputs, -1)
        shrunk = prox_group_l1_(W.clone(), step * l1, groups, axis=1)
        return torch.cat([shrunk.reshape(-1), point[cut:]])

    L = _lipschitz(inner)
    f_x, g_x = inner.smooth(x)
    F_x = f_x + inner.l1_term(x)
    y, f_y, g_y, t = x, f_x, g_x, 1.0
    n_iter = 0
    kkt = inner.violation(x, g_x)
    while kkt > tol and n_iter < max_iter:
        n_iter += 1
        L *= 0.9
        for _ in range(60):
            z = prox(y - g_y / L, 1.0 / L)
            f_z, g_z = inner.smooth(z)
            d = z - y
            bound = f_y + float(torch.dot(g_y, d)) + 0.5 * L * float(torch.dot(d, d))
            if f_z <= bound + 1e-13 * abs(f_y):
                break
            L *= 2.0
        F_z = f_z + inner.l1_term(z)
        if F_z > F_x + ROUNDOFF * max(1.0, abs(F_x)):  # not a descent: restart, no momentum
            if y is x:
                break  # no decrease left at this precision
            y, f_y, g_y, t = x, f_x, g_x, 1.0
            continue
        restart = float(torch.dot(y - z, z - x)) > 0
        t_next = 1.0 if restart else (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        momentum = 0.0 if restart else (t - 1.0) / t_next
        if momentum:
            y = z + momentum * (z - x)
            f_y, g_y = inner.smooth(y)
        else:
            y, f_y, g_y = z, f_z, g_z
        x, f_x, g_x, F_x, t = z, f_z, g_z, F_z, t_next
        kkt = inner.violation(x, g_x)
    W, b = inner.split(x)
    out = torch.cat([W.reshape(-1), b - W @ mean])
    return SolverResult(out, n_iter, kkt, F_x, kkt <= tol)
