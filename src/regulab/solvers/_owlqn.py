"""OWL-QN: limited-memory quasi-Newton for smooth losses plus an L1 term (Andrew & Gao 2007).

Without an L1 term it is plain L-BFGS. The iterate stays in one orthant per step (the sign of
each weight, or of its negative pseudo-gradient at zero), so weights reach exact zeros. The
run stops when the largest KKT violation (the minimum-norm subgradient, in gradient units) is
at most ``tol``; ``max_iter`` only guards against a run that does not get there.

The solvers run SciPy's L-BFGS-B (:mod:`._lbfgsb`), which zeroes weights faster; OWL-QN
finishes its runs where the objective no longer shows a step's decrease: its line search
accepts a step whose objective is equal in the last bits, and the KKT test judges the result.
This module also holds what every solver shares (:class:`SolverResult`, :func:`solver_threads`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from regulab.solvers._problem import Problem
from regulab.training._trainer import _torch_threads

#: Below this many multiply-adds per product (rows x features x outputs) the solver uses one
#: CPU thread: the products take microseconds and more threads only add synchronization.
ONE_THREAD_BELOW = 4_000_000


def solver_threads(problem: Problem) -> AbstractContextManager[None]:
    """One CPU thread for a small problem, the current setting otherwise."""
    work = problem.X.shape[0] * problem.size
    small = problem.X.device.type == "cpu" and work < ONE_THREAD_BELOW
    return _torch_threads(1 if small else torch.get_num_threads())


@dataclass
class SolverResult:
    """Flat parameters at exit, with the iterations, KKT violation and objective."""

    x: torch.Tensor
    n_iter: int
    kkt: float
    objective: float
    converged: bool


def _direction(
    pg: torch.Tensor, memory: list[tuple[torch.Tensor, torch.Tensor, float]]
) -> torch.Tensor:
    """``-H @ pg`` by the L-BFGS two-loop recursion."""
    q = pg.clone()
    alphas = []
    for s, y, rho in reversed(memory):
        a = rho * float(torch.dot(s, q))
        alphas.append(a)
        q.add_(y, alpha=-a)
    if memory:
        s, y, _ = memory[-1]
        q.mul_(float(torch.dot(s, y)) / float(torch.dot(y, y)))
    for (s, y, rho), a in zip(memory, reversed(alphas)):
        b = rho * float(torch.dot(y, q))
        q.add_(s, alpha=a - b)
    return -q


def owlqn(
    problem: Problem, x0: torch.Tensor, *, tol: float, max_iter: int, memory_size: int = 10
) -> SolverResult:
    """Minimize ``problem``'s objective from ``x0`` (not modified)."""
    cut = problem.n_outputs * problem.n_features
    penalized = torch.zeros_like(x0, dtype=torch.bool)
    penalized[:cut] = problem.l1 > 0
    x = x0.clone()
    f, grad = problem.smooth(x)
    F = f + problem.l1_term(x)
    memory: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    n_iter = 0
    while True:
        pg = problem.pseudo_gradient(x, grad)
        kkt = problem.violation(x, grad)
        if kkt <= tol or n_iter >= max_iter:
            break
        n_iter += 1
        d = _direction(pg, memory)
        d = torch.where(penalized & (d * pg >= 0), torch.zeros_like(d), d)
        slope = float(torch.dot(pg, d))
        if slope >= 0:  # the memory gave no descent direction: restart from steepest descent
            memory.clear()
            d, slope = -pg, -float(torch.dot(pg, pg))
        orthant = torch.where(x != 0, torch.sign(x), -torch.sign(pg))
        step = 1.0 if memory else min(1.0, 1.0 / float(pg.norm()))
        for _ in range(60):
            x_new = x + step * d
            x_new = torch.where(penalized & (x_new * orthant <= 0), torch.zeros_like(x), x_new)
            f_new, grad_new = problem.smooth(x_new)
            F_new = f_new + problem.l1_term(x_new)
            if F_new <= F + 1e-4 * float(torch.dot(pg, x_new - x)):
                break
            step *= 0.5
        else:  # no decrease left at this precision
            break
        if bool(torch.equal(x_new, x)):  # the orthant projection undid the whole step
            if not memory:
                break
            memory.clear()  # retry from steepest descent
            continue
        s, y = x_new - x, grad_new - grad
        sy = float(torch.dot(s, y))
        if sy > 1e-12 * float(torch.dot(y, y)) and sy > 0:
            memory.append((s, y, 1.0 / sy))
            if len(memory) > memory_size:
                memory.pop(0)
        x, f, grad, F = x_new, f_new, grad_new, F_new
    return SolverResult(x, n_iter, kkt, F, kkt <= tol)
