"""``regulab path`` for a linear model: the whole path solved exactly, chosen by cross-validation.

Generated sparse-signal tables (a few informative columns among many), in-process through
:func:`regulab.cli.main` as in ``test_cli.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold
from test_cli import invoke

from regulab.experiment import linear_regularization_path, prepare_data

LINEAR_KEYS = {
    "schema_version", "kind", "exact", "penalty", "l1_ratio", "solver", "lambda_max", "path",
    "scoring", "folds", "rule", "chosen_index", "lambda_min_index", "lambda_1se_index",
    "lambda_min", "lambda_1se", "test_metric", "test_score", "seconds", "data",
}  # fmt: skip


def _sparse_table(folder: Path, task: str, n: int = 300, p: int = 30) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, p))
    signal = X[:, :4] @ np.array([1.5, -1.0, 0.8, 0.6])
    noisy = signal + rng.normal(scale=1.0, size=n)
    y = (noisy > 0).astype(int) if task == "classification" else noisy
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)]).assign(y=y)
    path = folder / f"sparse_{task}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("linear_path")
    return {task: _sparse_table(folder, task) for task in ("classification", "regression")}


def _path(csv: Path, folder: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    out_json = folder / "path.json"
    code, out, err = invoke(
        "path", "--data", csv, "--target", "y", "--model", "linear", "--quiet",
        "--json", out_json, *extra,
    )  # fmt: skip
    assert code == 0, err
    return out, json.loads(out_json.read_text())


@pytest.fixture(scope="module")
def both_rules(sparse: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("rules")
    default = _path(sparse["classification"], folder)
    interpretable = _path(sparse["classification"], folder, "--interpretable")
    return default, interpretable


def test_the_path_starts_at_lambda_max_and_grows_denser(both_rules: Any) -> None:
    _, payload = both_rules[0]
    assert set(payload) == LINEAR_KEYS
    assert (payload["kind"], payload["exact"], payload["penalty"]) == ("path", True, "l1")
    path = payload["path"]
    assert len(path["strengths"]) == 30 and path["strengths"][0] == payload["lambda_max"]
    assert np.all(np.diff(path["strengths"]) < 0)
    nonzero = np.array(path["nonzero"])
    assert nonzero[0] == 0 and nonzero[1] > 0
    assert np.mean(np.diff(nonzero) >= 0) >= 0.8  # mostly increasing down the path
    assert nonzero[-1] > 4  # the weakest strengths keep noise columns too
    assert len(path["cv_mean"]) == len(path["cv_se"]) == 30
    assert payload["scoring"] == "neg_log_loss" and payload["folds"] == 5


def test_the_rules_and_what_the_output_says(both_rules: Any) -> None:
    (out, payload), (out_1se, payload_1se) = both_rules
    assert payload["rule"] == "min" and payload_1se["rule"] == "1se"
    low, one_se = payload["lambda_min_index"], payload["lambda_1se_index"]
    assert (payload_1se["lambda_min_index"], payload_1se["lambda_1se_index"]) == (low, one_se)
    assert payload["chosen_index"] == low and payload_1se["chosen_index"] == one_se
    assert one_se <= low  # λ_1se is at least as strong, so at least as sparse
    nonzero = payload["path"]["nonzero"]
    assert nonzero[one_se] <= nonzero[low]
    mean, se = payload["path"]["cv_mean"], payload["path"]["cv_se"]
    assert mean[low] == max(mean) and mean[one_se] >= mean[low] - se[low]
    assert payload["lambda_min"] == payload["path"]["strengths"][low]
    assert "λ_min (best cross-validated score) chose" in " ".join(out.split())
    assert "λ_1se (sparsest within one standard error of the best) chose" in " ".join(
        out_1se.split()
    )
    assert "would give" in out and "(reported, not used to choose)" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "steps hidden (--json has all of them)" in out


def test_cv_pick_is_lasso_cv_on_the_training_and_validation_rows(
    sparse: dict[str, Path],
) -> None:
    result = linear_regularization_path(sparse["regression"], target="y", n_steps=20)
    _, bundle = prepare_data(str(sparse["regression"]), target="y")
    X = np.concatenate([bundle.X_train, bundle.X_val]).astype(np.float64)
    y = np.concatenate([bundle.y_train, bundle.y_val]).astype(np.float64).reshape(-1)
    y = (y - y.mean()) / y.std()  # the trainer's scaling of regression targets
    grid = np.array(result.strengths)
    # Regulab's L1(s) on squared error is scikit-learn's Lasso(alpha=s / 2)
    sk = LassoCV(alphas=grid / 2, cv=KFold(5), tol=1e-12, max_iter=100_000).fit(X, y)
    assert result.strengths[result.lambda_min_index] == pytest.approx(2 * sk.alpha_)
    np.testing.assert_allclose(-np.array(result.cv_mean), sk.mse_path_.mean(1), rtol=1e-4)
    assert result.test_metric == "test_r2" and 0.3 < result.test_score <= 1


@pytest.mark.parametrize("penalty", ["l2", "elastic_net"])
def test_l2_and_elastic_net_paths(penalty: str, sparse: dict[str, Path]) -> None:
    result = linear_regularization_path(
        sparse["classification"], penalty, target="y", n_steps=6, folds=3
    )
    assert result.lambda_1se_index <= result.lambda_min_index
    if penalty == "elastic_net":
        assert result.nonzero[0] == 0 and result.nonzero[1] > 0 and result.l1_ratio == 0.5
    else:
        assert min(result.nonzero) == max(result.nonzero) >= 30  # L2 shrinks, never zeroes
