"""Tests for regulab.solvers: exact fits against scikit-learn and Regulab's own objective."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
)

from regulab import penalties
from regulab.errors import DataError, InvalidParameterError
from regulab.models import LinearModel
from regulab.solvers import (
    cv_linear_path,
    elastic_net_strengths,
    fit_linear,
    lambda_max,
    linear_path,
    pick_indices,
    sklearn_strength,
    strength_grid,
)
from regulab.solvers._problem import make_problem
from regulab.training._metrics import member_losses

TIGHT = 1e-10


def _data(task: str, n: int = 120, p: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    w = np.zeros(p)
    w[:3] = [1.5, -1.0, 0.5]
    z = X @ w + 0.8 * rng.normal(size=n)
    if task == "regression":
        return X, z
    if task == "binary":
        return X, (z > 0).astype(np.int64)
    second = X[:, 3] - X[:, 4] + 0.8 * rng.normal(size=n)
    return X, (z > 0).astype(np.int64) + (second > 0.5).astype(np.int64)


def _objective(task: str, X: np.ndarray, y: np.ndarray, l1: float, l2: float, coef, intercept):
    problem = make_problem(X, y, task, None, "cpu", torch.float64)
    problem.l1, problem.l2 = l1, l2
    x = torch.cat([torch.as_tensor(np.ravel(coef)), torch.as_tensor(np.ravel(intercept))])
    return problem.objective(x.double())


def _sk_logistic(**kwargs) -> LogisticRegression:
    kwargs.setdefault("tol", 1e-12)
    kwargs.setdefault("max_iter", 100_000)
    return LogisticRegression(**kwargs)


def _fit_quiet(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return estimator.fit(X, y)


def _assert_same(task, X, y, l1, l2, ours, coef, intercept):
    theirs = _objective(task, X, y, l1, l2, coef, intercept)
    assert ours.objective == pytest.approx(theirs, rel=1e-6)
    assert ours.objective <= theirs + 1e-9  # ours is the better (or equal) minimum
    np.testing.assert_allclose(ours.coef, np.reshape(coef, ours.coef.shape), atol=1e-4)
    centered = np.ravel(intercept) - (np.mean(intercept) if task == "multiclass" else 0.0)
    np.testing.assert_allclose(ours.intercept, centered, atol=1e-4)


# -- the strength mapping ---------------------------------------------------------------------
def test_elastic_net_strengths_follow_the_penalty_formulas() -> None:
    assert elastic_net_strengths(0.2, 1.0) == (0.2, 0.0)
    assert elastic_net_strengths(0.2, 0.0) == (0.0, 0.1)
    l1, l2 = elastic_net_strengths(0.3, 0.25)
    assert l1 == pytest.approx(0.075) and l2 == pytest.approx(0.1125)
    net = penalties.ElasticNet(0.3, 0.25)
    assert net.coefficients(0.3)[:2] == pytest.approx((l1, l2))


def test_sklearn_strength_table() -> None:
    n = 50
    assert sklearn_strength("binary", 0.02, 0.0, n) == pytest.approx({"C": 1.0, "l1_ratio": 1.0})
    assert sklearn_strength("multiclass", 0.0, 0.01, n) == pytest.approx(
        {"C": 1.0, "l1_ratio": 0.0}
    )
    mixed = sklearn_strength("binary", 0.01, 0.005, n)
    assert mixed == pytest.approx({"C": 1 / (n * 0.02), "l1_ratio": 0.5})
    assert sklearn_strength("regression", 0.2, 0.0, n) == pytest.approx(
        {"alpha": 0.1, "l1_ratio": 1.0}
    )
    assert sklearn_strength("regression", 0.2, 0.1, n, n_outputs=2) == pytest.approx(
        {"alpha": 0.4, "l1_ratio": 0.5}
    )
    assert sklearn_strength("regression", 0.0, 0.1, n) == pytest.approx({"alpha": 5.0})
    with pytest.raises(InvalidParameterError, match="l1 > 0 or l2 > 0"):
        sklearn_strength("binary", 0.0, 0.0, n)


# -- the objective is Regulab's ---------------------------------------------------------------
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_objective_equals_regulab_loss_plus_penalty(task: str) -> None:
    X, y = _data(task)
    alpha, ratio = 0.05, 0.4
    l1, l2 = elastic_net_strengths(alpha, ratio)
    fit = fit_linear(X, y, task=task, l1=l1, l2=l2, tol=1e-8)
    k = fit.coef.shape[0]
    model = LinearModel(
        X.shape[1], k, task="regression" if task == "regression" else "classification"
    ).double()
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.as_tensor(fit.coef))
        model.linears[0].bias.copy_(torch.as_tensor(fit.intercept))
        scores = model(torch.as_tensor(X))
        targets = torch.as_tensor(y)
        loss = member_losses(scores[None], targets[None], task)[0]
        total = float(loss + penalties.ElasticNet(alpha, ratio)(model))
    assert fit.objective == pytest.approx(total, rel=1e-12)


# -- logistic loss against scikit-learn ------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_l2_logistic_matches_lbfgs(task: str) -> None:
    X, y = _data(task)
    l2 = 0.01
    ours = fit_linear(X, y, task=task, l2=l2, tol=TIGHT)
    assert ours.solver == "lbfgs" and ours.converged and ours.n_nonzero == ours.coef.size
    C = sklearn_strength(task, 0.0, l2, len(X))["C"]
    sk = _fit_quiet(_sk_logistic(C=C, solver="lbfgs"), X, y)
    _assert_same(task, X, y, 0.0, l2, ours, sk.coef_, sk.intercept_)


@pytest.mark.parametrize(
    ("task", "l1", "l2"),
    [
        ("binary", 0.02, 0.0),
        ("multiclass", 0.01, 0.0),
        ("binary", 0.01, 0.01),
        ("multiclass", 0.01, 0.005),
    ],
)
def test_l1_and_elastic_net_logistic_match_saga(task: str, l1: float, l2: float) -> None:
    X, y = _data(task)
    ours = fit_linear(X, y, task=task, l1=l1, l2=l2, tol=TIGHT)
    assert ours.solver == "lbfgs-b" and ours.converged
    assert 0 < ours.n_nonzero < ours.coef.size  # exact zeros, and not all of them
    mapped = sklearn_strength(task, l1, l2, len(X))
    sk = _fit_quiet(_sk_logistic(**mapped, solver="saga"), X, y)
    _assert_same(task, X, y, l1, l2, ours, sk.coef_, sk.intercept_)
    np.testing.assert_array_equal(
        ours.coef == 0, np.reshape(np.abs(sk.coef_) < 1e-8, ours.coef.shape)
    )


def test_constant_columns_get_zero_weights_and_change_nothing_else() -> None:
    X, y = _data("multiclass")
    padded = np.column_stack([np.zeros(len(X)), X, np.full(len(X), 3.0)])
    plain = fit_linear(X, y, task="multiclass", l1=0.01, l2=0.002, tol=1e-9)
    fit = fit_linear(padded, y, task="multiclass", l1=0.01, l2=0.002, tol=1e-9)
    assert fit.converged and fit.kkt <= 1e-9
    assert np.all(fit.coef[:, [0, -1]] == 0)
    np.testing.assert_allclose(fit.coef[:, 1:-1], plain.coef, atol=1e-7)
    np.testing.assert_allclose(fit.intercept, plain.intercept, atol=1e-7)


def test_large_fit_warm_started_on_a_row_subsample_matches_saga(monkeypatch) -> None:
    from regulab.solvers import _fit

    X, y = _data("multiclass", n=300, p=12, seed=3)
    X = X * np.linspace(0.2, 5.0, 12) + 2.0  # uneven scales and offsets
    monkeypatch.setattr(_fit, "SUBSAMPLE_ROWS", 60)
    l1 = 0.01
    ours = fit_linear(X, y, task="multiclass", l1=l1, tol=1e-8)
    assert ours.converged and 0 < ours.n_nonzero < ours.coef.size
    sk = _fit_quiet(
        _sk_logistic(**sklearn_strength("multiclass", l1, 0.0, len(X)), solver="saga"), X, y
    )
    _assert_same("multiclass", X, y, l1, 0.0, ours, sk.coef_, sk.intercept_)


def test_l1_binary_matches_liblinear_with_a_negligible_intercept_penalty() -> None:
    X, y = _data("binary")
    l1 = 0.02
    ours = fit_linear(X, y, task="binary", l1=l1, tol=TIGHT)
    C = sklearn_strength("binary", l1, 0.0, len(X))["C"]
    sk = _fit_quiet(
        _sk_logistic(C=C, l1_ratio=1.0, solver="liblinear", intercept_scaling=1e4), X, y
    )
    _assert_same("binary", X, y, l1, 0.0, ours, sk.coef_, sk.intercept_)


# -- squared loss against scikit-learn --------------------------------------------------------
@pytest.mark.parametrize("solver", ["sklearn", "lbfgs-b"])
@pytest.mark.parametrize(("l1", "l2"), [(0.1, 0.0), (0.1, 0.05), (0.0, 0.05), (0.0, 0.0)])
def test_squared_loss_matches_lasso_elastic_net_ridge(solver: str, l1: float, l2: float) -> None:
    X, y = _data("regression")
    ours = fit_linear(X, y, task="regression", l1=l1, l2=l2, tol=1e-9, solver=solver)
    assert ours.converged
    if l1 and not l2:
        sk = Lasso(alpha=sklearn_strength("regression", l1, l2, len(X))["alpha"], tol=1e-14)
    elif l1:
        sk = ElasticNet(**sklearn_strength("regression", l1, l2, len(X)), tol=1e-14)
    elif l2:
        sk = Ridge(**sklearn_strength("regression", l1, l2, len(X)))
    else:
        sk = LinearRegression()
    sk.fit(X, y)
    _assert_same("regression", X, y, l1, l2, ours, sk.coef_, sk.intercept_)


def test_two_target_regression_averages_the_columns() -> None:
    X, y = _data("regression")
    Y = np.column_stack([y, -2 * y + X[:, 5]])
    ours = fit_linear(X, Y, task="regression", l1=0.1, l2=0.02, tol=1e-9, solver="lbfgs-b")
    sk = ElasticNet(**sklearn_strength("regression", 0.1, 0.02, len(X), 2), tol=1e-14).fit(X, Y)
    _assert_same("regression", X, Y, 0.1, 0.02, ours, sk.coef_, sk.intercept_)


# -- lambda_max and the grid ------------------------------------------------------------------
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_lambda_max_is_the_smallest_all_zero_strength(task: str, ratio: float) -> None:
    X, y = _data(task)
    amax = lambda_max(X, y, task=task, l1_ratio=ratio)
    at = fit_linear(X, y, task=task, l1=amax * ratio, l2=amax * (1 - ratio) / 2, tol=1e-9)
    assert at.n_nonzero == 0 and at.converged
    below = 0.97 * amax
    fit = fit_linear(X, y, task=task, l1=below * ratio, l2=below * (1 - ratio) / 2, tol=1e-9)
    assert fit.n_nonzero > 0


def test_strength_grid_is_geometric() -> None:
    grid = strength_grid(2.0, n=5, eps=1e-4)
    np.testing.assert_allclose(grid, 2.0 * np.logspace(0, -4, 5))


# -- paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_warm_started_screened_path_equals_cold_fits(task: str) -> None:
    X, y = _data(task, p=12)
    ratio = 0.8
    grid = strength_grid(lambda_max(X, y, task=task, l1_ratio=ratio), n=8, eps=0.01)
    path = linear_path(X, y, grid, task=task, l1_ratio=ratio, tol=1e-9)
    unscreened = linear_path(X, y, grid, task=task, l1_ratio=ratio, tol=1e-9, screening=False)
    assert path.n_nonzero[0] == 0 and path.n_nonzero[-1] > path.n_nonzero[1]
    assert np.all(path.kkt <= 1e-9)
    for step in (1, 4, 7):
        l1, l2 = elastic_net_strengths(grid[step], ratio)
        cold = fit_linear(X, y, task=task, l1=l1, l2=l2, tol=1e-9)
        np.testing.assert_allclose(path.coefs[step], cold.coef, atol=1e-6)
        np.testing.assert_allclose(unscreened.coefs[step], cold.coef, atol=1e-6)
        assert path.objectives[step] == pytest.approx(cold.objective, rel=1e-9)
        np.testing.assert_array_equal(path.coefs[step] == 0, cold.coef == 0)


def test_path_sorts_strengths_strongest_first_and_refuses_bad_ones() -> None:
    X, y = _data("binary")
    path = linear_path(X, y, [0.01, 0.1], task="binary")
    assert path.strengths.tolist() == [0.1, 0.01]
    with pytest.raises(InvalidParameterError, match="positive finite"):
        linear_path(X, y, [0.1, 0.0], task="binary")


# -- cross-validation ----------------------------------------------------------------------------
def _folds(n: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(1).permutation(n)
    parts = np.array_split(order, k)
    return [(np.concatenate(parts[:i] + parts[i + 1 :]), parts[i]) for i in range(k)]


def test_cv_pick_matches_lasso_cv() -> None:
    X, y = _data("regression", n=100, p=20)
    folds = _folds(len(X))
    grid = strength_grid(lambda_max(X, y, task="regression"), n=30, eps=1e-3)
    cv = cv_linear_path(X, y, folds, grid, task="regression", tol=1e-9)
    sk = LassoCV(alphas=grid / 2, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
    assert cv.chosen_strength == pytest.approx(2 * sk.alpha_)
    np.testing.assert_allclose(-cv.mean, sk.mse_path_.mean(1), rtol=1e-5)
    assert cv.one_se_index <= cv.best_index
    assert "λ_min chose" in cv.summary() and "λ_1se would give" in cv.summary()


@pytest.mark.parametrize(("task", "ratio"), [("binary", 1.0), ("multiclass", 0.0)])
def test_cv_pick_matches_logistic_regression_cv(task: str, ratio: float) -> None:
    X, y = _data(task, n=150, p=6)
    folds = _folds(len(X))
    n_train = len(folds[0][0])
    if ratio:
        grid = strength_grid(lambda_max(X, y, task=task), n=12, eps=0.01)
        Cs = [sklearn_strength(task, a, 0.0, n_train)["C"] for a in grid]
    else:
        grid = np.geomspace(1.0, 1e-2, 6)
        Cs = [sklearn_strength(task, 0.0, a / 2, n_train)["C"] for a in grid]
    sk = LogisticRegressionCV(
        Cs=Cs,
        l1_ratios=[ratio],
        cv=folds,
        solver="saga" if ratio else "lbfgs",
        tol=1e-10 if ratio else 1e-8,
        max_iter=100_000,
        scoring="neg_log_loss",
        use_legacy_attributes=False,
    )
    sk = _fit_quiet(sk, X, y)
    cv = cv_linear_path(X, y, folds, grid, task=task, l1_ratio=ratio, tol=1e-9)
    # at the first (all-zero) strength saga leaves its intercept ~3e-3 from the optimum
    np.testing.assert_allclose(cv.scores[:, 1:], sk.scores_[:, 0, 1:], rtol=1e-4)
    assert sk.C_ == pytest.approx(Cs[cv.best_index])


def test_one_se_rule_takes_the_strongest_within_one_standard_error() -> None:
    mean = np.array([0.60, 0.70, 0.76, 0.80, 0.79])
    se = np.array([0.02, 0.02, 0.02, 0.05, 0.02])
    assert pick_indices(mean, se) == (3, 2)


def test_bad_inputs_are_refused() -> None:
    X, y = _data("binary")
    with pytest.raises(InvalidParameterError, match="'task'"):
        fit_linear(X, y, task="poisson")
    with pytest.raises(InvalidParameterError, match="'solver'"):
        fit_linear(X, y, task="binary", solver="newton")
    with pytest.raises(InvalidParameterError, match="squared loss only"):
        fit_linear(X, y, task="binary", solver="sklearn")
    with pytest.raises(DataError, match="0 or 1"):
        fit_linear(X, y + 1, task="binary")
    with pytest.raises(InvalidParameterError, match="'scoring'"):
        cv_linear_path(X, y, 3, [0.1], task="binary", scoring="r2")


def test_a_standardization_computed_once_serves_every_column_subset_and_no_row_subset():
    X, y = _data("multiclass")
    X = np.column_stack([X, np.full(len(X), 2.0)])  # a constant column: scale 0
    problem = make_problem(X, y, "multiclass", None, "cpu", torch.float64)
    Z, mean, scale = problem.standardized()
    assert problem.standardized().Z is Z  # computed once
    keep = torch.tensor([True, False, True, True, False, True, True])
    fresh = make_problem(X[:, keep.numpy()], y, "multiclass", None, "cpu", torch.float64)
    for cached, direct in zip(problem.columns(keep).standardized(), fresh.standardized()):
        torch.testing.assert_close(cached, direct, rtol=1e-12, atol=1e-12)  # summation order
    assert float(scale[-1]) == 0.0 and bool((Z[:, -1] == 0).all())
    rows = problem.rows(torch.arange(40))
    assert rows.standard is None
    torch.testing.assert_close(rows.standardized().mean, torch.as_tensor(X[:40]).mean(0))
