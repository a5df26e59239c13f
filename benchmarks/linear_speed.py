"""Exact linear solvers (``regulab.solvers``) against scikit-learn, baselines timed in the same run.

Run::

    .venv/bin/python benchmarks/linear_speed.py --mnist-dir ../shared/data/mnist
    .venv/bin/python benchmarks/linear_speed.py --quick      # 10k MNIST rows, one repeat

(a) MNIST, multinomial L1 logistic regression on the 60,000 training rows (pixels / 255).
The L1 strength is picked on a validation split of the training rows (50,000 fit / 10,000
validation): down a quarter-decade path from 4e-4, warm-started, until validation accuracy
stops improving, the most accurate candidate with at least 60% exact zeros; the test rows are
scored once, after the pick. Targets: >= 92.5% test accuracy, >= 60% zero weights, and the
final fit in at most 1/3 of the time of ``LogisticRegression(lbfgs, L2, C=1)`` (the seed's
reference) with ``max_iter=1000``: the default 100 iterations stop short of its own ``tol=1e-4``
on MNIST (ConvergenceWarning), and the baseline is the fit a user would run that converges; its
iteration count is printed. What is timed for regulab is the final fit at the picked strength
on all training rows; the pick's own time (a path on the fit rows) is reported beside it.

(b) A 100-step L1 path with 5-fold cross-validation on 2,000 x 300 standardized rows whose
label depends on 10 features: ``cv_linear_path`` plus the refit at λ_min, against
``LogisticRegressionCV(solver="liblinear", penalty="l1")`` with the same folds, the same grid
(``C = 1 / (n_train * l1)``) and ``scoring="neg_log_loss"``. Target: at most half its time.
liblinear penalizes its intercept, so its pick may differ by a step; both picks are printed.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np
import torch
from _common import (
    DEFAULT_MNIST_DIR,
    Samples,
    Table,
    load_mnist_arrays,
    machine_summary,
    threads,
    time_call,
    verdict,
)
from _common import write_json as write_json_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from regulab.solvers import (
    cv_linear_path,
    fit_linear,
    lambda_max,
    sklearn_strength,
    strength_grid,
)

# Candidates, strongest first: quarter-decade steps (x0.75) from 4e-4 down. The pick walks
# down the path, warm-started, and stops once validation accuracy has not improved for
# MNIST_PATIENCE steps or the weights' zero share falls below 60% (the target); the old grid
# stopped at 1e-4, where validation accuracy was still rising.
MNIST_L1 = tuple(float(f"{4e-4 * 0.75**k:.2g}") for k in range(12))
MNIST_PATIENCE = 2
MNIST_TOL = 1e-4  # KKT violation (gradient units) at which the MNIST fits stop
LBFGS_MAX_ITER = 1000  # the baseline's guard: the default 100 does not converge on MNIST


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _quiet(fn: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return fn()


def _fit_mnist(X: np.ndarray, y: np.ndarray, l1: float, warm: Any = None) -> Any:
    """The multinomial L1 fit every MNIST figure uses (float32, KKT <= MNIST_TOL), warm-started
    from ``warm``'s weights when given."""
    return fit_linear(
        X,
        y,
        task="multiclass",
        n_classes=10,
        l1=l1,
        tol=MNIST_TOL,
        max_iter=500,
        coef_init=None if warm is None else warm.coef,
        intercept_init=None if warm is None else warm.intercept,
        dtype=torch.float32,
    )


def _walk_path(
    X: np.ndarray, y: np.ndarray, fit_rows: np.ndarray, valid_rows: np.ndarray
) -> list[tuple[float, float, float]]:
    """``(l1, validation accuracy, zero share)`` down :data:`MNIST_L1`, each fit warm-started
    from the one before, until :data:`MNIST_PATIENCE` steps bring no better validation
    accuracy or fewer than 60% zeros (validation rows only; the test rows are not used)."""
    candidates: list[tuple[float, float, float]] = []
    fit = None
    for l1 in MNIST_L1:
        fit = _fit_mnist(X[fit_rows], y[fit_rows], l1, warm=fit)
        scores = X[valid_rows] @ fit.coef.T + fit.intercept
        accuracy = float(np.mean(scores.argmax(1) == y[valid_rows]))
        zeros = float(np.mean(fit.coef == 0))
        candidates.append((l1, accuracy, zeros))
        print(
            f"  mnist: l1={l1:g} validation accuracy {pct(accuracy)}, zeros {pct(zeros)} "
            f"(KKT {fit.kkt:.1e}, {fit.n_iter} steps)",
            flush=True,
        )
        best = max(range(len(candidates)), key=lambda i: candidates[i][1])
        if zeros < 0.6 or len(candidates) - 1 - best >= MNIST_PATIENCE:
            break
    return candidates


def mnist_section(mnist_dir: str, quick: bool, repeats: int) -> tuple[Table, dict[str, Any]]:
    data = load_mnist_arrays(mnist_dir, n_train=10_000 if quick else None)
    X, y = data.X, data.y
    n_valid = len(X) // 6
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    fit_rows, valid_rows = order[n_valid:], order[:n_valid]

    # the pick: down the path on the fit rows, warm-started, scored on validation
    candidates, pick_time = time_call(lambda: _walk_path(X, y, fit_rows, valid_rows))
    sparse_enough = [c for c in candidates if c[2] >= 0.6] or candidates
    chosen = max(sparse_enough, key=lambda c: c[1])[0]

    baseline, ours_samples = Samples(), Samples()
    fit = None
    for _ in range(repeats):
        lbfgs, timing = time_call(
            lambda: _quiet(
                lambda: LogisticRegression(C=1.0, solver="lbfgs", max_iter=LBFGS_MAX_ITER).fit(X, y)
            )
        )
        baseline.add(timing)
        fit, timing = time_call(lambda: _fit_mnist(X, y, chosen))
        ours_samples.add(timing)
    assert fit is not None
    accuracy = float(np.mean(fit.decision_function(data.X_test).argmax(1) == data.y_test))
    zeros = float(np.mean(fit.coef == 0))
    lbfgs_accuracy = float(lbfgs.score(data.X_test, data.y_test))
    ratio = ours_samples.median / baseline.median
    table = Table(
        f"(a) MNIST multinomial logistic regression, {len(X)} rows, test accuracy on the "
        f"official 10k (median of {repeats})",
        ["method", "fit s", "test acc", "zero weights", "target"],
    )
    table.add(
        f"regulab fit_linear L1({chosen:g}) float32, KKT <= {MNIST_TOL:g} "
        f"({fit.n_iter} {fit.solver} steps, converged={fit.converged})",
        f"{ours_samples.median:.2f}",
        pct(accuracy),
        pct(zeros),
        f"acc >= 92.5% {verdict(accuracy >= 0.925)}; zeros >= 60% {verdict(zeros >= 0.6)}; "
        f"time {ratio:.2f}x lbfgs <= 0.33 {verdict(ratio <= 1 / 3)}",
    )
    table.add(
        f"scikit-learn lbfgs L2, C=1, max_iter={LBFGS_MAX_ITER} ({int(lbfgs.n_iter_[0])} steps)",
        f"{baseline.median:.2f}",
        pct(lbfgs_accuracy),
        pct(float(np.mean(lbfgs.coef_ == 0))),
        "baseline",
    )
    table.add(
        f"  the pick: {len(candidates)}-step path on {len(fit_rows)} rows (once)",
        f"{pick_time.wall:.2f}",
        "-",
        "-",
        f"chose l1={chosen:g} on validation",
    )
    figures = {
        "mnist_ours_s": ours_samples.median,
        "mnist_lbfgs_s": baseline.median,
        "mnist_lbfgs_iter": int(lbfgs.n_iter_[0]),
        "mnist_ratio": ratio,
        "mnist_accuracy": accuracy,
        "mnist_zeros": zeros,
        "mnist_l1": chosen,
        "mnist_pick_s": pick_time.wall,
    }
    return table, figures


def sparse_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2,000 x 300 standardized rows; the label's log-odds use 10 of the features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 300))
    w = np.zeros(300)
    w[:10] = rng.choice([-1.0, 1.0], 10) * rng.uniform(0.5, 1.5, 10)
    y = (rng.random(2000) < 1 / (1 + np.exp(-X @ w))).astype(np.int64)
    return (X - X.mean(0)) / X.std(0), y


def cv_section(repeats: int) -> tuple[Table, dict[str, Any]]:
    X, y = sparse_data()
    order = np.random.default_rng(1).permutation(len(X))
    parts = np.array_split(order, 5)
    folds = [(np.concatenate(parts[:i] + parts[i + 1 :]), parts[i]) for i in range(5)]
    n_train = len(folds[0][0])
    grid = strength_grid(lambda_max(X, y, task="binary"), n=100, eps=1e-3)
    Cs = [sklearn_strength("binary", float(a), 0.0, n_train)["C"] for a in grid]

    def ours() -> Any:
        cv = cv_linear_path(X, y, folds, grid, task="binary", tol=1e-4)
        return cv, fit_linear(X, y, task="binary", l1=cv.chosen_strength, tol=1e-4)

    def liblinear() -> Any:
        return _quiet(
            lambda: LogisticRegressionCV(
                Cs=Cs, cv=folds, solver="liblinear", penalty="l1", scoring="neg_log_loss"
            ).fit(X, y)
        )

    base, mine = Samples(), Samples()
    for _ in range(repeats):
        sk, timing = time_call(liblinear)
        base.add(timing)
        (cv, refit), timing = time_call(ours)
        mine.add(timing)
    ratio = mine.median / base.median
    sk_index = Cs.index(float(sk.C_[0]))
    print("  cv:", cv.summary())
    table = Table(
        "(b) 100-step L1 path, 5-fold CV, 2,000 x 300 sparse-signal binary data "
        f"(median of {repeats}; refit at the pick included)",
        ["method", "seconds", "pick (step)", "nonzero at pick", "target"],
    )
    table.add(
        "regulab cv_linear_path + fit_linear (KKT <= 1e-4)",
        f"{mine.median:.2f}",
        cv.best_index,
        refit.n_nonzero,
        f"{ratio:.2f}x <= 0.5 {verdict(ratio <= 0.5)}",
    )
    table.add(
        "LogisticRegressionCV liblinear L1",
        f"{base.median:.2f}",
        sk_index,
        int(np.count_nonzero(sk.coef_)),
        "baseline",
    )
    figures = {
        "cv_ours_s": mine.median,
        "cv_liblinear_s": base.median,
        "cv_ratio": ratio,
        "cv_pick": cv.best_index,
        "cv_liblinear_pick": sk_index,
    }
    return table, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    parser.add_argument("--quick", action="store_true", help="10k MNIST rows, one repeat")
    parser.add_argument("--skip", default="", help="comma-separated: mnist,cv")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    skip = set(filter(None, args.skip.split(",")))
    print(machine_summary())
    tables, figures = [], {}
    with threads(args.threads):
        for name, section in (
            ("mnist", lambda: mnist_section(args.mnist_dir, args.quick, repeats)),
            ("cv", lambda: cv_section(repeats)),
        ):
            if name in skip:
                continue
            table, numbers = section()
            print(table.render(), flush=True)
            tables.append(table.to_dict())
            figures.update(numbers)
    if args.json:
        write_json_file(args.json, {"figures": figures, "tables": tables})


if __name__ == "__main__":
    main()
