"""Tests for regulab.io: safe model files, refusal of bad files, predictions on a file."""

from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from sklearn.exceptions import NotFittedError

from regulab._format import _checksum
from regulab.custom import build_model, recipe
from regulab.data import load as load_data
from regulab.errors import DataError, InvalidParameterError, RegulabError
from regulab.estimators import (
    RegularizedLinearClassifier,
    RegularizedLinearRegressor,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
)
from regulab.io import (
    FORMAT_VERSION,
    ModelFileError,
    load,
    predict_file,
    read_config,
    save,
)
from regulab.models import MLP, LinearModel
from regulab.training import StopReason, predict, predict_scores, train

FAST = {"epochs": 5, "learning_rate": 1e-2, "random_state": 0, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _rewrite(path, edit_config=None, edit_tensors=None, reseal=True):
    """Re-save a model file with its metadata or tensors changed; ``reseal`` recomputes the
    checksum (what someone who edits the file on purpose can do), else it is kept."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    metadata = json.loads(raw[8 : 8 + size])["__metadata__"]
    config = json.loads(metadata["regulab"])
    tensors = load_tensors(raw)
    if edit_config:
        edit_config(config)
    if edit_tensors:
        edit_tensors(tensors)
    text = json.dumps(config)
    checksum = _checksum(text, tensors) if reseal else metadata["regulab_sha256"]
    metadata = {"regulab": text, "regulab_sha256": checksum}
    path.write_bytes(save_tensors(tensors, metadata=metadata))


@pytest.fixture
def model_file(tmp_path):
    model = MLP("6-8-3", dropout=0.2, batchnorm=True, seed=0)
    with torch.no_grad():
        model.norms["0"].running_mean.fill_(0.5)  # a buffer, not a parameter, must survive
    return save(model, tmp_path / "mlp.safetensors"), model


# -- round trips ----------------------------------------------------------------------------------
def test_mlp_round_trip(model_file):
    path, model = model_file
    loaded = load(path)
    assert type(loaded) is MLP and loaded.config() == model.config()
    assert not loaded.training
    x = torch.randn(5, 6)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert read_config(path)["format_version"] == FORMAT_VERSION


def test_linear_model_round_trip(tmp_path):
    model = LinearModel(4, 1, task="regression", seed=0)
    loaded = load(save(model, tmp_path / "lin.safetensors"))
    assert type(loaded) is LinearModel
    torch.testing.assert_close(loaded.state_dict(), model.state_dict())


@pytest.mark.parametrize(
    "estimator",
    [
        RegularizedMLPClassifier((8,), dropout=(0.1,), early_stopping=True, **FAST),
        RegularizedLinearClassifier(elastic_net=(1e-3, 0.5), **FAST),
        RegularizedMLPRegressor((8, 4), batchnorm=(1,), **FAST),
        RegularizedLinearRegressor(l1=1e-3, prox_l1=True, **FAST),
    ],
    ids=lambda e: type(e).__name__,
)
def test_estimator_round_trip(estimator, classification_problem, tmp_path):
    p = classification_problem
    frame = pd.DataFrame(p.X, columns=p.feature_names)
    is_classifier = "Classifier" in type(estimator).__name__
    y = np.where(p.y == 1, "spam", "ham") if is_classifier else p.y.astype(float)
    estimator.fit(frame, y)
    loaded = load(save(estimator, tmp_path / "est.safetensors"))
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    X_val = pd.DataFrame(p.X_val, columns=p.feature_names)
    np.testing.assert_array_equal(loaded.predict(X_val), estimator.predict(X_val))
    assert loaded.feature_names_in_.tolist() == p.feature_names
    assert loaded.history_.to_list() == estimator.history_.to_list()
    assert loaded.stop_reason_ is estimator.stop_reason_
    assert loaded.best_epoch_ == estimator.best_epoch_ and loaded.n_iter_ == estimator.n_iter_
    assert loaded.sparsity_ == estimator.sparsity_
    if is_classifier:
        np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
        assert loaded.classes_.dtype == estimator.classes_.dtype
    if hasattr(estimator, "coef_"):
        np.testing.assert_array_equal(loaded.coef_, estimator.coef_)
    loaded.partial_fit(X_val, y[: len(X_val)])  # a loaded estimator can keep training
    assert loaded.n_iter_ == estimator.n_iter_ + 1


def test_integer_labels_keep_their_type(multiclass_problem, tmp_path):
    p = multiclass_problem
    clf = RegularizedLinearClassifier(**FAST).fit(p.X, p.y + 10)
    loaded = clf.save(tmp_path / "clf.safetensors")
    assert load(loaded).predict(p.X_val).tolist() == clf.predict(p.X_val).tolist()
    assert load(loaded).classes_.tolist() == [10, 11, 12]


def test_loading_never_unpickles(model_file, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert isinstance(load(model_file[0]), MLP)


# -- refusals ------------------------------------------------------------------------------------
def test_tampered_weight_bytes_are_refused(model_file):
    path, _ = model_file
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # the last bytes are tensor data
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="altered or corrupted: its weights or metadata do"):
        load(path)


def test_swapped_weights_are_refused(model_file):
    path, _ = model_file

    def scale(tensors):
        tensors["linears.0.weight"] *= 2

    _rewrite(path, edit_tensors=scale, reseal=False)
    with pytest.raises(ModelFileError, match="SHA-256"):
        load(path)


def _set_class_name(config):
    config["estimator"]["state"]["classes"]["values"][0] = 99


def _set_input_mean(config):
    config["preprocessing"]["mean"][0] = 5.0


@pytest.mark.parametrize(
    "edit",
    [_set_class_name, _set_input_mean, lambda c: c["model"]["config"].update(activation="tanh")],
    ids=["class-name", "input-mean", "architecture"],
)
def test_edited_metadata_is_refused(multiclass_problem, tmp_path, edit):
    p = multiclass_problem
    clf = RegularizedLinearClassifier(**FAST).fit(p.X, p.y)
    path = clf.save(tmp_path / "clf.safetensors")
    if edit is _set_input_mean:
        preprocessing = {"feature_names": ["a"], "mean": [0.0], "scale": [1.0], "classes": None}
        path = save(MLP("1-2", seed=0), tmp_path / "m.safetensors", preprocessing=preprocessing)
    _rewrite(path, edit_config=edit, reseal=False)
    with pytest.raises(ModelFileError, match="weights or metadata do not match the SHA-256"):
        load(path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        read_config(path)


@pytest.mark.parametrize("keep", [0.5, 0.99, 20, 4], ids=["half", "last-byte", "header", "len"])
def test_truncated_file_is_refused(model_file, keep):
    path, _ = model_file
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep) if keep < 1 else keep])
    with pytest.raises(ModelFileError, match="truncated|not a Regulab model file"):
        load(path)


def test_future_format_version_is_refused(model_file):
    path, _ = model_file
    _rewrite(path, edit_config=lambda config: config.update(format_version=99))
    with pytest.raises(ModelFileError) as error:
        load(path)
    message = str(error.value)
    assert "has format version 99" in message
    assert "reads format version(s) 2." in message and "Upgrade Regulab" in message


def test_format_version_1_is_refused_with_advice(model_file):
    path, _ = model_file
    _rewrite(path, edit_config=lambda config: config.update(format_version=1))
    with pytest.raises(ModelFileError, match="does not cover its metadata; train and save"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b,target\n1,2,3\n4,5,6\n", "is not a Regulab model file"),
        (b"", "is not a Regulab model file (only 0 bytes)"),
        (save_tensors({"w": torch.zeros(2)}), "safetensors file without Regulab metadata"),
        (
            save_tensors({"w": torch.zeros(2)}, metadata={"regulab": "{not json"}),
            "corrupt Regulab metadata",
        ),
    ],
    ids=["csv", "empty", "plain-safetensors", "bad-json"],
)
def test_file_that_is_not_a_model_is_refused(tmp_path, content, message):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError) as error:
        load(path)
    assert message in str(error.value)
    assert isinstance(error.value, RegulabError) and isinstance(error.value, ValueError)


def test_unknown_classes_in_a_file_are_refused(model_file):
    path, _ = model_file
    _rewrite(path, edit_config=lambda config: config["model"].update({"class": "os.system"}))
    with pytest.raises(ModelFileError, match="unknown model class 'os.system'"):
        load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["estimator"]["params"].update(l2=-1), "The 'l2' parameter of"),
        (lambda c: c["estimator"]["state"].update(n_features_in=7), "is inconsistent"),
        (lambda c: c["estimator"].update({"class": "Pipeline"}), "unknown estimator 'Pipeline'"),
        (lambda c: c["estimator"]["state"].pop("classes"), "invalid estimator state"),
    ],
    ids=["bad-param", "inconsistent", "unknown-class", "missing-classes"],
)
def test_edited_estimator_metadata_is_refused(multiclass_problem, tmp_path, edit, message):
    p = multiclass_problem
    path = RegularizedLinearClassifier(**FAST).fit(p.X, p.y).save(tmp_path / "m.safetensors")
    _rewrite(path, edit_config=edit)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "nothing.safetensors")


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(InvalidParameterError, match="takes a fitted Regulab estimator"):
        save("a model", tmp_path / "x.safetensors")
    with pytest.raises(InvalidParameterError, match="this Linear was not built by Regulab"):
        save(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(NotFittedError):
        save(RegularizedLinearClassifier(), tmp_path / "x.safetensors")


# -- predict_file --------------------------------------------------------------------------------
@pytest.fixture
def trained_classifier(classification_problem, tmp_path):
    p = classification_problem
    frame = pd.DataFrame(p.X, columns=p.feature_names)
    clf = RegularizedLinearClassifier(**FAST).fit(frame, np.where(p.y == 1, "pos", "neg"))
    return clf, clf.save(tmp_path / "clf.safetensors")


def test_predict_file_writes_predictions_and_probabilities(
    trained_classifier, classification_problem, tmp_path
):
    clf, path = trained_classifier
    p = classification_problem
    data = pd.DataFrame(p.X_val, columns=p.feature_names)
    data["label"] = p.y_val
    data = data[["label", *reversed(p.feature_names)]]  # column order does not matter
    data.to_parquet(tmp_path / "new.parquet")
    out = predict_file(path, tmp_path / "new.parquet", tmp_path / "pred.csv", target="label")
    written = pd.read_csv(tmp_path / "pred.csv")
    assert list(written.columns) == ["prediction", "proba_neg", "proba_pos", "label"]
    expected = clf.predict(pd.DataFrame(p.X_val, columns=p.feature_names))
    assert written["prediction"].tolist() == expected.tolist()
    np.testing.assert_allclose(written[["proba_neg", "proba_pos"]].sum(axis=1), 1.0)
    assert out.shape == written.shape


def test_predict_file_lists_missing_columns(trained_classifier, classification_problem, tmp_path):
    _, path = trained_classifier
    p = classification_problem
    data = pd.DataFrame(p.X_val, columns=p.feature_names).drop(columns=["f3", "f17"])
    data.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(DataError) as error:
        predict_file(path, tmp_path / "new.csv", tmp_path / "pred.csv")
    assert "lacks 2 feature column(s) the model was trained with: f3, f17." in str(error.value)
    assert not (tmp_path / "pred.csv").exists()


def test_predict_file_with_regressor_and_raw_model(regression_problem, tmp_path):
    p = regression_problem
    reg = RegularizedLinearRegressor(**FAST).fit(p.X, p.y)  # numpy: no column names
    pd.DataFrame(p.X_val).to_csv(tmp_path / "new.csv", index=False)
    out = predict_file(
        reg.save(tmp_path / "reg.safetensors"), tmp_path / "new.csv", tmp_path / "o.csv"
    )
    np.testing.assert_allclose(out["prediction"], reg.predict(p.X_val), rtol=1e-6)
    model_path = save(MLP([p.n_features, 4, 2], seed=0), tmp_path / "mlp.safetensors")
    out = predict_file(model_path, tmp_path / "new.csv", tmp_path / "o2.csv")
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    pd.DataFrame(p.X_val[:, :3]).to_csv(tmp_path / "narrow.csv", index=False)
    with pytest.raises(DataError, match="has 3 feature column"):
        predict_file(model_path, tmp_path / "narrow.csv", tmp_path / "o3.csv")


def test_stop_reason_survives_as_enum(trained_classifier):
    clf, path = trained_classifier
    assert load(path).stop_reason_ is StopReason.CONVERGED  # solved exactly


def test_a_registered_class_round_trips_without_io_knowing_it(tmp_path):
    from regulab._format import register, registered

    @register
    class Wrapped:
        def __init__(self, model, note):
            self.model, self.note = model, note

        def _file_entry(self):
            return self.model, {"note": self.note}

        @classmethod
        def _from_file_entry(cls, entry, model):
            return cls(model, entry["note"])

    path = save(Wrapped(MLP("3-2", seed=0), "hello"), tmp_path / "w.safetensors")
    loaded = load(path)
    assert type(loaded) is Wrapped and loaded.note == "hello"
    assert registered("RegularizedLinearClassifier") is RegularizedLinearClassifier
    import regulab.io

    assert not any(
        str(getattr(v, "__module__", "")).startswith("regulab.estimators")
        for v in vars(regulab.io).values()
    )


# -- the built-in CNN and user factories ---------------------------------------------------------
@pytest.fixture
def user_models(monkeypatch):
    """``tests/user_models.py`` importable as ``user_models``, as from the user's folder."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import user_models

    return user_models


def _digits(n=150):
    digits = load_data("digits")
    return digits.X[:n] / 16.0, digits.y[:n]


@pytest.mark.parametrize(
    ("factory", "techniques"),
    [
        ("cnn", {"dropout": (0.2, 0.2, 0.5), "batchnorm": True}),
        ("user_models:make_net", {"dropout": (0.3,), "batchnorm": True}),
        ("user_models:make_mlp", {"dropout": (0.4,)}),  # rate set on its own dropout layer
    ],
)
def test_cnn_and_factory_models_round_trip(user_models, factory, techniques, tmp_path):
    X, y = _digits()
    shape = (1, 8, 8) if factory != "user_models:make_mlp" else (64,)
    model = build_model(
        factory, input_shape=shape, n_outputs=10, task="classification", seed=0, **techniques
    )
    train(model, X, y, epochs=2, batch_size=32, verbose=0, task="classification")
    before = predict_scores(model, X)
    path = save(model, tmp_path / "net.safetensors")

    loaded = load(path)
    assert type(loaded) is type(model) and not loaded.training
    torch.testing.assert_close(predict_scores(loaded, X), before, rtol=0, atol=0)
    assert read_config(path)["model"] == {"class": "factory", **recipe(model)}
    assert read_config(path)["model"]["factory"] == factory
    assert recipe(loaded) == recipe(model)
    # a loaded model saves again to the same description and weights
    again = load(save(loaded, tmp_path / "again.safetensors"))
    torch.testing.assert_close(predict_scores(again, X), before, rtol=0, atol=0)


def test_factory_regression_model_predicts_values_after_loading(user_models, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = (X @ np.arange(5.0)).astype(np.float32)
    model = build_model("user_models:make_dense", input_shape=(5,), n_outputs=1, task="regression")
    train(model, X, y, epochs=2, verbose=0, task="regression")
    loaded = load(save(model, tmp_path / "reg.safetensors"))
    np.testing.assert_array_equal(predict(loaded, X), predict(model, X, task="regression"))
    assert predict(loaded, X).shape == (80,)


def test_load_takes_the_factory_from_the_caller(user_models, tmp_path):
    model = build_model(user_models.make_net, input_shape=(1, 8, 8), n_outputs=10,
                        task="classification")  # fmt: skip
    path = save(model, tmp_path / "net.safetensors")
    assert read_config(path)["model"]["factory"] == "user_models:make_net"
    X, _ = _digits(20)
    loaded = load(path, factory=user_models.make_net)
    torch.testing.assert_close(predict_scores(loaded, X), predict_scores(model, X))


def test_a_factory_that_cannot_be_imported_by_name_is_not_saved(tmp_path):
    def local_net(n_features, n_outputs):
        return torch.nn.Linear(n_features, n_outputs)

    model = build_model(local_net, input_shape=(3,), n_outputs=2, task="classification")
    with pytest.raises(InvalidParameterError) as error:
        save(model, tmp_path / "x.safetensors")
    assert str(error.value) == (
        f"The model factory {local_net.__module__}:{local_net.__qualname__} cannot be imported "
        "by that name (it is defined inside a function, or is a lambda or a partial with "
        "positional arguments), so a model file could not build the module again; define the "
        "factory at the top level of a module."
    )
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (
            "gone_module:make_dense",
            "it needs the model factory gone_module:make_dense, which fails now: Cannot import "
            "'gone_module' for the model 'gone_module:make_dense': No module named 'gone_module'",
        ),
        (
            "user_models:make_mlp",
            "the module user_models:make_mlp builds does not fit the weights saved in it "
            '(Missing key(s) in state_dict: "3.weight", "3.bias").',
        ),
        (
            "user_models:broken",
            "it needs the model factory user_models:broken, which fails now: The model factory "
            "user_models:broken raised RuntimeError: layer sizes do not add up",
        ),
    ],
)
def test_a_factory_that_changed_is_refused_in_one_line(user_models, factory, message, tmp_path):
    model = build_model("user_models:make_dense", input_shape=(4,), n_outputs=3,
                        task="classification")  # fmt: skip
    path = save(model, tmp_path / "net.safetensors")
    _rewrite(path, edit_config=lambda config: config["model"].update(factory=factory))
    with pytest.raises(ModelFileError) as error:
        load(path)
    assert str(error.value).startswith(f"Cannot load '{path}': ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_predict_file_with_a_cnn_saved_from_python(tmp_path):
    X, y = _digits(60)
    model = build_model("cnn", input_shape=(1, 8, 8), n_outputs=10, task="classification")
    train(model, X, y, epochs=1, verbose=0)
    path = save(model, tmp_path / "cnn.safetensors")
    pd.DataFrame(X).to_csv(tmp_path / "rows.csv", index=False)
    out = predict_file(path, tmp_path / "rows.csv", tmp_path / "pred.csv")
    np.testing.assert_array_equal(out["prediction"], predict(model, X))
    assert list(out.columns) == ["prediction", *(f"proba_{k}" for k in range(10))]
    pd.DataFrame(X[:, :63]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match="has 63 feature column\\(s\\) but the model expects 64"):
        predict_file(path, tmp_path / "short.csv", tmp_path / "pred.csv")


def test_a_partial_factory_saves_its_keywords_and_refuses_what_json_cannot_hold(
    user_models, tmp_path
):
    factory = functools.partial(user_models.make_net, batchnorm=True)
    model = build_model(factory, input_shape=(1, 8, 8), n_outputs=10, task="classification")
    X, y = _digits(40)
    train(model, X, y, epochs=1, verbose=0)
    path = save(model, tmp_path / "net.safetensors")
    entry = read_config(path)["model"]
    assert entry["factory"] == "user_models:make_net"
    assert entry["kwargs"] == {"batchnorm": True, "input_shape": [1, 8, 8], "n_outputs": 10}
    torch.testing.assert_close(predict_scores(load(path), X), predict_scores(model, X))

    odd = build_model(
        functools.partial(user_models.make_net, batchnorm=torch.tensor(True)),
        input_shape=(1, 8, 8),
        n_outputs=10,
        task="classification",
    )
    with pytest.raises(InvalidParameterError) as error:
        save(odd, tmp_path / "odd.safetensors")
    assert str(error.value).startswith(
        "The keyword argument 'batchnorm' of the model factory user_models:make_net is Tensor "
        "tensor(True), which a model file cannot store (JSON values only"
    )
    assert not (tmp_path / "odd.safetensors").exists()
