"""Tests for regulab.training: penalties in training, early stopping, stacking, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import regulab
from regulab import (
    L1,
    L2,
    MLP,
    DataError,
    EarlyStopping,
    ElasticNet,
    History,
    InvalidParameterError,
    LinearModel,
    Member,
    StopReason,
    WeightDecay,
    evaluate,
    predict,
    predict_proba,
    train,
    train_many,
)

QUIET: dict[str, Any] = {"verbose": 0}


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _norm(model: MLP) -> float:
    return float(sum(lin.weight.detach().pow(2).sum() for lin in model.linears).sqrt())


def _numbers(history: History) -> list[dict[str, Any]]:
    """Every recorded number except the wall time."""
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


# -- L1, proximal L1 and feature selection ---------------------------------------------------


def test_proximal_l1_gives_exact_zeros_plain_l1_with_adam_does_not(classification_problem):
    p = classification_problem
    options = {"lr": 3e-2, "epochs": 10, "batch_size": 64, **QUIET}
    prox = train(MLP("40-16-2", seed=0), p.X, p.y, penalties=[L1(1e-2, proximal=True)], **options)
    plain = train(MLP("40-16-2", seed=0), p.X, p.y, penalties=[L1(1e-2)], **options)
    assert prox.sparsity.per_layer["linears.0.weight"] > 0.3
    assert prox.history[-1]["sparsity"] == pytest.approx(prox.sparsity.total)
    assert prox.history[-1]["val_accuracy"] > 0.8
    assert plain.sparsity.total < 0.01
    informative = {f"x{i}" for i in range(p.n_informative)}
    assert prox.sparsity.dropped_features  # some noise features are dropped entirely...
    assert not informative & set(prox.sparsity.dropped_features)  # ...but no informative one
    # the history's penalty term counts the proximal L1 too
    first = prox.model.linears[0].weight.detach().abs().sum()
    second = prox.model.linears[1].weight.detach().abs().sum()
    assert prox.history[-1]["penalty"] == pytest.approx(1e-2 * float(first + second), rel=1e-4)


def test_proximal_l1_recovers_informative_features(regression_problem):
    p = regression_problem
    result = train(
        LinearModel(p.n_features, task="regression", seed=0),
        p.X,
        p.y,
        penalties=[L1(0.1, proximal=True)],
        optimizer="sgd",
        lr=0.02,
        epochs=20,
        feature_names=p.feature_names,
        **QUIET,
    )
    dropped = set(result.sparsity.dropped_features)
    informative = set(p.feature_names[: p.n_informative])
    irrelevant = set(p.feature_names[p.n_informative :])
    assert not dropped & informative
    assert len(dropped & irrelevant) >= 0.8 * len(irrelevant)
    weight = result.model.linears[0].weight.detach()[0]
    assert torch.all(weight[: p.n_informative] != 0)
    assert result.history[-1]["val_r2"] > 0.9


def test_no_penalty_drops_no_feature(regression_problem):
    p = regression_problem
    result = train(
        LinearModel(p.n_features, task="regression", seed=0),
        p.X,
        p.y,
        optimizer="sgd",
        lr=0.02,
        epochs=5,
        **QUIET,
    )
    assert result.sparsity.dropped_features == []
    assert result.sparsity.total == 0.0


# -- L2 and weight decay ---------------------------------------------------------------------


def test_l2_weight_norm_shrinks_as_strength_grows(classification_problem):
    p = classification_problem
    norms = [
        _norm(
            train(
                MLP("40-16-2", seed=0),
                p.X,
                p.y,
                penalties=[L2(s)],
                lr=1e-2,
                epochs=8,
                batch_size=64,
                **QUIET,
            ).model
        )
        for s in (1e-3, 1e-2, 1e-1)
    ]
    assert norms[0] > norms[1] > norms[2]
    assert norms[2] < 0.7 * norms[0]


def _zero_input_fit(model: MLP, **options: Any) -> regulab.FitResult:
    # All-zero inputs give the first layer's weights a zero data gradient, so Adam leaves
    # them alone and only the decoupled decay moves them: w_T = w_0 * (1 - lr * wd) ** steps.
    X = np.zeros((64, model.architecture.sizes[0]), dtype=np.float32)
    y = np.arange(64) % 2
    return train(model, X, y, lr=0.1, epochs=2, batch_size=16, validation_split=0.0, **options)


def test_weight_decay_shrinks_weights_by_lr_times_wd_per_step():
    model = MLP("3-4-2", seed=0)
    before = _state(model)
    _zero_input_fit(model, penalties=[WeightDecay(0.5)], **QUIET)
    factor = (1 - 0.1 * 0.5) ** 8  # 2 epochs x 4 batches
    weight = model.state_dict()["linears.0.weight"]
    assert torch.allclose(weight, before["linears.0.weight"] * factor, atol=1e-6)


def test_weight_decay_shrinks_weights_in_real_training(classification_problem):
    p = classification_problem
    plain = train(MLP("40-16-2", seed=0), p.X, p.y, lr=2e-2, epochs=8, batch_size=64, **QUIET)
    decayed = train(
        MLP("40-16-2", seed=0),
        p.X,
        p.y,
        penalties=[WeightDecay(1.0)],
        lr=2e-2,
        epochs=8,
        batch_size=64,
        **QUIET,
    )
    assert _norm(decayed.model) < 0.8 * _norm(plain.model)


def test_adamw_without_weight_decay_applies_default():
    model = MLP("3-4-2", seed=0)
    before = _state(model)
    _zero_input_fit(model, optimizer="adamw", **QUIET)
    factor = (1 - 0.1 * 0.01) ** 8
    weight = model.state_dict()["linears.0.weight"]
    assert torch.allclose(weight, before["linears.0.weight"] * factor, atol=1e-7)
    assert not torch.allclose(weight, before["linears.0.weight"], atol=1e-5)


def test_adamw_uses_the_given_weight_decay_even_zero():
    model = MLP("3-4-2", seed=0)
    before = _state(model)
    _zero_input_fit(model, optimizer="adamw", penalties=[WeightDecay(0.0)], **QUIET)
    assert torch.equal(model.state_dict()["linears.0.weight"], before["linears.0.weight"])
    _zero_input_fit(model, optimizer="adamw", penalties=[WeightDecay(0.5)], **QUIET)
    factor = (1 - 0.1 * 0.5) ** 8
    weight = model.state_dict()["linears.0.weight"]
    assert torch.allclose(weight, before["linears.0.weight"] * factor, atol=1e-6)


# -- early stopping with a scripted run --------------------------------------------------------


class FakeRun:
    """A minimal :class:`regulab.training.Run`: its weights are the epoch that produced them."""

    def __init__(self, metrics: tuple[str, ...] = ("epoch", "loss", "val_loss", "val_accuracy")):
        self.history = History()
        self.available_metrics = list(metrics)
        self.stop_training = False
        self.stop_reason: StopReason | None = None
        self.stop_message = ""
        self.best_epoch: int | None = None
        self.weights: dict[str, Any] = {"epoch": 0}
        self.restored: list[int] = []

    def get_weights(self) -> dict[str, Any]:
        return dict(self.weights)

    def set_weights(self, state: dict[str, Any]) -> None:
        self.weights = dict(state)
        self.restored.append(state["epoch"])


def _script(callback: EarlyStopping, values: list[float], monitor: str = "val_loss") -> FakeRun:
    """Feed ``values`` as the monitored metric, one per epoch, until the callback stops."""
    run = FakeRun()
    callback.on_train_begin(run)
    for epoch, value in enumerate(values, start=1):
        run.weights = {"epoch": epoch}
        run.history.append({"epoch": epoch, "loss": 1.0, monitor: value})
        callback.on_epoch_end(run)
        if run.stop_training:
            break
    callback.on_train_end(run)
    return run


@pytest.mark.parametrize(
    ("patience", "values", "stop_epoch", "best_epoch"),
    [
        (0, [1.0, 0.9, 0.95, 0.8], 3, 2),
        (2, [1.0, 0.9, 0.95, 0.96, 0.5], 4, 2),
        (3, [0.9, 0.5, 0.6, 0.7, 0.8, 0.1], 5, 2),
        (2, [1.0, 1.1, 0.9, 1.0, 1.0, 1.0, 0.1], 5, 3),  # an improvement resets the count
        (1, [1.0, 1.0, 0.5], 2, 1),  # equal is not better
    ],
)
def test_early_stopping_stops_at_expected_epoch(patience, values, stop_epoch, best_epoch):
    callback = EarlyStopping(patience=patience)
    run = _script(callback, values)
    assert len(run.history) == stop_epoch
    assert callback.stopped_epoch == stop_epoch
    assert run.stop_reason is StopReason.PATIENCE
    assert run.best_epoch == best_epoch
    assert run.weights == {"epoch": best_epoch}  # best weights restored
    assert run.restored == [best_epoch]


def test_early_stopping_message_names_the_numbers():
    run = _script(EarlyStopping(patience=3), [0.9, 0.5, 0.6, 0.7, 0.8])
    assert run.stop_reason is StopReason.PATIENCE
    assert run.stop_reason.value == "patience_exhausted"
    assert run.stop_message == (
        "val_loss did not improve by more than 0 for 3 epochs; best 0.5 at epoch 2, restored"
    )


def test_early_stopping_min_delta():
    values = [1.0, 0.95, 0.92, 0.85]
    callback = EarlyStopping(patience=2, min_delta=0.1)
    run = _script(callback, values)
    assert len(run.history) == 3
    assert run.best_epoch == 1
    assert run.stop_message == (
        "val_loss did not improve by more than 0.1 for 2 epochs; best 1 at epoch 1, restored"
    )
    assert len(_script(EarlyStopping(patience=2), values).history) == 4  # without min_delta
    assert _script(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.85, 0.8]).best_epoch == 2


def test_early_stopping_mode_max_for_accuracy():
    callback = EarlyStopping("val_accuracy", patience=2)
    assert callback.direction == "max"
    run = _script(callback, [0.5, 0.6, 0.6, 0.55, 0.9], monitor="val_accuracy")
    assert len(run.history) == 4
    assert run.best_epoch == 2
    assert run.stop_message.endswith("best 0.6 at epoch 2, restored")
    # explicit mode wins over inference: as a loss, the first value stays the best
    run = _script(
        EarlyStopping("val_accuracy", mode="min", patience=2),
        [0.5, 0.6, 0.6, 0.55],
        monitor="val_accuracy",
    )
    assert len(run.history) == 3
    assert run.best_epoch == 1


@pytest.mark.parametrize(
    ("monitor", "direction"),
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mae", "min"),
        ("val_r2", "max"),
        ("val_roc_auc", "max"),
        ("val_f1_macro", "max"),
    ],
)
def test_early_stopping_infers_direction(monitor, direction):
    assert EarlyStopping(monitor).direction == direction


def test_early_stopping_cannot_infer_unknown_direction():
    callback = EarlyStopping("val_custom")  # a custom metric: the direction is checked at fit
    with pytest.raises(InvalidParameterError) as info:
        callback.on_train_begin(FakeRun(("epoch", "loss", "val_custom")))
    assert str(info.value) == (
        "EarlyStopping cannot infer whether 'val_custom' should go up or down; "
        "pass mode='min' or mode='max'."
    )
    assert EarlyStopping("val_custom", mode="max").direction == "max"


def test_early_stopping_typo_in_monitor_suggests_the_metric_with_default_mode():
    with pytest.raises(InvalidParameterError, match="Did you mean 'val_loss'"):
        EarlyStopping("val_los").on_train_begin(FakeRun())


def test_early_stopping_baseline_not_reached():
    run = _script(EarlyStopping(patience=2, baseline=0.5), [0.8, 0.7, 0.6, 0.4])
    assert len(run.history) == 2
    assert run.stop_reason is StopReason.BASELINE
    assert run.stop_reason.value == "baseline_not_reached"
    assert run.stop_message == (
        "val_loss did not beat the baseline 0.5 in 2 epochs; best 0.7 at epoch 2, the last epoch"
    )


def test_early_stopping_baseline_beaten_keeps_training():
    run = _script(EarlyStopping(patience=2, baseline=0.5), [0.8, 0.4, 0.45, 0.3, 0.35])
    assert len(run.history) == 5
    assert run.stop_reason is StopReason.MAX_EPOCHS
    assert run.best_epoch == 4


def test_early_stopping_start_from_epoch():
    values = [0.1, 0.2, 0.5, 0.6, 0.7]
    run = _script(EarlyStopping(patience=1, start_from_epoch=2), values)
    assert len(run.history) == 4
    assert run.best_epoch == 3
    run = _script(EarlyStopping(patience=1), values)
    assert len(run.history) == 2
    assert run.best_epoch == 1


def test_early_stopping_restores_best_weights_at_max_epochs():
    callback = EarlyStopping(patience=10)
    run = _script(callback, [0.5, 0.3, 0.4, 0.45])
    assert not run.stop_training
    assert run.stop_reason is StopReason.MAX_EPOCHS
    assert run.stop_message == "reached the maximum of 4 epochs; best 0.3 at epoch 2, restored"
    assert run.weights == {"epoch": 2}
    assert run.best_epoch == 2
    assert callback.best_weights is None  # the copy is freed


def test_early_stopping_best_is_last_epoch_needs_no_restore():
    run = _script(EarlyStopping(patience=10), [0.5, 0.4, 0.3])
    assert run.restored == []
    assert run.stop_message.endswith("best 0.3 at epoch 3, the last epoch")
    assert run.weights == {"epoch": 3}
    assert run.best_epoch == 3


def test_early_stopping_without_restore():
    run = _script(EarlyStopping(patience=1, restore_best_weights=False), [0.5, 0.3, 0.4])
    assert run.stop_reason is StopReason.PATIENCE
    assert run.restored == []
    assert run.weights == {"epoch": 3}
    assert run.best_epoch is None
    assert run.stop_message == (
        "val_loss did not improve by more than 0 for 1 epochs; best 0.3 at epoch 2"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_early_stopping_non_finite_value(bad):
    run = _script(EarlyStopping(patience=5), [0.5, 0.4, bad, 0.1])
    assert len(run.history) == 3
    assert run.stop_reason is StopReason.NON_FINITE
    assert run.stop_message == f"val_loss became {bad} at epoch 3; best 0.4 at epoch 2, restored"
    assert run.weights == {"epoch": 2}


def test_early_stopping_unknown_monitor_suggests_closest():
    callback = EarlyStopping("val_los", mode="min")
    with pytest.raises(InvalidParameterError) as info:
        callback.on_train_begin(FakeRun())
    assert str(info.value) == (
        "EarlyStopping monitors 'val_los', which is never recorded. Available metrics: "
        "epoch, loss, val_loss, val_accuracy. Did you mean 'val_loss'?"
    )


def test_early_stopping_unknown_monitor_in_training(classification_problem):
    p = classification_problem
    with pytest.raises(InvalidParameterError) as info:
        train(
            MLP("40-8-2", seed=0),
            p.X,
            p.y,
            callbacks=[EarlyStopping("val_acuracy", mode="max")],
            epochs=2,
            **QUIET,
        )
    message = str(info.value)
    assert "Available metrics: epoch, loss, val_loss, val_accuracy, val_f1_macro" in message
    assert message.endswith("Did you mean 'val_accuracy'?")


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_early_stopping_on_val_loss_without_validation_data(classification_problem, monitor):
    p = classification_problem
    with pytest.raises(InvalidParameterError) as info:
        train(
            MLP("40-8-2", seed=0),
            p.X,
            p.y,
            validation_split=0.0,
            callbacks=[EarlyStopping(monitor)],
            epochs=2,
            **QUIET,
        )
    assert str(info.value) == (
        f"EarlyStopping monitors '{monitor}', but this training has no validation data, so no "
        "val_* metric is ever recorded. Pass X_val and y_val, or a validation_split above 0 "
        "(train's default holds out 10% of the rows), or monitor 'loss'."
    )


def test_early_stopping_without_x_val_monitors_the_default_validation_part(
    classification_problem,
):
    p = classification_problem
    result = regulab.train(
        MLP("40-8-2", seed=0), p.X, p.y, callbacks=[EarlyStopping("val_loss")], epochs=4, **QUIET
    )
    assert all(record["val_loss"] is not None for record in result.history)
    best = min(range(4), key=lambda i: result.history[i]["val_loss"]) + 1
    assert result.best_epoch == best
    assert ("restored" in result.stop_message) == (best != 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"patience": -1},
            "The 'patience' parameter of EarlyStopping must be an int in the range [0, inf). "
            "Got -1 instead.",
        ),
        (
            {"patience": 1.5},
            "The 'patience' parameter of EarlyStopping must be an int in the range [0, inf). "
            "Got 1.5 instead.",
        ),
        (
            {"min_delta": -0.1},
            "The 'min_delta' parameter of EarlyStopping must be a float in the range [0, inf). "
            "Got -0.1 instead.",
        ),
        (
            {"start_from_epoch": -2},
            "The 'start_from_epoch' parameter of EarlyStopping must be an int in the range "
            "[0, inf). Got -2 instead.",
        ),
        (
            {"mode": "up"},
            "The 'mode' parameter of EarlyStopping must be one of auto, min, max. "
            "Got 'up' instead.",
        ),
    ],
)
def test_early_stopping_parameter_errors(kwargs, message):
    with pytest.raises(InvalidParameterError) as info:
        EarlyStopping(**kwargs)
    assert str(info.value) == message


def test_early_stopping_instance_is_reusable():
    callback = EarlyStopping(patience=1)
    first = _script(callback, [0.1, 0.2, 0.3])
    second = _script(callback, [0.9, 0.8, 0.7, 0.6])
    assert first.best_epoch == 1 and len(first.history) == 2
    assert second.best_epoch == 4 and second.stop_reason is StopReason.MAX_EPOCHS


def test_early_stopping_config_and_repr():
    callback = EarlyStopping("val_accuracy", patience=5, min_delta=0.01)
    assert callback.get_config() == {"monitor": "val_accuracy", "min_delta": 0.01, "patience": 5}
    assert repr(EarlyStopping("val_loss", patience=3)) == (
        "EarlyStopping(monitor='val_loss', patience=3)"
    )


# -- early stopping end to end ---------------------------------------------------------------


def test_early_stopping_returns_model_with_best_validation_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 20)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] + rng.normal(size=160) > 0).astype(np.int64)
    X_train, y_train, X_val, y_val = X[:60], y[:60], X[60:], y[60:]
    result = train(
        MLP("20-64-64-2", dropout=0.1, batchnorm=[0], seed=0),
        X_train,
        y_train,
        X_val,
        y_val,
        callbacks=[EarlyStopping("val_loss", patience=3, restore_best_weights=True)],
        lr=3e-3,
        epochs=40,
        batch_size=16,
        **QUIET,
    )
    val_losses = result.history.column("val_loss")
    best = int(np.argmin(val_losses))
    assert result.stop_reason is StopReason.PATIENCE
    assert result.best_epoch == best + 1
    assert result.epochs_run == result.best_epoch + 3
    assert val_losses[-1] > val_losses[best] + 1e-3  # restoring actually changes the model
    assert evaluate(result.model, X_val, y_val)["loss"] == pytest.approx(val_losses[best], abs=1e-5)
    assert result.final_record == result.history[best]
    assert not result.model.training


def test_early_stopping_restores_best_weights_when_max_epochs_reached(classification_problem):
    p = classification_problem
    result = train(
        MLP("40-32-2", seed=0),
        p.X,
        p.y,
        p.X_val,
        p.y_val,
        callbacks=[EarlyStopping("val_accuracy", patience=100)],
        lr=3e-2,
        epochs=12,
        **QUIET,
    )
    accuracies = result.history.column("val_accuracy")
    assert result.stop_reason is StopReason.MAX_EPOCHS
    assert result.epochs_run == 12
    assert result.best_epoch == int(np.argmax(accuracies)) + 1
    assert result.best_epoch < result.epochs_run
    assert result.stop_message.startswith("reached the maximum of 12 epochs; best ")
    assert result.stop_message.endswith(f" at epoch {result.best_epoch}, restored")
    last_loss = result.history[-1]["val_loss"]
    assert abs(last_loss - result.final_record["val_loss"]) > 1e-4
    restored = evaluate(result.model, p.X_val, p.y_val)
    assert restored["accuracy"] == pytest.approx(max(accuracies))
    assert restored["loss"] == pytest.approx(result.final_record["val_loss"], abs=1e-5)


# -- determinism and stacked training ------------------------------------------------------


def _fit(problem, seed: int, model_seed: int = 0) -> regulab.FitResult:
    return train(
        MLP("40-16-8-2", dropout=0.3, input_dropout=0.1, batchnorm=[0], seed=model_seed),
        problem.X,
        problem.y,
        penalties=[L2(1e-3)],
        seed=seed,
        epochs=4,
        **QUIET,
    )


def test_same_seed_same_history_and_weights(classification_problem):
    a, b = _fit(classification_problem, 3), _fit(classification_problem, 3)
    assert _numbers(a.history) == _numbers(b.history)
    sa, sb = _state(a.model), _state(b.model)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_different_seed_different_run(classification_problem):
    a, b = _fit(classification_problem, 3), _fit(classification_problem, 4)
    assert _numbers(a.history) != _numbers(b.history)
    assert not torch.equal(a.model.linears[0].weight, b.model.linears[0].weight)


def _stack_member(index: int) -> Member:
    """Four members of one architecture with different seeds, rates and penalties."""
    configs = [
        ({"dropout": 0.0}, [L2(1e-3)], []),
        ({"dropout": 0.3}, [L1(1e-2, proximal=True)], []),
        ({"dropout": [0.5, 0.1], "input_dropout": 0.1}, [ElasticNet(1e-3, 0.5)], []),
        ({"dropout": 0.2}, [WeightDecay(1e-2)], [EarlyStopping(patience=1)]),
    ]
    model_args, penalties, callbacks = configs[index]
    model = MLP("40-16-8-2", batchnorm=[0], seed=10 + index, **model_args)
    return Member(model, penalties=penalties, callbacks=callbacks, seed=index)


def test_stacked_training_equals_training_alone(classification_problem):
    p = classification_problem
    options = {"lr": 3e-2, "epochs": 8, "batch_size": 64, "split_seed": 0, **QUIET}
    stacked = train_many([_stack_member(i) for i in range(4)], p.X, p.y, **options)
    assert stacked[3].epochs_run < 8  # the early-stopped member left the stack early
    assert stacked[1].sparsity.total > 0
    for index, together in enumerate(stacked):
        alone = train_many([_stack_member(index)], p.X, p.y, **options)[0]
        assert together.epochs_run == alone.epochs_run, index
        assert together.stop_reason == alone.stop_reason
        assert together.best_epoch == alone.best_epoch
        s_together, s_alone = _state(together.model), _state(alone.model)
        assert s_together.keys() == s_alone.keys()
        for key in s_alone:
            assert torch.allclose(s_together[key], s_alone[key], atol=1e-5), (index, key)
        assert together.history.column("val_loss") == pytest.approx(
            alone.history.column("val_loss"), abs=1e-5
        )


def test_train_many_groups_architectures_and_keeps_order(classification_problem):
    p = classification_problem
    members = [
        Member(MLP("40-16-2", seed=0), seed=0),
        Member(MLP("40-8-2", seed=1), penalties=[L2(1e-3)], seed=1),
        Member(MLP("40-16-2", dropout=0.2, seed=2), seed=2),
        Member(LinearModel(40, 2, seed=3), seed=3),
    ]
    before = [_state(m.model) for m in members]
    results = train_many(members, p.X, p.y, epochs=3, **QUIET)
    assert len(results) == 4
    for member, result, start in zip(members, results, before):
        assert result.model is member.model
        assert result.seed == member.seed
        assert result.epochs_run == 3
        assert not torch.equal(result.model.linears[0].weight, start["linears.0.weight"])
    assert results[1].penalties == [L2(1e-3)]
    solo = Member(MLP("40-8-2", seed=1), penalties=[L2(1e-3)], seed=1)
    alone = train_many([solo], p.X, p.y, epochs=3, **QUIET)[0]
    assert torch.allclose(results[1].model.linears[0].weight, alone.model.linears[0].weight)


def test_train_returns_trained_model_in_place(classification_problem):
    p = classification_problem
    model = MLP("40-8-2", seed=0)
    result = train(model, p.X, p.y, epochs=2, **QUIET)
    assert result.model is model
    assert result.epochs_run == 2 and len(result.history) == 2
    assert result.history.column("epoch") == [1, 2]
    assert result.stop_reason is StopReason.MAX_EPOCHS
    assert result.stop_message == "reached the maximum of 2 epochs"
    assert result.best_epoch is None


# -- non-finite training ---------------------------------------------------------------------


def test_huge_learning_rate_stops_with_non_finite(classification_problem):
    p = classification_problem
    result = train(MLP("40-16-2", seed=0), p.X, p.y, optimizer="sgd", lr=1e6, epochs=10, **QUIET)
    assert result.stop_reason is StopReason.NON_FINITE
    assert result.epochs_run < 10
    assert not math.isfinite(result.history[-1]["loss"])
    assert result.stop_message.startswith("loss became ")
    assert result.stop_message.endswith(f"at epoch {result.epochs_run}")


def test_non_finite_reason_survives_early_stopping_on_another_metric(classification_problem):
    p = classification_problem
    result = train(
        MLP("40-16-2", seed=0),
        p.X,
        p.y,
        optimizer="sgd",
        lr=1e6,
        epochs=10,
        callbacks=[EarlyStopping("val_accuracy", patience=20)],
        **QUIET,
    )
    assert result.stop_reason is StopReason.NON_FINITE
    assert result.stop_message.startswith("loss became ")


# -- heads and metrics ----------------------------------------------------------------------


def test_binary_classification_with_one_output(classification_problem):
    p = classification_problem
    result = train(
        MLP("40-16-1", seed=0),
        p.X,
        p.y,
        p.X_val,
        p.y_val,
        lr=2e-2,
        epochs=8,
        batch_size=64,
        **QUIET,
    )
    record = result.history[-1]
    assert {"val_loss", "val_accuracy", "val_f1_macro", "val_roc_auc"} <= record.keys()
    assert record["val_roc_auc"] > 0.85
    assert record["val_accuracy"] > 0.75
    assert result.history[0]["val_loss"] > record["val_loss"]
    proba = predict_proba(result.model, p.X_val)
    assert proba.shape == (len(p.X_val), 2)
    assert np.allclose(proba.sum(1), 1.0, atol=1e-6)
    assert set(np.unique(predict(result.model, p.X_val))) <= {0, 1}
    assert evaluate(result.model, p.X_val, p.y_val)["roc_auc"] == pytest.approx(
        record["val_roc_auc"], abs=1e-6
    )


def test_binary_classification_with_two_outputs(classification_problem):
    p = classification_problem
    result = train(
        MLP("40-16-2", seed=0),
        p.X,
        p.y,
        p.X_val,
        p.y_val,
        lr=2e-2,
        epochs=8,
        batch_size=64,
        **QUIET,
    )
    record = result.history[-1]
    assert record["val_accuracy"] > 0.75
    assert result.history[0]["val_loss"] > record["val_loss"]
    assert predict_proba(result.model, p.X_val).shape == (len(p.X_val), 2)


def test_multiclass_classification(multiclass_problem):
    p = multiclass_problem
    result = train(MLP("12-16-3", seed=0), p.X, p.y, p.X_val, p.y_val, lr=1e-2, epochs=10, **QUIET)
    assert result.history[-1]["val_accuracy"] > 0.7
    assert "val_roc_auc" not in result.history[-1]
    assert predict_proba(result.model, p.X_val).shape == (len(p.X_val), 3)


def test_regression_records_regression_metrics_and_improves(regression_problem):
    p = regression_problem
    result = train(
        LinearModel(p.n_features, task="regression", seed=0),
        p.X,
        p.y,
        p.X_val,
        p.y_val,
        optimizer="sgd",
        lr=3e-3,
        epochs=6,
        **QUIET,
    )
    first, last = result.history[0], result.history[-1]
    assert {"val_loss", "val_mse", "val_mae", "val_r2"} <= last.keys()
    assert "val_accuracy" not in last
    r2 = result.history.column("val_r2")
    assert all(later > earlier for earlier, later in zip(r2, r2[1:]))
    assert last["val_r2"] > first["val_r2"] + 0.3
    assert last["val_r2"] > 0.95
    assert last["val_mse"] == pytest.approx(last["val_loss"], rel=1e-5)
    assert predict(result.model, p.X_val).shape == (len(p.X_val),)


# -- bad inputs ------------------------------------------------------------------------------


def _raises(exc: type[Exception], *fragments: str, **kwargs: Any) -> str:
    defaults: dict[str, Any] = {"epochs": 1, **QUIET}
    model = kwargs.pop("model")
    X, y = kwargs.pop("X"), kwargs.pop("y")
    with pytest.raises(exc) as info:
        train(model, X, y, **{**defaults, **kwargs})
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    return message


def test_model_input_size_mismatch(classification_problem):
    p = classification_problem
    message = _raises(InvalidParameterError, model=MLP("30-8-2", seed=0), X=p.X, y=p.y)
    assert message == (
        "The model's input size is 30 but the data has 40 features; "
        "use a spec starting with 40, e.g. '40-8-2'."
    )


def test_model_output_size_mismatch(classification_problem, multiclass_problem):
    p = classification_problem
    _raises(
        InvalidParameterError,
        "output size is 3 but the data has 2 classes",
        "must be 1 (sigmoid) or 2",
        model=MLP("40-8-3", seed=0),
        X=p.X,
        y=p.y,
    )
    m = multiclass_problem
    _raises(
        InvalidParameterError,
        "output size is 2 but the data has 3 classes; the output size must be 3",
        model=MLP("12-8-2", seed=0),
        X=m.X,
        y=m.y,
    )
    _raises(
        InvalidParameterError,
        "output size is 2 but the regression target has 1 column(s)",
        model=MLP("40-8-2", task="regression", seed=0),
        X=p.X,
        y=p.y.astype(np.float32),
    )


def test_single_class_target(classification_problem):
    p = classification_problem
    message = _raises(
        DataError, model=MLP("40-8-2", seed=0), X=p.X, y=np.zeros(len(p.X), dtype=np.int64)
    )
    assert message == (
        "The training target has a single class (0); classification needs at least 2."
    )


def test_nan_in_features_names_row_count(classification_problem):
    p = classification_problem
    X = p.X.copy()
    X[[3, 7, 11], 4] = np.nan
    X[7, 1] = np.inf
    message = _raises(DataError, model=MLP("40-8-2", seed=0), X=X, y=p.y)
    assert message == "X has 3 rows with NaN or infinite values (feature columns [1, 4])."
    X_val = p.X_val.copy()
    X_val[0, 0] = np.nan
    _raises(
        DataError,
        "X_val has 1 rows with NaN",
        model=MLP("40-8-2", seed=0),
        X=p.X,
        y=p.y,
        X_val=X_val,
        y_val=p.y_val,
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            {"batch_size": 0},
            "The 'batch_size' parameter of train must be an int in the range [1, inf). "
            "Got 0 instead.",
        ),
        (
            {"epochs": 0},
            "The 'epochs' parameter of train must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            {"lr": 0.0},
            "The 'lr' parameter of train must be a float in the range (0, inf). Got 0.0 instead.",
        ),
        (
            {"validation_split": 1.0},
            "The 'validation_split' parameter of train must be a float in the range [0, 1). "
            "Got 1.0 instead.",
        ),
        (
            {"optimizer": "adma"},
            "The 'optimizer' parameter must be one of adam, adamw, sgd. Got 'adma' instead. "
            "Did you mean 'adam'?",
        ),
    ],
)
def test_bad_training_options(classification_problem, option, message):
    p = classification_problem
    assert _raises(InvalidParameterError, model=MLP("40-8-2"), X=p.X, y=p.y, **option) == message


def test_bad_data_shapes(classification_problem):
    p = classification_problem
    model = MLP("40-8-2")
    _raises(DataError, "y has 10 rows but the features have 300", model=model, X=p.X, y=p.y[:10])
    _raises(DataError, "must be a 2-D array", model=model, X=p.X[0], y=p.y[:1])
    _raises(DataError, "integer class codes", model=model, X=p.X, y=p.y + 0.5)
    _raises(DataError, "X_val was given without y_val", model=model, X=p.X, y=p.y, X_val=p.X_val)


def test_patience_minus_one_is_rejected_before_training():
    with pytest.raises(InvalidParameterError, match=r"'patience' parameter .* Got -1 instead"):
        EarlyStopping(patience=-1)


def test_train_many_needs_members(classification_problem):
    p = classification_problem
    with pytest.raises(InvalidParameterError, match="at least one member"):
        train_many([], p.X, p.y)


# -- output ----------------------------------------------------------------------------------


def test_verbose_zero_prints_nothing(classification_problem, capsys):
    p = classification_problem
    train(MLP("40-8-2", seed=0), p.X, p.y, epochs=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_one_shows_progress(classification_problem, capsys):
    p = classification_problem
    train(MLP("40-8-2", seed=0), p.X, p.y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "epoch" in out and "val_loss" in out


def test_stacked_dropout_uses_each_members_rate():
    from regulab.penalties import LayerCoefficients
    from regulab.training._stack import OptimizerSpec, StackedMLP

    rates = [(0.0, 0.5), (0.2, 0.0), (0.0, 0.0)]
    models = [
        MLP("20-400-2", dropout=hidden, input_dropout=inp, seed=k)
        for k, (inp, hidden) in enumerate(rates)
    ]
    stack = StackedMLP(
        models[0].architecture,
        models,
        [([LayerCoefficients()] * 2, LayerCoefficients())] * 3,
        [0, 1, 2],
        OptimizerSpec(),
        torch.device("cpu"),
    )
    for position, width in ((0, 20), (1, 400)):
        out = stack._dropout(torch.ones(3, 500, width), position)
        for k, member_rates in enumerate(rates):
            rate = member_rates[position]
            zeros = float((out[k] == 0).float().mean())
            assert zeros == pytest.approx(rate, abs=0.02), (position, k)
            kept = out[k][out[k] != 0]
            assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - rate)))


def test_validation_split_is_the_one_stratified_holdout():
    from regulab._split import holdout

    codes = np.array([0] * 90 + [1] * 10)
    fit, val = holdout(np.arange(100), 0.2, codes, seed=3, stratify=True)
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(100))
    assert np.bincount(codes[val]).tolist() == [18, 2]
    np.testing.assert_array_equal(val, holdout(np.arange(100), 0.2, codes, 3, True)[1])
    with pytest.raises(DataError, match=r"Cannot split 1 sample\(s\) into two non-empty parts"):
        holdout(np.arange(1), 0.1, codes, seed=0, stratify=True)
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    result = train(MLP("3-2", seed=0), X, codes, epochs=1, validation_split=0.2, **QUIET)
    assert result.history[0]["val_f1_macro"] > 0  # both classes are in the validation part
    with pytest.raises(DataError, match="pass X_val and y_val, or validation_split=0"):
        train(MLP("3-1", task="regression", seed=0), X[:1], X[:1, 0], epochs=1, **QUIET)


@pytest.mark.parametrize("spec", ["40-1", "40-8-1"])
def test_regression_target_scale_does_not_change_the_fit(regression_problem, spec):
    p = regression_problem
    fits = [
        train(
            MLP(spec, task="regression", seed=0),
            p.X,
            p.y * factor,
            p.X_val,
            p.y_val * factor,
            penalties=[L1(0.05, proximal=True), L2(1e-3)],
            lr=1e-2,
            epochs=8,
            feature_names=p.feature_names,
            **QUIET,
        )
        for factor in (1.0, 1000.0)
    ]
    small, large = (fit.model.state_dict() for fit in fits)
    for name, value in small.items():  # the same weights; the head's scaling x1000
        factor = 1000.0 if name.startswith("target_") else 1.0
        torch.testing.assert_close(large[name], value * factor, rtol=1e-4, atol=1e-5 * factor)
    assert fits[0].sparsity.total == fits[1].sparsity.total > 0.3
    assert fits[0].sparsity.dropped_features == fits[1].sparsity.dropped_features
    first, second = fits[0].history[-1], fits[1].history[-1]
    assert second["val_r2"] == pytest.approx(first["val_r2"], abs=1e-4)
    for key, power in (("loss", 2), ("val_loss", 2), ("val_mse", 2), ("val_mae", 1)):
        assert second[key] == pytest.approx(first[key] * 1000.0**power, rel=1e-3), key
    # metrics are in the target's units: the recorded MSE is the returned model's
    predictions = predict(fits[1].model, p.X_val)
    assert second["val_mse"] == pytest.approx(float(np.mean((predictions - p.y_val * 1e3) ** 2)))


def test_standardized_target_matches_training_on_standardized_values(regression_problem):
    p = regression_problem
    mean, scale = float(np.mean(p.y, dtype=np.float64)), float(np.std(p.y, dtype=np.float64))
    options: dict[str, Any] = {"validation_split": 0, "epochs": 3, "lr": 1e-2, **QUIET}
    ours = train(LinearModel(40, task="regression", seed=0), p.X, p.y, **options).model
    manual = train(
        LinearModel(40, task="regression", seed=0),
        p.X,
        ((p.y - mean) / scale).astype(np.float32),
        standardize_target=False,
        **options,
    ).model
    torch.testing.assert_close(ours.linears[0].weight, manual.linears[0].weight)
    assert float(ours.target_mean) == pytest.approx(mean) and float(manual.target_mean) == 0
    assert float(ours.target_scale) == pytest.approx(scale) and float(manual.target_scale) == 1
    X = torch.from_numpy(p.X_val)
    torch.testing.assert_close(ours(X), manual(X) * scale + mean)
    # a trained model keeps its statistics: a warm start on other targets does not rescale it
    again = train(ours, p.X, p.y * 2, **options).model
    assert float(again.target_scale) == pytest.approx(scale)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_proximal_l1_reaches_the_lasso_optimum_with_any_momentum(momentum):
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    y = (X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.5 * rng.normal(size=200)).astype(np.float32)
    alpha = 0.3  # Lasso's 1/(2n) convention: Regulab's mean squared error needs 2 * alpha
    lasso = Lasso(alpha=alpha).fit(X, y)
    result = train(
        LinearModel(8, task="regression", seed=0),
        X,
        y,
        penalties=[L1(2 * alpha, proximal=True)],
        optimizer="sgd",
        lr=0.05 * (1 - momentum),  # the same long-run step for every momentum
        momentum=momentum,
        epochs=400,
        batch_size=200,
        validation_split=0,
        standardize_target=False,
        **QUIET,
    )
    coef = result.model.linears[0].weight.detach().numpy()[0]
    np.testing.assert_allclose(coef, lasso.coef_, atol=1e-3)
    assert ((coef == 0) == (lasso.coef_ == 0)).all() and (lasso.coef_ == 0).sum() >= 3


def test_member_metrics_equal_scikit_learns_including_classes_missing_from_the_truth():
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    from regulab.training._metrics import member_metrics

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, size=40)  # class 3 never appears in the truth...
    scores = torch.from_numpy(rng.normal(size=(2, 40, 4)).astype("float32"))
    scores[:, :5, 3] = 10.0  # ...but is predicted, so it counts in the macro average
    for k, record in enumerate(member_metrics(scores, torch.from_numpy(truth), "multiclass")):
        pred = scores[k].numpy().argmax(1)
        assert record["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=1e-12)
        assert record["f1_macro"] == pytest.approx(
            f1_score(truth, pred, average="macro", zero_division=0), abs=1e-12
        )
    target = rng.normal(size=30).astype("float32")
    outputs = torch.from_numpy(rng.normal(size=(1, 30, 1)).astype("float32"))
    (record,) = member_metrics(outputs, torch.from_numpy(target), "regression")
    assert record["r2"] == pytest.approx(r2_score(target, outputs[0, :, 0].numpy()), rel=1e-6)
    assert record["mae"] == pytest.approx(
        mean_absolute_error(target, outputs[0, :, 0].numpy()), rel=1e-6
    )
