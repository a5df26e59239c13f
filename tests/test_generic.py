"""Any ``torch.nn.Module`` in the trainer, the built-in CNN, and user model factories."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from regulab.advise import advise
from regulab.cli import main
from regulab.config import TrainConfig, run
from regulab.custom import build_model, image_shape_of, resolve_factory
from regulab.data import load as load_data
from regulab.errors import DataError, InvalidParameterError
from regulab.experiment import compare
from regulab.models import CNN, MLP
from regulab.penalties import L1, L2, ElasticNet, WeightDecay
from regulab.training import (
    EarlyStopping,
    Member,
    evaluate,
    predict,
    predict_proba,
    train,
    train_many,
)
from regulab.training._common import _seeds
from regulab.training._generic import _Penalized

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def user_models(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``tests/user_models.py`` importable as ``user_models``, as from the user's folder."""
    monkeypatch.syspath_prepend(str(TESTS))
    import user_models

    return user_models


def _images(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1, 6, 6)).astype(np.float32)
    y = (X[:, 0, :3].mean(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 0, 0, 0] > 1)
    return X, y.astype(np.int64)


def _conv_net(seed: int = 0, batchnorm: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.BatchNorm2d(3) if batchnorm else nn.Identity(),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(48, 3),
    )


# -- the generic path against references ----------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_generic_path_follows_a_plain_torch_loop(optimizer: str) -> None:
    X, y = _images()
    X_val, y_val = _images(40, seed=1)
    net = _conv_net(batchnorm=True)
    reference = copy.deepcopy(net)
    result = train(
        net,
        X,
        y,
        X_val,
        y_val,
        optimizer=optimizer,
        lr=1e-2,
        epochs=3,
        batch_size=16,
        seed=3,
        verbose=0,
    )
    opt = (
        torch.optim.Adam(reference.parameters(), lr=1e-2)
        if optimizer == "adam"
        else torch.optim.SGD(reference.parameters(), lr=1e-2, momentum=0.9)
    )
    shuffler = torch.Generator().manual_seed(_seeds(3)[0])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    reference.train()
    for _ in range(3):
        for index in torch.randperm(len(X), generator=shuffler).split(16):
            loss = nn.functional.cross_entropy(reference(Xt[index]), yt[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert {"loss", "val_loss", "val_accuracy", "val_f1_macro", "penalty", "sparsity"} <= set(
        result.history[-1]
    )


@pytest.mark.parametrize(("optimizer", "l1"), [("adam", 3e-3), ("sgd", 0.3)])
def test_generic_path_matches_the_stacked_trainer_on_an_mlp(optimizer: str, l1: float) -> None:
    """Penalties (feature factors, per-layer strengths, proximal L1) as in the stack."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    penalties = [
        L2(1e-2, feature_factors=[0, 1, 1, 2, 2, 2], per_layer={1: 3e-2}),
        L1(l1, proximal=True),
    ]
    mlp = MLP("6-8-2", seed=0)
    wrapped = nn.Sequential(copy.deepcopy(mlp))  # not an MLP: takes the generic path
    options: dict[str, Any] = dict(optimizer=optimizer, lr=1e-2, epochs=4, seed=2, verbose=0)
    stacked = train(mlp, X, y, penalties=penalties, **options)
    generic = train(wrapped, X, y, penalties=penalties, **options)
    for key, value in stacked.model.state_dict().items():
        torch.testing.assert_close(generic.model[0].state_dict()[key], value, atol=2e-5, rtol=1e-4)
    for a, b in zip(stacked.history, generic.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        assert a["penalty"] == pytest.approx(b["penalty"], rel=1e-4)
        assert a["sparsity"] == b["sparsity"]
    assert generic.sparsity.total == stacked.sparsity.total > 0


def test_conv_penalty_gradients_equal_autograd_of_the_penalty() -> None:
    net = _conv_net()
    penalties = [L2(1e-2, feature_factors=[3.0]), ElasticNet(1e-2, 0.3, per_layer={1: 0.1})]
    total = sum(penalty(net) for penalty in penalties)
    expected = torch.autograd.grad(total, list(net.parameters()), allow_unused=True)
    plan = _Penalized(net, penalties, "adam")
    for p in net.parameters():
        p.grad = None
    plan.add_gradients()
    for p, grad in zip(net.parameters(), expected):
        if grad is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, grad, rtol=1e-5, atol=1e-7)
    assert plan.value() == pytest.approx(float(total.detach()), rel=1e-5)


def test_feature_factors_scale_input_channels_of_a_convolution() -> None:
    conv = nn.Conv2d(2, 4, 3)
    value = L2(1.0, feature_factors=[0.0, 2.0])(conv).detach()
    assert float(value) == pytest.approx(2.0 * float(conv.weight[:, 1].detach().pow(2).sum()))


def test_weight_decay_and_adamw_are_decoupled() -> None:
    X, y = _images()
    net = _conv_net()
    start = copy.deepcopy(net)
    train(
        net,
        X,
        y,
        penalties=[WeightDecay(0.5)],
        optimizer="adamw",
        lr=1e-2,
        epochs=1,
        validation_split=0,
        seed=0,
        verbose=0,
    )
    reference = copy.deepcopy(start)
    weights = [p for n, p in reference.named_parameters() if p.ndim > 1]
    others = [p for n, p in reference.named_parameters() if p.ndim == 1]
    opt = torch.optim.AdamW(
        [{"params": weights, "weight_decay": 0.5}, {"params": others, "weight_decay": 0.0}],
        lr=1e-2,
    )
    shuffler = torch.Generator().manual_seed(_seeds(0)[0])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for index in torch.randperm(len(X), generator=shuffler).split(32):
        loss = nn.functional.cross_entropy(reference(Xt[index]), yt[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(net.state_dict()[key], value, rtol=1e-5, atol=1e-6)


# -- early stopping, datasets, evaluation -------------------------------------------------
def test_early_stopping_restores_the_best_epoch_of_any_module() -> None:
    X, y = _images()
    X_val, y_val = _images(40, seed=1)
    result = train(
        _conv_net(),
        X,
        y,
        X_val,
        y_val,
        lr=0.05,
        epochs=12,
        verbose=0,
        callbacks=[EarlyStopping("val_loss", patience=2)],
    )
    best = result.best_epoch
    assert best is not None
    assert result.history[best - 1]["val_loss"] == min(r["val_loss"] for r in result.history)
    assert evaluate(result.model, X_val, y_val)["loss"] == pytest.approx(
        result.history[best - 1]["val_loss"], rel=1e-5
    )


def test_a_torch_dataset_trains_like_arrays() -> None:
    X, y = _images()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_arrays = train(_conv_net(), X, y, epochs=2, verbose=0)
    from_dataset = train(_conv_net(), dataset, epochs=2, verbose=0)
    assert from_dataset.history[-1]["val_loss"] == pytest.approx(
        from_arrays.history[-1]["val_loss"], rel=1e-6
    )


def test_regression_module_and_predict() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2, 4)).astype(np.float32)
    y = X.sum(axis=(1, 2)).astype(np.float32)
    net = nn.Sequential(nn.Flatten(), nn.Linear(8, 1))
    result = train(net, X, y, lr=0.05, epochs=20, verbose=0)
    assert sorted(result.history[-1]) == [
        "epoch",
        "loss",
        "penalty",
        "seconds",
        "sparsity",
        "val_loss",
        "val_mae",
        "val_mse",
        "val_r2",
    ]
    assert evaluate(result.model, X, y)["r2"] > 0.9
    assert predict(result.model, X, task="regression").shape == (100,)


def test_train_many_trains_modules_in_turn_with_their_own_seeds() -> None:
    X, y = _images()
    members = [
        Member(_conv_net(), seed=0),
        Member(_conv_net(), seed=0),
        Member(_conv_net(), seed=1),
    ]
    results = train_many(members, X, y, epochs=2, verbose=0)
    losses = [[r["loss"] for r in result.history] for result in results]
    assert losses[0] == losses[1]  # same seed, same start: the same path
    assert losses[0] != losses[2]


@pytest.mark.parametrize(
    ("net", "message"),
    [
        (
            nn.Sequential(nn.Flatten(), nn.Linear(36, 5)),
            "The model's output size is 5 but the data has 3 classes; the output size must be 3.",
        ),
        (
            nn.Linear(10, 3),
            "The model cannot take inputs of shape (1, 6, 6) per sample: RuntimeError",
        ),
    ],
)
def test_a_module_that_does_not_fit_the_data_is_one_clear_error(
    net: nn.Module, message: str
) -> None:
    X, y = _images()
    with pytest.raises(InvalidParameterError) as error:
        train(net, X, y, epochs=1, verbose=0)
    assert str(error.value).startswith(message)


def test_bad_inputs_for_modules() -> None:
    X, y = _images()
    X[3, 0, 1, 1] = np.nan
    with pytest.raises(DataError, match="X has 1 samples with NaN or infinite values"):
        train(_conv_net(), X, y, verbose=0)
    with pytest.raises(DataError, match="leave y as None"):
        train(_conv_net(), torch.utils.data.TensorDataset(torch.zeros(4, 1, 6, 6)), y, verbose=0)


# -- the built-in CNN -----------------------------------------------------------------------
def test_cnn_vocabulary() -> None:
    model = CNN((8, 8), 10, width=4, dense=16, dropout=[0.1, 0.2, 0.5], batchnorm=True, seed=0)
    drops = [m.p for m in model.modules() if isinstance(m, (nn.Dropout, nn.Dropout2d))]
    assert drops == [0.0, 0.1, 0.2, 0.5]  # pixels, block 1 (spatial), block 2 (spatial), dense
    assert sum(isinstance(m, nn.Dropout2d) for m in model.modules()) == 2
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.bias is None for c in convs] == [True, True]  # batch norm's shift replaces it
    assert model(torch.zeros(2, 64)).shape == model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(InvalidParameterError, match="takes one rate .* or three"):
        CNN((8, 8), 10, dropout=[0.1, 0.2])
    with pytest.raises(InvalidParameterError, match="at least 4x4"):
        CNN((3, 3), 2)


def test_cnn_on_digits_through_the_config() -> None:
    summary = run(
        TrainConfig(data="digits", model="cnn", dropout=(0.3,), batchnorm=True, epochs=2, verbose=0)
    )
    assert isinstance(summary.result.model, CNN)
    assert summary.test_metrics["accuracy"] > 0.8


# -- factories ------------------------------------------------------------------------------
def test_factory_gets_what_its_signature_asks(user_models: Any) -> None:
    model = build_model(
        "user_models:make_net",
        input_shape=(1, 8, 8),
        n_outputs=10,
        task="classification",
        dropout=(0.4,),
        batchnorm=True,
    )
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.4]
    assert model(torch.zeros(3, 64)).shape == (3, 10)  # flat rows reshaped to (1, 8, 8)
    plain = build_model(
        user_models.make_mlp, input_shape=(5,), n_outputs=2, task="classification", dropout=(0.3,)
    )
    assert [m.p for m in plain.modules() if isinstance(m, nn.Dropout)] == [0.3]


@pytest.mark.parametrize(
    ("reference", "options", "message"),
    [
        (
            "user_models:make_dense",
            {"dropout": (0.5,)},
            "The model factory user_models:make_dense takes no 'dropout' argument and its module "
            "has no nn.Dropout layer, so dropout cannot be applied; add a dropout= keyword to "
            "the factory or a dropout layer to the module.",
        ),
        (
            "user_models:make_dense",
            {"batchnorm": True},
            "The model factory user_models:make_dense takes no 'batchnorm' argument, so the "
            "batchnorm technique cannot change its architecture; add a batchnorm= keyword to the "
            "factory or leave the technique out.",
        ),
        (
            "user_models:broken",
            {},
            "The model factory user_models:broken raised RuntimeError: layer sizes do not add up",
        ),
        (
            "user_models:make_mlp",
            {"dropout": (0.1, 0.2)},
            "2 dropout rates were given but the module of user_models:make_mlp has 1 dropout "
            "layers; give one rate, or one per layer.",
        ),
        (
            "user_models:nope",
            {},
            "'user_models' has no attribute 'nope' for the model 'user_models:nope'.",
        ),
        (
            "no_such_module:f",
            {},
            "Cannot import 'no_such_module' for the model 'no_such_module:f': No module named "
            "'no_such_module'.",
        ),
        (
            "user_models:",
            {},
            "The model 'user_models:' must be layer sizes such as 64-128-10, 'linear', 'cnn', or "
            "an import path 'package.module:factory'.",
        ),
    ],
)
def test_factory_errors_are_one_sentence(
    user_models: Any, reference: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError) as error:
        build_model(reference, input_shape=(4,), n_outputs=3, task="classification", **options)
    assert str(error.value) == message


def test_resolve_and_image_shapes() -> None:
    assert resolve_factory("cnn") is CNN
    assert image_shape_of([f"px_{r}_{c}" for r in range(8) for c in range(8)]) == (8, 8)
    assert image_shape_of(["px_0_1", "px_0_0"]) is None


# -- end to end: train, compare, advise with a user factory ---------------------------------
def _cli(*args: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_user_factory_end_to_end_in_python(user_models: Any) -> None:
    result = compare(
        "digits",
        "none,dropout,batchnorm+l1",
        model=user_models.make_net,
        seeds=2,
        epochs=2,
        max_train=300,
        verbose=0,
    )
    assert {row["config"] for row in result.rows} == {"none", "dropout", "batchnorm+l1"}
    assert result.data["model"] == "user_models:make_net"
    note = next(n for n in result.notes if n.startswith("Runs of the custom model"))
    assert "none: 2 Sequential members train together as one torch.func stack" in note
    sparse = next(r for r in result.rows if r["config"] == "batchnorm+l1")
    assert sparse["sparsity_mean"] > 0
    advice = advise(
        "digits", model="user_models:make_net", budget="8s", seeds=2, max_train=200, verbose=0
    )
    assert advice.reasons[0].code == "convolutional_model"
    assert "batchnorm+dropout=0.2+early_stopping" in advice.candidates
    assert advice.recommendation in advice.candidates or "=" in advice.recommendation
    assert advice.data["model"].startswith("user_models:make_net (convolutional, ")


def test_user_factory_end_to_end_at_the_cli(user_models: Any, tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    model = "user_models:make_net"
    code, out, err = _cli(
        "train",
        "--data",
        "digits",
        "--model",
        model,
        "--dropout",
        "0.2",
        "--epochs",
        "1",
        "--quiet",
        "--json",
        tmp_path / "t.json",
    )
    assert code == 0, err
    assert json.loads((tmp_path / "t.json").read_text())["config"]["model"] == model
    code, out, err = _cli(
        "compare",
        "--data",
        "digits",
        "--model",
        model,
        "--techniques",
        "none,dropout",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--max-train",
        "200",
        "--jobs",
        "1",
        "--store",
        store,
        "--quiet",
    )
    assert code == 0, err
    assert "dropout" in out
    code, out, err = _cli(
        "advise",
        "--data",
        "iris",
        "--model",
        "user_models:make_mlp",
        "--budget",
        "8s",
        "--seeds",
        "2",
        "--quiet",
        "--save",
        tmp_path / "advised.safetensors",
    )
    assert code == 0, err
    assert "Recommended model refit on all 150 rows" in out
    iris, features = load_data("iris"), tmp_path / "iris.csv"
    pd.DataFrame(iris.X, columns=iris.feature_names).to_csv(features, index=False)
    code, out, err = _cli(
        "predict", "--model", tmp_path / "advised.safetensors", "--data", features,
        "-o", tmp_path / "p.csv",
    )  # fmt: skip
    assert code == 0, err
    table = pd.read_csv(tmp_path / "p.csv")
    assert set(table["prediction"]) <= {"setosa", "versicolor", "virginica"}
    assert (table["prediction"] == np.asarray(iris.classes)[iris.y]).mean() > 0.6


@pytest.mark.parametrize(
    ("model", "techniques", "message"),
    [
        ("user_models:make_dense", "none,batchnorm", "takes no 'batchnorm' argument"),
        ("user_models:wrong_outputs", "none", "The model's output size is 4 but the data has 3"),
        ("user_models:broken", "none", "raised RuntimeError: layer sizes do not add up"),
        ("user_models:missing", "none", "'user_models' has no attribute 'missing'"),
    ],
)
def test_cli_refuses_bad_models_and_writes_nothing(
    user_models: Any, tmp_path: Path, model: str, techniques: str, message: str
) -> None:
    store = tmp_path / "runs.sqlite"
    code, out, err = _cli(
        "compare",
        "--data",
        "iris",
        "--model",
        model,
        "--techniques",
        techniques,
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--store",
        store,
        "--quiet",
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not store.exists()


def test_advised_cnn_code_runs_and_builds_the_same_network() -> None:
    from regulab.advise._modules import module_code

    config = TrainConfig(
        model="cnn", dropout=(0.1, 0.2, 0.5), batchnorm=True, l2=1e-4, l1=1e-4, prox_l1=True,
        early_stopping=("val_loss", 2), epochs=1,
    )  # fmt: skip
    code = module_code(config, "classification", n_features=64, n_outputs=10, image_shape=(8, 8))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=40)
    arrays = dict(X_train=X, y_train=y, X_val=X, y_val=y, X_test=X, y_test=y)
    tensors = {k: torch.as_tensor(v) for k, v in arrays.items()}
    regulab_ns: dict[str, Any] = dict(arrays)
    with redirect_stdout(io.StringIO()):
        exec(code["regulab"], regulab_ns)
    torch_ns: dict[str, Any] = dict(tensors)
    exec(code["pytorch"], torch_ns)
    shapes = [tuple(v.shape) for v in regulab_ns["model"].state_dict().values()]
    assert [tuple(v.shape) for v in torch_ns["model"].state_dict().values()] == shapes
    assert "layers.SpatialDropout2D(0.1)" in code["keras"]
    assert "layers.Reshape((8, 8, 1))" in code["keras"]


def test_a_factory_workers_cannot_import_needs_jobs_1() -> None:
    def local_net(n_features: int, n_outputs: int) -> nn.Module:
        return nn.Linear(n_features, n_outputs)

    with pytest.raises(InvalidParameterError, match="cannot be imported by name .* use jobs=1"):
        compare("iris", "none", model=local_net, seeds=1, epochs=1, jobs=2, verbose=0)
    result = compare("iris", "none,l2", model=local_net, seeds=1, epochs=1, verbose=0)
    assert result.data["model"].endswith("local_net")


@pytest.mark.parametrize("cross_validated", [True, False])
def test_advised_custom_model_refits_as_the_estimators_do(
    user_models: Any, tmp_path: Path, cross_validated: bool
) -> None:
    from types import SimpleNamespace

    from regulab.advise._refit import save_refit
    from regulab.io import load as load_model
    from regulab.io import read_config

    config = TrainConfig(
        model="user_models:make_mlp", l2=1e-3, early_stopping=("val_loss", 2), epochs=4, seed=1
    )
    advice = SimpleNamespace(config=config, cross_validated=cross_validated, refit_epochs=2)
    iris = load_data("iris")
    path = save_refit(advice, iris, tmp_path / "m.safetensors")
    document = read_config(path)
    assert document["model"]["factory"] == "user_models:make_mlp"
    assert document["preprocessing"]["classes"] == ["setosa", "versicolor", "virginica"]
    X = ((iris.X - iris.X.mean(0)) / iris.X.std(0)).astype(np.float32)
    # the same training by hand: all rows for the folds' epochs, or early stopping on 10%
    model = build_model("user_models:make_mlp", input_shape=(4,), n_outputs=3,
                        task="classification", seed=1)  # fmt: skip
    train(
        model, X, iris.y, penalties=config.penalties(), seed=1, epochs=2 if cross_validated else 4,
        callbacks=[] if cross_validated else config.callbacks(), verbose=0,
        validation_split=0.0 if cross_validated else 0.1, task="classification",
    )  # fmt: skip
    torch.testing.assert_close(
        predict_proba(load_model(path), X), predict_proba(model, X), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("model", ["cnn", "user_models:make_net"])
def test_cli_train_save_then_predict_gives_the_trained_models_predictions(
    user_models: Any, tmp_path: Path, model: str
) -> None:
    target = tmp_path / "model.safetensors"
    code, out, err = _cli(
        "train", "--data", "digits", "--model", model, "--dropout", "0.2", "--batchnorm",
        "--epochs", "1", "--seed", "3", "--quiet", "--save", target,
    )  # fmt: skip
    assert code == 0, err
    assert f"Model saved to {target}" in out
    config = TrainConfig(
        data="digits", model=model, dropout=(0.2,), batchnorm=True, epochs=1, seed=3, verbose=0
    )
    summary = run(config)  # the same run in memory: what the saved model must predict
    digits = summary.dataset
    pd.DataFrame(digits.X[:100], columns=digits.feature_names).to_csv(
        tmp_path / "new.csv", index=False
    )
    code, out, err = _cli(
        "predict", "--model", target, "--data", tmp_path / "new.csv", "-o", tmp_path / "p.csv"
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "p.csv")
    features = ((digits.X[:100] - summary.splits.mean) / summary.splits.scale).astype(np.float32)
    expected = predict_proba(summary.result.model, features)
    np.testing.assert_allclose(
        table[[f"proba_{c}" for c in digits.classes]].to_numpy(), expected, atol=1e-6
    )
    np.testing.assert_array_equal(table["prediction"], expected.argmax(1))


def test_validation_data_as_a_torch_dataset() -> None:
    X, y = _images()
    X_val, y_val = _images(40, seed=1)
    val = torch.utils.data.TensorDataset(torch.from_numpy(X_val), torch.from_numpy(y_val))
    with_arrays = train(_conv_net(), X, y, X_val, y_val, epochs=1, verbose=0)
    with_dataset = train(_conv_net(), X, y, val, epochs=1, verbose=0)
    assert with_dataset.history[-1]["val_loss"] == pytest.approx(
        with_arrays.history[-1]["val_loss"], rel=1e-6
    )


def test_a_forward_that_loses_the_batch_axis_is_refused() -> None:
    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(36, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.reshape(len(x), -1)).reshape(-1)

    X, y = _images()
    with pytest.raises(InvalidParameterError) as error:
        train(Flat(), X, y, verbose=0)
    assert str(error.value) == (
        "The model returned scores of shape (6,) for 2 samples; its forward must keep the "
        "samples on the first axis."
    )


def test_runs_of_a_custom_model_are_separate_tasks() -> None:
    """Without the data no stack can be planned (tests/test_vmap.py has the case with it):
    as separate tasks they spread over workers, and a task's epoch time is the time of its
    one run (the advisor's budget relies on it)."""
    from regulab.experiment import RunSpec, make_tasks

    specs = [RunSpec(name, TrainConfig(model="cnn"), seed) for name in "ab" for seed in (0, 1)]
    assert [len(task) for task in make_tasks(specs)] == [1, 1, 1, 1]
    mlp = [RunSpec(name, TrainConfig(), seed) for name in "ab" for seed in (0, 1)]
    assert [len(task) for task in make_tasks(mlp)] == [4]


def test_a_flat_factory_gets_flat_rows_of_image_data_and_an_image_factory_gets_images(
    user_models: Any,
) -> None:
    from regulab.custom import build_model

    images = torch.zeros(5, 64)
    flat = build_model(
        "user_models:make_mlp", input_shape=(1, 8, 8), n_outputs=10, task="classification"
    )
    assert flat(images).shape == (5, 10)
    shaped = build_model(
        "user_models:make_net", input_shape=(1, 8, 8), n_outputs=10, task="classification"
    )
    seen = []
    shaped.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    shaped(images)
    assert seen[0] == (5, 1, 8, 8)
