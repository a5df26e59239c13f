"""Tests for regulab.estimators: the scikit-learn contract and the ways people use estimators."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.feature_selection import SelectFromModel
from sklearn.metrics import balanced_accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from regulab.errors import DataError, InvalidParameterError
from regulab.estimators import (
    ESTIMATORS,
    RegularizedLinearClassifier,
    RegularizedLinearRegressor,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
)
from regulab.io import load
from regulab.training import History, StopReason

FAST = {"epochs": 20, "learning_rate": 1e-2, "random_state": 0, "device": "cpu"}
REGULARIZED = {**FAST, "early_stopping": True, "patience": 3}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models train faster on one thread (OpenMP start-up dominates otherwise)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _classifiers() -> list:
    return [RegularizedMLPClassifier((16,), **FAST), RegularizedLinearClassifier(**FAST)]


def _regressors() -> list:
    return [RegularizedMLPRegressor((16,), **FAST), RegularizedLinearRegressor(**FAST)]


def _expected_failures(estimator) -> dict[str, str]:
    """The one check a classifier fails on purpose: it sets a dict ``class_weight``."""
    if not is_classifier(estimator):
        return {}
    return {
        "check_class_weight_classifiers": "class_weight takes None or 'balanced' only; a dict "
        "of per-class weights is refused with InvalidParameterError"
    }


# Every other check passes: none is skipped. The second set turns on early stopping (carved
# validation), dropout, batch norm and each penalty kind.
@parametrize_with_checks(
    [
        *_classifiers(),
        *_regressors(),
        RegularizedMLPClassifier(
            (16, 8), dropout=(0.1, 0.0), batchnorm=True, l1=1e-4, prox_l1=True, **REGULARIZED
        ),
        RegularizedMLPRegressor(
            (16,),
            input_dropout=0.1,
            elastic_net=(1e-3, 0.5),
            weight_decay=1e-3,
            optimizer="adamw",
            **REGULARIZED,
        ),
        RegularizedLinearClassifier(
            l2=1e-3, optimizer="sgd", monitor="val_accuracy", **REGULARIZED
        ),
        RegularizedLinearRegressor(l1=1e-3, monitor="val_r2", **REGULARIZED),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- composition with scikit-learn --------------------------------------------------------------
def test_pipeline_with_scaler(classification_problem):
    p = classification_problem
    model = make_pipeline(StandardScaler(), RegularizedMLPClassifier((16,), l2=1e-4, **FAST))
    assert model.fit(p.X, p.y) is model
    assert model.score(p.X_val, p.y_val) > 0.85


def test_grid_search_in_parallel(classification_problem):
    p = classification_problem
    search = GridSearchCV(
        RegularizedLinearClassifier(**FAST), {"l2": [0.0, 1e-2]}, cv=3, n_jobs=2
    ).fit(p.X, p.y)
    assert search.best_params_["l2"] in (0.0, 1e-2)
    assert search.best_estimator_.score(p.X_val, p.y_val) > 0.85
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_cross_val_score(regression_problem):
    p = regression_problem
    estimator = RegularizedLinearRegressor(**{**FAST, "learning_rate": 0.05, "epochs": 30})
    scores = cross_val_score(estimator, p.X, p.y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.9


def test_select_from_model_keeps_informative_features_linear(classification_problem):
    p = classification_problem
    estimator = RegularizedLinearClassifier(l1=0.03, prox_l1=True, **{**FAST, "epochs": 30})
    selector = SelectFromModel(estimator, threshold=1e-12).fit(p.X, p.y)
    kept = set(np.flatnonzero(selector.get_support()).tolist())
    assert set(range(p.n_informative)) <= kept
    assert len(kept) <= 12  # most of the 35 noise features are exactly zero
    assert selector.estimator_.sparsity_.total > 0.5


def test_select_from_model_keeps_informative_features_mlp(classification_problem):
    p = classification_problem
    estimator = RegularizedMLPClassifier((16,), l1=1e-2, prox_l1=True, **{**FAST, "epochs": 30})
    selector = SelectFromModel(estimator).fit(p.X, p.y)
    kept = set(np.flatnonzero(selector.get_support()).tolist())
    assert set(range(p.n_informative)) <= kept
    assert len(kept) <= 8
    importances = selector.estimator_.feature_importances_
    assert importances.shape == (p.n_features,)
    assert importances.sum() == pytest.approx(1.0)
    assert len(selector.estimator_.sparsity_.dropped_features) > 5


@pytest.mark.parametrize(
    "estimator", [*_classifiers(), *_regressors()], ids=lambda e: type(e).__name__
)
def test_clone_copies_parameters_not_fit(estimator, classification_problem):
    p = classification_problem
    fitted = clone(estimator).set_params(l2=1e-3).fit(p.X, p.y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")


@pytest.mark.parametrize(
    "estimator", [*_classifiers(), *_regressors()], ids=lambda e: type(e).__name__
)
def test_pickle_and_save_round_trip(estimator, classification_problem, tmp_path):
    p = classification_problem
    estimator = clone(estimator).fit(p.X, p.y)
    expected = estimator.predict(p.X_val)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(p.X_val), expected)
    loaded = load(estimator.save(tmp_path / "model.safetensors"))
    assert type(loaded) is type(estimator)
    np.testing.assert_array_equal(loaded.predict(p.X_val), expected)
    if hasattr(estimator, "predict_proba"):
        np.testing.assert_array_equal(
            loaded.predict_proba(p.X_val), estimator.predict_proba(p.X_val)
        )


# -- labels, shapes and fitted attributes -------------------------------------------------------
def test_string_labels_round_trip(multiclass_problem):
    p = multiclass_problem
    names = np.array(["cat", "dog", "emu"])
    clf = RegularizedMLPClassifier((16,), **FAST).fit(p.X, names[p.y])
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    predicted = clf.predict(p.X_val)
    assert set(predicted) <= {"cat", "dog", "emu"}
    assert np.mean(predicted == names[p.y_val]) > 0.8
    assert clf.predict_proba(p.X_val).shape == (len(p.X_val), 3)


def test_binary_labels_use_one_sigmoid_output(classification_problem):
    p = classification_problem
    labels = np.where(p.y == 1, "yes", "no")
    clf = RegularizedLinearClassifier(**FAST).fit(p.X, labels)
    assert clf.model_.architecture.sizes[-1] == 1
    assert clf.coef_.shape == (1, p.n_features)
    assert clf.intercept_.shape == (1,)
    assert clf.decision_function(p.X_val).shape == (len(p.X_val),)
    expected = np.where(clf.decision_function(p.X_val) > 0, "yes", "no")
    np.testing.assert_array_equal(clf.predict(p.X_val), expected)


def test_linear_shapes_follow_scikit_learn(multiclass_problem, regression_problem):
    m, r = multiclass_problem, regression_problem
    multi = RegularizedLinearClassifier(**FAST).fit(m.X, m.y)
    assert multi.coef_.shape == (3, m.n_features) and multi.intercept_.shape == (3,)
    single = RegularizedLinearRegressor(**FAST).fit(r.X, r.y)
    assert single.coef_.shape == (r.n_features,) and isinstance(single.intercept_, float)
    two = RegularizedLinearRegressor(**FAST).fit(r.X, np.column_stack([r.y, -r.y]))
    assert two.coef_.shape == (2, r.n_features) and two.intercept_.shape == (2,)
    assert two.predict(r.X_val).shape == (len(r.X_val), 2)


def test_dataframe_feature_names(regression_problem):
    p = regression_problem
    frame = pd.DataFrame(p.X, columns=p.feature_names)
    reg = RegularizedMLPRegressor((8,), **FAST).fit(frame, p.y)
    assert reg.feature_names_in_.tolist() == p.feature_names
    assert reg.n_features_in_ == p.n_features


def test_fit_returns_self_and_sets_attributes(classification_problem):
    p = classification_problem
    clf = RegularizedMLPClassifier((8,), **FAST)
    assert clf.fit(p.X, p.y) is clf
    assert isinstance(clf.history_, History) and len(clf.history_) == clf.n_iter_ == 20
    assert clf.stop_reason_ is StopReason.MAX_EPOCHS and clf.best_epoch_ is None
    assert "val_loss" not in clf.history_[-1]  # no early stopping: nothing held out


def test_early_stopping_sets_its_attributes(classification_problem):
    p = classification_problem
    clf = RegularizedMLPClassifier(
        (32,), early_stopping=True, patience=2, **{**FAST, "learning_rate": 0.05, "epochs": 200}
    ).fit(p.X, p.y)
    assert clf.stop_reason_ is StopReason.PATIENCE
    assert clf.n_iter_ < 200 and clf.best_epoch_ == clf.n_iter_ - 2
    assert "val_loss" in clf.history_[-1]
    assert "restored" in clf.stop_message_


def test_early_stopping_uses_the_given_validation_data(classification_problem):
    p = classification_problem
    clf = RegularizedLinearClassifier(early_stopping=True, patience=2, **FAST)
    clf.fit(p.X, p.y, X_val=p.X_val, y_val=p.y_val)
    best = clf.history_[clf.best_epoch_ - 1] if clf.best_epoch_ else clf.history_[-1]
    assert best["val_loss"] == pytest.approx(
        log_loss(p.y_val, clf.predict_proba(p.X_val)), rel=1e-4
    )


def test_early_stopping_holds_out_a_seeded_part_of_fit_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = np.array([0] * 90 + [1] * 10)
    params = {**REGULARIZED, "epochs": 2, "validation_fraction": 0.2}
    first = RegularizedLinearClassifier(**params).fit(X, y)
    again = RegularizedLinearClassifier(**params).fit(X, y)
    assert first.history_.column("val_loss") == again.history_.column("val_loss")
    other = RegularizedLinearClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert other.history_.column("val_loss") != first.history_.column("val_loss")


@pytest.mark.parametrize(
    ("estimator", "optimizer"),
    [
        (RegularizedLinearClassifier, "adam"),
        (RegularizedLinearRegressor, "sgd"),
        (RegularizedMLPClassifier, "sgd"),
        (RegularizedMLPRegressor, "adamw"),
    ],
)
def test_partial_fit_is_fit_one_epoch_at_a_time(estimator, optimizer, classification_problem):
    p = classification_problem
    y = p.y if estimator._task == "classification" else p.X[:, :5].sum(1) * 100
    params = {**FAST, "epochs": 4, "l1": 0.02, "prox_l1": True, "optimizer": optimizer}
    if estimator in (RegularizedMLPClassifier, RegularizedMLPRegressor):
        params["hidden_layer_sizes"] = (8,)
    else:  # the trainer's epochs (an L1 linear model is otherwise solved exactly)
        params["solver"] = "trainer"
    fitted = estimator(**params).fit(p.X, y)
    streamed = estimator(**params)
    for _ in range(4):
        streamed.partial_fit(p.X, y, **({"classes": [0, 1]} if is_classifier(streamed) else {}))
    assert 0 < fitted.sparsity_.total < 1
    assert streamed.sparsity_.total == fitted.sparsity_.total
    for name, value in fitted.model_.state_dict().items():
        torch.testing.assert_close(streamed.model_.state_dict()[name], value, msg=name)
    assert streamed.history_.column("loss") == pytest.approx(fitted.history_.column("loss"))


def test_partial_fit_continues_and_accepts_partial_batches(multiclass_problem):
    p = multiclass_problem
    clf = RegularizedMLPClassifier((16,), **FAST)
    with pytest.raises(DataError, match="needs 'classes'"):
        clf.partial_fit(p.X, p.y)
    clf.partial_fit(p.X, p.y, classes=[0, 1, 2])
    first = clf.predict_proba(p.X_val)
    only_two = p.y < 2  # a batch without class 2 still trains
    for _ in range(5):
        clf.partial_fit(p.X[only_two], p.y[only_two])
    assert clf.n_iter_ == 6 and len(clf.history_) == 6
    assert not np.allclose(first, clf.predict_proba(p.X_val))
    with pytest.raises(DataError, match="not among the classes"):
        clf.partial_fit(p.X[:4], np.array([0, 1, 2, 7]))


def test_partial_fit_after_fit_keeps_the_weights(regression_problem):
    p = regression_problem
    reg = RegularizedLinearRegressor(**FAST, solver="trainer").fit(p.X, p.y)
    before = reg.score(p.X_val, p.y_val)
    reg.partial_fit(p.X, p.y)
    assert reg.n_iter_ == 21
    assert reg.score(p.X_val, p.y_val) > before - 0.05


# -- parameter validation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            RegularizedMLPClassifier(dropout=1.5),
            "The 'dropout' parameter of RegularizedMLPClassifier must be a float in the range "
            "[0.0, 1.0). Got 1.5 instead.",
        ),
        (
            RegularizedMLPClassifier((8, 8), dropout=(0.1, 1.5)),
            "The 'dropout' parameter of RegularizedMLPClassifier must be a float in the range "
            "[0.0, 1.0) or one such float per hidden layer (2). Got (0.1, 1.5) instead.",
        ),
        (
            RegularizedLinearRegressor(l2=-1),
            "The 'l2' parameter of RegularizedLinearRegressor must be a float in the range "
            "[0.0, inf). Got -1 instead.",
        ),
        (
            RegularizedLinearClassifier(elastic_net=0.5),
            "The 'elastic_net' parameter of RegularizedLinearClassifier must be None or a pair "
            "(alpha, l1_ratio) with alpha in [0, inf) and l1_ratio in [0, 1]. Got 0.5 instead.",
        ),
        (
            RegularizedMLPRegressor(epochs=0),
            "The 'epochs' parameter of RegularizedMLPRegressor must be an int in the range "
            "[1, inf). Got 0 instead.",
        ),
        (
            RegularizedMLPRegressor((16, 0)),
            "The 'hidden_layer_sizes' parameter of RegularizedMLPRegressor must be an int in "
            "the range [1, inf) or a sequence of such ints. Got (16, 0) instead.",
        ),
    ],
    ids=["dropout", "dropout-per-layer", "l2", "elastic-net", "epochs", "hidden-sizes"],
)
def test_invalid_parameters_use_the_message_template(estimator, message, classification_problem):
    p = classification_problem
    with pytest.raises(InvalidParameterError) as error:
        estimator.fit(p.X, p.y)
    assert str(error.value) == message


def test_invalid_choice_suggests_the_nearest(classification_problem):
    p = classification_problem
    with pytest.raises(
        InvalidParameterError, match=r"Got 'val_los' instead\. Did you mean 'val_loss'\?"
    ):
        RegularizedMLPClassifier(monitor="val_los").fit(p.X, p.y)
    with pytest.raises(
        ValueError, match=r"^The 'optimizer' parameter of RegularizedLinearRegressor"
    ):
        RegularizedLinearRegressor(optimizer="adm").fit(p.X, p.y)


def test_single_class_is_refused(classification_problem):
    p = classification_problem
    with pytest.raises(DataError, match="needs at least 2 classes in y; got 1 class"):
        RegularizedLinearClassifier(**FAST).fit(p.X, np.zeros(len(p.X)))


def test_registry_lists_the_four_estimators():
    assert sorted(ESTIMATORS) == [
        "RegularizedLinearClassifier",
        "RegularizedLinearRegressor",
        "RegularizedMLPClassifier",
        "RegularizedMLPRegressor",
    ]


def test_regressor_fits_the_same_model_on_a_target_a_thousand_times_larger(regression_problem):
    p = regression_problem
    params = {**FAST, "l1": 0.05, "prox_l1": True, "epochs": 8}
    small = RegularizedLinearRegressor(**params).fit(p.X, p.y)
    large = RegularizedLinearRegressor(**params).fit(p.X, p.y * 1000)
    np.testing.assert_allclose(large.coef_, small.coef_ * 1000, rtol=1e-4, atol=1e-3)
    assert large.intercept_ == pytest.approx(small.intercept_ * 1000, rel=1e-4, abs=1e-3)
    assert large.sparsity_.total == small.sparsity_.total > 0.5
    np.testing.assert_allclose(large.predict(p.X_val), small.predict(p.X_val) * 1000, rtol=1e-4)
    assert large.score(p.X_val, p.y_val * 1000) == pytest.approx(small.score(p.X_val, p.y_val))


def _imbalanced(seed: int) -> tuple[np.ndarray, ...]:
    """Two overlapping classes, 5% of rows in the rare one: train and held-out parts."""
    rng = np.random.default_rng(seed)
    y = (rng.random(1200) < 0.05).astype(int)
    X = rng.normal(size=(1200, 4)) + np.outer(y, [1.5, 1.0, 0.0, 0.0])
    return X[:600], y[:600], X[600:], y[600:]


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: RegularizedMLPClassifier((16,), **kw),
        lambda **kw: RegularizedLinearClassifier(**kw),
    ],
    ids=["mlp", "linear"],
)
def test_balanced_class_weight_raises_balanced_accuracy_on_a_rare_class(make):
    X, y, X_new, y_new = _imbalanced(0)
    params = {**FAST, "epochs": 30}
    plain = make(**params).fit(X, y)
    balanced = make(**params, class_weight="balanced").fit(X, y)
    plain_score = balanced_accuracy_score(y_new, plain.predict(X_new))
    balanced_score = balanced_accuracy_score(y_new, balanced.predict(X_new))
    assert balanced_score > plain_score + 0.1
    assert balanced.get_params()["class_weight"] == "balanced"
    assert clone(balanced).class_weight == "balanced"


def test_a_weighted_linear_classifier_trains_with_the_trainer():
    X, y, _, _ = _imbalanced(1)
    weighted = RegularizedLinearClassifier(**FAST, l2=1e-3, class_weight="balanced").fit(X, y)
    assert (weighted.solver_, weighted.converged_) == ("adam", None)
    assert RegularizedLinearClassifier(**FAST, l2=1e-3).fit(X, y).converged_ is True
    with pytest.raises(InvalidParameterError, match="without class_weight"):
        RegularizedLinearClassifier(solver="exact", class_weight="balanced").fit(X, y)


def test_class_weight_is_saved_and_loaded(tmp_path):
    X, y, X_new, _ = _imbalanced(2)
    clf = RegularizedMLPClassifier((8,), **FAST, class_weight="balanced").fit(X, y)
    again = load(clf.save(tmp_path / "clf.safetensors"))
    assert again.class_weight == "balanced"
    np.testing.assert_array_equal(again.predict(X_new), clf.predict(X_new))


def test_bad_class_weight_is_refused_clearly(classification_problem):
    p = classification_problem
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'class_weight' parameter of RegularizedLinearClassifier must be None or a "
        r"str among \{'balanced'\}\. Got 'balance' instead\. Did you mean 'balanced'\?",
    ):
        RegularizedLinearClassifier(class_weight="balance").fit(p.X, p.y)
    with pytest.raises(InvalidParameterError, match=r"class_weight.*Got \{0: 2\} instead"):
        RegularizedMLPClassifier(class_weight={0: 2}).fit(p.X, p.y)
    with pytest.raises(InvalidParameterError, match="partial_fit trains on one call's rows"):
        RegularizedMLPClassifier(class_weight="balanced").partial_fit(p.X, p.y, classes=[0, 1])
    with pytest.raises(TypeError, match="class_weight"):
        RegularizedMLPRegressor(class_weight="balanced")
    assert "class_weight" not in RegularizedLinearRegressor().get_params()
