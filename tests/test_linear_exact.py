"""Linear estimators and linear runs fitted exactly by regulab.solvers (issue 20, item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Lasso, LogisticRegression, Ridge

from regulab.config import TrainConfig
from regulab.estimators import RegularizedLinearClassifier, RegularizedLinearRegressor
from regulab.experiment import prepare_data
from regulab.experiment._runner import RunSpec, fresh_models, train_stack
from regulab.solvers import elastic_net_strengths, sklearn_strength
from regulab.training import StopReason

FAST = {"random_state": 0, "device": "cpu"}


def _data(n: int = 150, p: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # float32-exact values: the estimators hand the solver float32 features
    X = rng.normal(size=(n, p)).astype(np.float32).astype(np.float64)
    signal = X[:, 0] - 0.7 * X[:, 1] + 0.3 * X[:, 2]
    return X, signal + 0.8 * rng.normal(size=n)


def _logistic(params: dict[str, float]) -> LogisticRegression:
    """scikit-learn's logistic regression with ``sklearn_strength``'s arguments, run tight."""
    if params["l1_ratio"] == 0:
        return LogisticRegression(C=params["C"], tol=1e-10, max_iter=10_000)
    return LogisticRegression(**params, solver="saga", tol=1e-12, max_iter=100_000)


def test_binary_l2_classifier_matches_logistic_regression():
    X, signal = _data()
    y = (signal > 0).astype(int)
    clf = RegularizedLinearClassifier(l2=0.01, **FAST).fit(X, y)
    reference = _logistic(sklearn_strength("binary", 0.0, 0.01, len(X))).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(clf.intercept_, reference.intercept_, atol=1e-4)
    assert (clf.solver_, clf.converged_, clf.stop_reason_) == ("lbfgs", True, StopReason.CONVERGED)
    assert 0 < clf.n_iter_ < 1000
    assert len(clf.history_) == 1
    assert clf.history_[0]["loss"] > 0
    assert "converged" in clf.stop_message_


@pytest.mark.parametrize(("l1", "elastic_net"), [(0.02, None), (0.0, (0.04, 0.5))])
def test_sparse_binary_classifier_matches_saga(l1, elastic_net):
    X, signal = _data()
    y = (signal > 0).astype(int)
    clf = RegularizedLinearClassifier(l1=l1, elastic_net=elastic_net, **FAST).fit(X, y)
    a, b = elastic_net_strengths(*elastic_net) if elastic_net else (0.0, 0.0)
    mapped = sklearn_strength("binary", l1 + a, b, len(X))
    reference = _logistic(mapped).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-4)
    assert clf.solver_ == "lbfgs-b"
    assert clf.sparsity_.total > 0  # exact zeros, without prox_l1


def test_multiclass_classifier_matches_multinomial_lbfgs():
    X, signal = _data(seed=1)
    y = np.digitize(signal, [-0.7, 0.7])
    clf = RegularizedLinearClassifier(l2=0.005, **FAST).fit(X, np.array(["a", "b", "c"])[y])
    reference = _logistic(sklearn_strength("multiclass", 0.0, 0.005, len(X))).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(
        clf.predict_proba(X), reference.predict_proba(X), atol=1e-5, rtol=1e-4
    )


@pytest.mark.parametrize(("l1", "l2"), [(0.05, 0.0), (0.0, 0.01)])
def test_regressor_matches_lasso_and_ridge_on_the_standardized_target(l1, l2):
    X, signal = _data()
    y = 50.0 * signal + 7.0
    reg = RegularizedLinearRegressor(l1=l1, l2=l2, **FAST).fit(X, y)
    y32 = y.astype(np.float32).astype(np.float64)  # the estimators keep targets in float32
    mean, scale = y32.mean(), y32.std()
    standardized = (y32 - mean) / scale
    mapped = sklearn_strength("regression", l1, l2, len(X))
    model = Lasso(alpha=mapped["alpha"], tol=1e-12) if l1 else Ridge(**mapped)
    model.fit(X, standardized)
    np.testing.assert_allclose(reg.coef_, model.coef_ * scale, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(reg.predict(X), model.predict(X) * scale + mean, rtol=1e-4)
    assert reg.solver_ == ("sklearn.ElasticNet" if l1 else "sklearn.Ridge")
    assert reg.converged_ and reg.n_iter_ >= 1


def test_dropout_weight_decay_and_early_stopping_keep_the_trainer():
    X, signal = _data()
    y = (signal > 0).astype(int)
    params = {"l2": 0.01, "epochs": 3, "learning_rate": 1e-2, **FAST}
    for extra in ({"input_dropout": 0.1}, {"weight_decay": 1e-3}, {"early_stopping": True}):
        auto = RegularizedLinearClassifier(**params, **extra).fit(X, y)
        trainer = RegularizedLinearClassifier(**params, **extra, solver="trainer").fit(X, y)
        np.testing.assert_array_equal(auto.coef_, trainer.coef_)
        assert (auto.solver_, auto.converged_) == ("adam", None)
        assert auto.n_iter_ == len(auto.history_) <= 3
    with pytest.raises(ValueError, match="solver='exact'.*input_dropout"):
        RegularizedLinearClassifier(input_dropout=0.1, solver="exact").fit(X, y)


def test_exact_fit_survives_save_and_load_and_partial_fit_continues(tmp_path):
    from regulab.io import load

    X, signal = _data()
    y = (signal > 0).astype(int)
    clf = RegularizedLinearClassifier(l1=0.01, **FAST).fit(X, y)
    loaded = load(clf.save(tmp_path / "m.safetensors"))
    assert (loaded.solver_, loaded.converged_, loaded.n_iter_) == ("lbfgs-b", True, clf.n_iter_)
    np.testing.assert_allclose(loaded.decision_function(X), clf.decision_function(X))
    clf.partial_fit(X, y)  # one more epoch of the trainer from the exact weights
    assert len(clf.history_) == 2


def test_runs_of_a_linear_config_without_dropout_are_solved_exactly():
    X, signal = _data(n=200)
    from regulab.data import Dataset

    data = Dataset(
        X, (signal > 0).astype(np.int64), "classification", [f"x{i}" for i in range(6)], "toy"
    )
    _, bundle = prepare_data(data)
    specs = [
        RunSpec("linear+l1", TrainConfig(model="linear", l1=0.01, epochs=5), 0),
        RunSpec("linear+dropout", TrainConfig(model="linear", input_dropout=0.2, epochs=5), 0),
        RunSpec("linear+l2", TrainConfig(model="linear", l2=0.01, epochs=5), 0),
    ]
    results = train_stack(specs, fresh_models(specs, bundle), bundle)
    exact, trained, ridge = results
    assert exact.stop_reason == StopReason.CONVERGED and len(exact.history) == 1
    assert exact.epochs_run > 0 and "val_loss" in exact.history[0]
    assert trained.stop_reason == StopReason.MAX_EPOCHS and trained.epochs_run == 5
    reference = _logistic({**sklearn_strength("binary", 0.0, 0.01, len(bundle.X_train))}).fit(
        bundle.X_train, bundle.y_train
    )
    weights = ridge.model.linears[0].weight.detach().double().numpy()
    if weights.shape[0] == 2:  # a two-class softmax: compare the logit difference
        weights = weights[1:] - weights[:1]
        reference = _logistic(sklearn_strength("binary", 0.0, 0.01 / 2, len(bundle.X_train))).fit(
            bundle.X_train, bundle.y_train
        )
    np.testing.assert_allclose(weights, reference.coef_, atol=1e-4)


def test_advised_linear_pick_matches_logistic_regression_cv_on_the_same_folds():
    """Sparse signal among 100 features, 240 non-test rows: the advisor's best linear
    candidate (exact fits, chosen by cross-validated loss) is within 0.5 point of accuracy of
    LogisticRegressionCV's rule (L1, 20 strengths, best mean fold log loss) on its folds."""
    from sklearn.metrics import log_loss

    from regulab.advise import advise
    from regulab.advise._search import cv_folds
    from regulab.data import make_synthetic

    data = make_synthetic(300, n_informative=5, n_irrelevant=100, seed=0)
    advice = advise(data, budget="20s", seeds=2, verbose=0)
    _, bundle = prepare_data(data)
    folds = cv_folds(bundle, 0, seed=0, k=advice.data["selection"]["folds"])
    fingerprints = {part.fingerprint for part, _ in folds}
    scores: dict[str, list[tuple[float, float]]] = {}
    for record in advice.records:
        if record.config_name.startswith("linear") and record.data_fingerprint in fingerprints:
            assert record.stop_reason == "converged", record.config_name
            pair = (record.metrics["val_loss"], record.metrics["val_accuracy"])
            scores.setdefault(record.config_name, []).append(pair)
    assert scores
    pick_loss, pick_accuracy = min(tuple(np.mean(values, axis=0)) for values in scores.values())
    reference = []
    for C in np.logspace(-4, 4, 20):
        fold_scores = []
        for part, _ in folds:
            model = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear").fit(
                part.X_train, part.y_train
            )
            fold_scores.append(
                (
                    log_loss(part.y_val, model.predict_proba(part.X_val)),
                    model.score(part.X_val, part.y_val),
                )
            )
        reference.append(tuple(np.mean(fold_scores, axis=0)))
    cv_loss, cv_accuracy = min(reference)
    assert pick_loss <= cv_loss + 0.01, (pick_loss, cv_loss)
    assert pick_accuracy >= cv_accuracy - 0.005, (pick_accuracy, cv_accuracy)


def test_exact_fit_stopped_by_its_iteration_guard_says_so():
    from regulab.models import LinearModel
    from regulab.penalties import L1
    from regulab.solvers import exact_result

    X, signal = _data()
    result, fit = exact_result(
        LinearModel(6, 1, seed=0), [L1(0.001)], X, signal > 0, tol=1e-12, max_iter=2
    )
    assert not fit.converged and fit.n_iter == 2
    assert result.stop_reason == StopReason.MAX_EPOCHS
    assert result.stop_message.endswith("at max_iter=2")
