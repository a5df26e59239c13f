"""The group solver (``group-fista``) against today's exact solvers, timed in the same run.

Run::

    .venv/bin/python benchmarks/group_solver_speed.py            # 3 repeats, medians

On generated data (n rows, 50 columns in 10 groups of 5, one class-dependent group signal):

(a) singleton groups, the same problem both ways: ``fit_linear(solver="group-fista")`` against
    the default solver (L-BFGS-B for logistic loss, scikit-learn's coordinate descent for squared
    loss); the objectives are printed to show it is one optimum.
(b) real groups: ``fit_linear(groups=...)`` (group-fista) beside the element-wise L1 fit of
    the same strength (default solver), and a 20-step group path with screening.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from regulab.solvers import fit_linear, lambda_max, linear_path, strength_grid

GROUPS = np.repeat(np.arange(10), 5)


def _data(task: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(GROUPS)))
    z = X[:, :5].sum(1) * 0.5 - X[:, 5:10].sum(1) * 0.3 + rng.normal(size=n)
    if task == "regression":
        return X, z
    if task == "binary":
        return X, (z > 0).astype(np.int64)
    return X, np.digitize(z, [-1.0, 1.0])


def _median(repeats: int, fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main(repeats: int = 3, n: int = 2000) -> None:
    torch.set_num_threads(1)
    print(f"n={n}, p={len(GROUPS)}, 10 groups of 5, tol=1e-6, medians of {repeats}, 1 thread")
    print(f"{'case':44s} {'seconds':>8s} {'ratio':>6s} {'iters':>6s} {'objective':>12s}")
    for task in ("binary", "multiclass", "regression"):
        X, y = _data(task, n)
        l1 = 0.2 * lambda_max(X, y, task=task)
        base, t_base = _median(repeats, fit_linear, X, y, task=task, l1=l1)
        ours, t_ours = _median(repeats, fit_linear, X, y, task=task, l1=l1, solver="group-fista")
        grouped, t_group = _median(repeats, fit_linear, X, y, task=task, l1=l1, groups=GROUPS)
        rows = [
            (f"{task}: singletons, {base.solver}", base, t_base),
            (f"{task}: singletons, group-fista", ours, t_ours),
            (f"{task}: 10 groups of 5, group-fista", grouped, t_group),
        ]
        for name, fit, seconds in rows:
            print(
                f"{name:44s} {seconds:8.3f} {seconds / t_base:6.2f} {fit.n_iter:6d} "
                f"{fit.objective:12.8f}"
            )
        grid = strength_grid(lambda_max(X, y, task=task, groups=GROUPS), n=20, eps=0.01)
        _, t_path = _median(1, linear_path, X, y, grid, task=task, groups=GROUPS)
        print(f"{task + ': 20-step group path (screened)':44s} {t_path:8.3f}")


if __name__ == "__main__":
    main()
