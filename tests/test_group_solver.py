"""The exact solver with column groups (group lasso per class row): ``fit_linear(groups=...)``,
``lambda_max``, paths and cross-validation with groups, against scikit-learn (singleton groups),
an independent autograd KKT check, a long plain proximal-gradient run and the closed form of an
orthonormal design."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import Lasso
from test_solvers import _assert_same, _data, _fit_quiet, _sk_logistic
from test_table_models import mixed_table

from regulab.data import load
from regulab.errors import InvalidParameterError
from regulab.experiment import _runner, linear_regularization_path
from regulab.models import LinearModel
from regulab.penalties import L1
from regulab.solvers import (
    cv_linear_path,
    exact_result,
    fit_linear,
    fit_model,
    lambda_max,
    linear_path,
    sklearn_strength,
    strength_grid,
)

GROUPS = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3]  # sizes 3, 2, 1, 4


def _grouped(task: str, n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Groups 0 and 1 carry the signal; group 3 (four columns) is irrelevant."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(GROUPS)))
    z = X[:, 0] - 0.8 * X[:, 1] + 0.5 * X[:, 3] - 0.7 * X[:, 4] + 0.6 * rng.normal(size=n)
    if task == "regression":
        return X, z
    if task == "binary":
        return X, (z > 0).astype(np.int64)
    return X, (z > -0.5).astype(np.int64) + (z > 0.5).astype(np.int64)


def _autograd_kkt(task, X, y, fit) -> float:
    """The largest block KKT violation at ``fit``, from a gradient computed by autograd."""
    W = torch.tensor(fit.coef, requires_grad=True)
    b = torch.tensor(fit.intercept, requires_grad=True)
    scores = torch.as_tensor(X) @ W.T + b
    if task == "multiclass":
        loss = F.cross_entropy(scores, torch.as_tensor(y))
    elif task == "binary":
        loss = F.binary_cross_entropy_with_logits(scores[:, 0], torch.as_tensor(y).double())
    else:
        loss = F.mse_loss(scores[:, 0], torch.as_tensor(y))
    (loss + fit.l2 * W.pow(2).sum()).backward()
    grad, worst = W.grad.numpy(), float(b.grad.abs().max())
    ids = np.asarray(GROUPS)
    for h in range(len(fit.coef)):
        for g in np.unique(ids):
            w, G = fit.coef[h, ids == g], grad[h, ids == g]
            c = fit.l1 * np.sqrt(len(w))
            norm = np.linalg.norm(w)
            if norm == 0:
                worst = max(worst, np.linalg.norm(G) - c)
            else:
                worst = max(worst, np.linalg.norm(G + c * w / norm))
    return worst


def _ista(task, X, y, l1, l2, steps=5_000) -> float:
    """The objective after a long plain proximal-gradient run in NumPy (fixed step 1/L, no
    momentum, gradients written out by hand)."""
    n, p = X.shape
    Xc = np.column_stack([X, np.ones(n)])
    K = {"regression": 1, "binary": 1, "multiclass": int(y.max()) + 1}[task]
    target = np.eye(K)[y] if task == "multiclass" else np.reshape(y, (n, 1)).astype(float)
    curvature = {"regression": 2.0, "binary": 0.25, "multiclass": 0.5}[task]
    step = 1.0 / (curvature * np.linalg.norm(Xc, 2) ** 2 / n + 2 * l2)
    ids = np.asarray(GROUPS)
    weights = np.sqrt(np.bincount(ids))

    def norms(W):
        squares = np.zeros((K, len(weights)))
        np.add.at(squares.T, ids, np.square(W.T))
        return np.sqrt(squares)

    def objective(theta):
        scores, W = Xc @ theta.T, theta[:, :-1]
        if task == "multiclass":
            top = scores.max(1, keepdims=True)
            logsum = np.log(np.exp(scores - top).sum(1)) + top[:, 0]
            loss = np.mean(logsum - scores[np.arange(n), y])
        elif task == "binary":
            loss = np.mean(np.logaddexp(0, scores[:, 0]) - target[:, 0] * scores[:, 0])
        else:
            loss = np.mean(np.square(scores - target))
        return loss + l2 * np.square(W).sum() + l1 * (norms(W) * weights).sum()

    theta = np.zeros((K, p + 1))
    for _ in range(steps):
        scores = Xc @ theta.T
        if task == "multiclass":
            probs = np.exp(scores - scores.max(1, keepdims=True))
            residual = probs / probs.sum(1, keepdims=True) - target
        elif task == "binary":
            residual = 1 / (1 + np.exp(-scores)) - target
        else:
            residual = 2 * (scores - target)
        grad = residual.T @ Xc / n
        grad[:, :-1] += 2 * l2 * theta[:, :-1]
        moved = theta - step * grad
        factor = np.clip(1 - step * l1 * weights / np.maximum(norms(moved[:, :-1]), 1e-300), 0, 1)
        moved[:, :-1] *= factor[:, ids]
        theta = moved
    return float(objective(theta))


# -- singleton groups: the group solver is scikit-learn's lasso / L1 logistic regression ------
@pytest.mark.parametrize(
    ("task", "l1"), [("regression", 0.1), ("binary", 0.02), ("multiclass", 0.01)]
)
def test_forced_group_solver_on_singletons_matches_sklearn(task: str, l1: float) -> None:
    X, y = _data(task)
    ours = fit_linear(X, y, task=task, l1=l1, tol=1e-10, solver="group-fista")
    assert (
        ours.solver == "group-fista"
        and ours.converged
        and 0 < ours.n_nonzero < X.shape[1] * len(ours.coef)
    )
    if task == "regression":
        sk = Lasso(alpha=sklearn_strength(task, l1, 0.0, len(X))["alpha"], tol=1e-14).fit(X, y)
    else:
        sk = _fit_quiet(
            _sk_logistic(**sklearn_strength(task, l1, 0.0, len(X)), solver="saga"), X, y
        )
    _assert_same(task, X, y, l1, 0.0, ours, sk.coef_, sk.intercept_)
    plain = fit_linear(X, y, task=task, l1=l1, tol=1e-10)
    assert plain.solver != "group-fista"  # groups=None keeps today's solvers
    assert fit_linear(X, y, task=task, l1=l1, groups=range(X.shape[1])).solver == plain.solver


# -- real groups ----------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
@pytest.mark.parametrize(("l1", "l2"), [(0.03, 0.0), (0.02, 0.01)])
def test_group_fit_satisfies_kkt_and_beats_plain_proximal_gradient(task, l1, l2) -> None:
    X, y = _grouped(task)
    fit = fit_linear(X, y, task=task, l1=l1, l2=l2, groups=GROUPS, tol=1e-8)
    assert fit.solver == "group-fista" and fit.converged and fit.kkt <= 1e-8
    assert _autograd_kkt(task, X, y, fit) <= 1e-7
    plain = _ista(task, X, y, l1, l2)
    assert fit.objective <= plain + 1e-10 and fit.objective == pytest.approx(plain, rel=1e-6)
    # the reported objective is the loss plus the group penalty
    assert fit.penalty() == pytest.approx(
        fit.objective - _objective_loss(task, X, y, fit), rel=1e-9
    )


def _objective_loss(task, X, y, fit) -> float:
    scores = torch.as_tensor(fit.decision_function(X))
    if task == "multiclass":
        return float(F.cross_entropy(scores, torch.as_tensor(y)))
    if task == "binary":
        return float(F.binary_cross_entropy_with_logits(scores[:, 0], torch.as_tensor(y).double()))
    return float(F.mse_loss(scores[:, 0], torch.as_tensor(y)))


def test_orthonormal_design_equals_the_group_soft_threshold() -> None:
    rng = np.random.default_rng(3)
    n = 64
    basis, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.normal(size=(n, len(GROUPS)))]))
    X = np.sqrt(n) * basis[:, 1:]  # centered columns, X.T @ X = n * I
    y = X @ rng.normal(size=len(GROUPS)) * 0.3 + rng.normal(size=n) + 2.0
    l1 = 0.4
    fit = fit_linear(X, y, task="regression", l1=l1, groups=GROUPS, tol=1e-10)
    # mean squared error = ||w - z||^2 + const with z = X.T y / n: blockwise soft-threshold
    z, ids = X.T @ y / n, np.asarray(GROUPS)
    expected = np.zeros_like(z)
    for g in np.unique(ids):
        block = z[ids == g]
        shrink = max(0.0, 1 - l1 * np.sqrt(len(block)) / (2 * np.linalg.norm(block)))
        expected[ids == g] = shrink * block
    assert (expected == 0).any() and (expected != 0).any()
    np.testing.assert_allclose(fit.coef[0], expected, atol=1e-8, rtol=0)
    assert fit.intercept[0] == pytest.approx(y.mean(), abs=1e-8)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_lambda_max_with_groups_is_the_smallest_all_zero_strength(task: str) -> None:
    X, y = _grouped(task)
    top = lambda_max(X, y, task=task, groups=GROUPS)
    assert top != pytest.approx(lambda_max(X, y, task=task))
    assert fit_linear(X, y, task=task, l1=top, groups=GROUPS).n_nonzero == 0
    assert fit_linear(X, y, task=task, l1=0.9 * top, groups=GROUPS).n_nonzero > 0
    assert lambda_max(X, y, task=task, groups=GROUPS, l1_ratio=0.5) == pytest.approx(2 * top)


def test_an_irrelevant_group_goes_to_zero_together() -> None:
    X, y = _grouped("multiclass", n=400)
    irrelevant = np.asarray(GROUPS) == 3
    grouped = fit_linear(X, y, task="multiclass", l1=0.02, groups=GROUPS)
    assert (grouped.coef[:, irrelevant] == 0).all()
    assert (grouped.coef[:, ~irrelevant] != 0).any(axis=0).sum() >= 5  # groups 0 and 1 stay
    for h in range(len(grouped.coef)):  # a block is either all zero or all nonzero
        for g in range(4):
            block = grouped.coef[h, np.asarray(GROUPS) == g]
            assert (block == 0).all() or (block != 0).all()


# -- paths and cross-validation --------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_screened_group_path_equals_cold_fits(task: str) -> None:
    X, y = _grouped(task)
    grid = strength_grid(lambda_max(X, y, task=task, groups=GROUPS), n=8, eps=0.01)
    path = linear_path(X, y, grid, task=task, groups=GROUPS, tol=1e-9)
    assert path.solver == "group-fista" and path.n_nonzero[0] == 0
    assert (path.kkt <= 1e-9).all()
    for step in (2, 5, 7):
        cold = fit_linear(X, y, task=task, l1=grid[step], groups=GROUPS, tol=1e-9)
        np.testing.assert_allclose(path.coefs[step], cold.coef, atol=1e-6)
        assert path.objectives[step] == pytest.approx(cold.objective, rel=1e-9)
    unscreened = linear_path(X, y, grid, task=task, groups=GROUPS, tol=1e-9, screening=False)
    np.testing.assert_allclose(path.coefs, unscreened.coefs, atol=1e-6)


def test_cv_path_with_groups_scores_whole_groups() -> None:
    X, y = _grouped("binary")
    grid = strength_grid(lambda_max(X, y, task="binary", groups=GROUPS), n=5, eps=0.05)
    cv = cv_linear_path(X, y, 3, grid, task="binary", groups=GROUPS)
    assert cv.scores.shape == (3, 5) and cv.n_nonzero[:, 0].max() <= 3
    sizes = np.bincount(GROUPS)
    possible = {int(sizes[list(subset)].sum()) for subset in _subsets(len(sizes))}
    assert set(cv.n_nonzero.ravel().tolist()) <= possible  # whole groups enter together
    with pytest.raises(TypeError):
        cv_linear_path(X, y, 3, grid, task="binary", group=GROUPS)


def _subsets(k: int) -> list[tuple[int, ...]]:
    return [tuple(j for j in range(k) if mask >> j & 1) for mask in range(2**k)]


def test_groups_without_an_l1_term_keep_the_quasi_newton_solver() -> None:
    X, y = _grouped("multiclass")
    grouped = fit_linear(X, y, task="multiclass", l2=0.01, groups=GROUPS)
    plain = fit_linear(X, y, task="multiclass", l2=0.01)
    assert grouped.solver == plain.solver == "lbfgs" and grouped.converged
    np.testing.assert_allclose(grouped.coef, plain.coef, atol=1e-8)


def test_bad_groups_are_refused() -> None:
    X, y = _grouped("binary")
    with pytest.raises(InvalidParameterError, match="one integer group id per feature"):
        fit_linear(X, y, task="binary", l1=0.01, groups=[0, 1])
    with pytest.raises(InvalidParameterError, match="group-fista"):
        fit_linear(X, y, task="binary", l1=0.01, groups=GROUPS, solver="lbfgs-b")


# -- Regulab's own models and `regulab path` on a table -------------------------------------
def test_fit_model_takes_the_groups_from_the_argument_or_the_penalty() -> None:
    X, y = _grouped("binary")
    direct = fit_model(LinearModel(X.shape[1], 1, seed=0), [L1(0.03)], X, y, groups=GROUPS)
    penalty = L1(0.03)
    penalty.feature_groups = GROUPS  # type: ignore[attr-defined]  # what penalties carry
    result, carried = exact_result(LinearModel(X.shape[1], 1, seed=0), [penalty], X, y)
    assert direct.solver == carried.solver == "group-fista"
    np.testing.assert_allclose(direct.coef, carried.coef, atol=1e-12)
    assert result.history[0]["penalty"] == pytest.approx(carried.penalty())
    assert fit_model(LinearModel(X.shape[1], 1, seed=0), [L1(0.03)], X, y).solver == "lbfgs-b"


def test_table_path_uses_groups_and_refits_each_fold_on_its_training_rows(monkeypatch) -> None:
    frame, labels, _ = mixed_table(240)
    dataset = load(frame.assign(y=labels), target="y")
    seen: list[tuple[np.ndarray, object]] = []
    encode = _runner.TableFolds.encode

    def spy(self, train, valid):
        fitted, X_train, X_valid = encode(self, train, valid)
        seen.append((self.frame.iloc[train], fitted))
        return fitted, X_train, X_valid

    monkeypatch.setattr(_runner.TableFolds, "encode", spy)
    path = linear_regularization_path(dataset, n_steps=4, folds=3)
    assert path.solver == "group-fista" and path.nonzero[0] == 0
    assert len(seen) == 3
    n_rows = sum(len(rows) for rows, _ in seen) // 2  # each row trains in 2 of 3 folds
    everyone = dataset.table.preprocessor.state_[0]
    for rows, fitted in seen:
        assert len(rows) < n_rows  # the fold's training rows only
        age = fitted.state_[0]
        assert age["name"] == "age" and age["median"] == pytest.approx(rows["age"].median())
        imputed = rows["age"].fillna(rows["age"].median())  # the scaler sees imputed cells
        assert age["mean"] == pytest.approx(imputed.mean(), rel=1e-12)
        assert age["mean"] != pytest.approx(everyone["mean"], rel=1e-9)  # not all rows'
