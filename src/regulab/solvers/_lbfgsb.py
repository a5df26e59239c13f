"""L-BFGS-B on split weights: the quasi-Newton solver for smooth losses plus an L1 term.

An L1 term is not differentiable at zero, but it is linear once each weight is split in its
positive and negative parts, ``W = P - M`` with ``P, M >= 0``: the objective becomes the smooth
loss plus ``l1 * sum(P + M)``, a smooth function under bounds. SciPy's L-BFGS-B (the routine
behind scikit-learn's ``lbfgs``) minimizes it; its projected steps set whole sets of weights to
exactly zero at once, where an orthant-wise method (OWL-QN) zeroes them a few per step. At the
optimum one part of each weight is zero, and the projected gradient of the split problem is
the minimum-norm subgradient of the original one. Without an L1 term the weights are not split
and the run is plain L-BFGS.

The losses and gradients are PyTorch's (on the problem's device and dtype); SciPy's updates run
in float64 on the CPU. The run stops when the largest KKT violation of the original problem
(``Problem.violation``: the minimum-norm subgradient, in gradient units) is at most ``tol``;
``max_iter`` only guards against a run that does not get there. Near the resolution of the
objective's dtype (a KKT tolerance of about 1e-9 in float64) the objective no longer shows the
decrease of a step and SciPy's run ends; OWL-QN (:mod:`._owlqn`), which accepts such steps and
is judged by the KKT test alone, finishes from there.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from scipy.optimize import Bounds, OptimizeResult, minimize
from threadpoolctl import ThreadpoolController

from regulab.solvers._owlqn import SolverResult, owlqn
from regulab.solvers._problem import Problem

#: Pairs of (step, gradient change) the quasi-Newton memory keeps.
MEMORY = 10


@cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded (NumPy's and SciPy's), found once: finding them reads the
    process's memory map."""
    return ThreadpoolController()


class _Split:
    """The problem in split variables ``z = [P, M, b]`` (or ``[W, b]`` without L1)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.cut = problem.n_outputs * problem.n_features
        self.split = problem.l1 > 0
        lam = torch.as_tensor(problem.weight_l1(torch.float64), dtype=torch.float64).cpu()
        self.lam = lam.expand(self.cut).numpy() if self.split else None
        self.last: tuple[np.ndarray, torch.Tensor, float, torch.Tensor] | None = None

    def pack(self, x: torch.Tensor) -> np.ndarray:
        flat = x.detach().double().cpu().numpy()
        if not self.split:
            return flat
        W, b = flat[: self.cut], flat[self.cut :]
        return np.concatenate([np.maximum(W, 0.0), np.maximum(-W, 0.0), b])

    def unpack(self, z: np.ndarray) -> torch.Tensor:
        flat = (
            z
            if not self.split
            else np.concatenate([z[: self.cut] - z[self.cut : 2 * self.cut], z[2 * self.cut :]])
        )
        X = self.problem.X
        return torch.as_tensor(flat, dtype=X.dtype).to(X.device)

    def bounds(self) -> Bounds | None:
        if not self.split:
            return None
        lower = np.zeros(2 * self.cut + self.problem.n_outputs)
        lower[2 * self.cut :] = -np.inf
        return Bounds(lower, np.inf)

    def value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        x = self.unpack(z)
        f, grad = self.problem.smooth(x)
        self.last = (z.copy(), x, f, grad)
        g = grad.double().cpu().numpy()
        if not self.split:
            return f, g
        assert self.lam is not None
        parts = z[: 2 * self.cut].reshape(2, -1)
        g_W, g_b = g[: self.cut], g[self.cut :]
        value = f + float(self.lam @ parts.sum(0))
        return value, np.concatenate([g_W + self.lam, self.lam - g_W, g_b])

    def state(self, z: np.ndarray) -> tuple[torch.Tensor, float, torch.Tensor]:
        """Parameters, smooth loss and its gradient at ``z`` (the last evaluation's when it
        was there)."""
        if self.last is not None and np.array_equal(self.last[0], z):
            return self.last[1], self.last[2], self.last[3]
        x = self.unpack(z)
        return (x, *self.problem.smooth(x))


def lbfgsb(
    problem: Problem, x0: torch.Tensor, *, tol: float, max_iter: int, memory_size: int = MEMORY
) -> SolverResult:
    """Minimize ``problem``'s objective from ``x0`` (not modified)."""
    split = _Split(problem)
    z0 = split.pack(x0)
    x, f, grad = split.state(z0)
    kkt = problem.violation(x, grad)
    n_iter = 0
    if kkt > tol:
        result = _minimize(split, z0, tol, max_iter, memory_size)
        n_iter = int(result.nit)
        x, f, grad = split.state(result.x)
        kkt = problem.violation(x, grad)
    if kkt > tol and n_iter < max_iter:  # stopped where the objective shows no more decrease
        polished = owlqn(problem, x, tol=tol, max_iter=max_iter - n_iter, memory_size=memory_size)
        polished.n_iter += n_iter
        return polished
    return SolverResult(x, n_iter, kkt, f + problem.l1_term(x), kkt <= tol)


def _minimize(
    split: _Split, z0: np.ndarray, tol: float, max_iter: int, memory_size: int
) -> OptimizeResult:
    """One SciPy L-BFGS-B run from ``z0``, stopped by :class:`_StopAt`."""
    # NumPy's and SciPy's idle BLAS threads would spin on the cores PyTorch's products use
    with _blas().limit(limits=1, user_api="blas"):
        return minimize(
            split.value_and_grad,
            z0,
            jac=True,
            method="L-BFGS-B",
            bounds=split.bounds(),
            callback=_StopAt(split, tol),
            options={
                "maxiter": max_iter,
                "maxfun": 20 * max_iter,
                "maxcor": memory_size,
                "gtol": 0.0,
                "ftol": 0.0,
            },
        )


class _StopAt:
    """Callback ending the run once the original problem's KKT violation is at most ``tol``."""

    def __init__(self, split: _Split, tol: float) -> None:
        self.split, self.tol = split, tol

    def __call__(self, intermediate_result: OptimizeResult) -> None:
        x, _, grad = self.split.state(intermediate_result.x)
        if self.split.problem.violation(x, grad) <= self.tol:
            raise StopIteration
