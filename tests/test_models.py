"""Tests for regulab.models: specs, dropout, batch norm, the linear model and seeding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from regulab.errors import InvalidParameterError
from regulab.models import MLP, Architecture, LinearModel, parse_sizes

# -- specs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("784-128-64-10", (784, 128, 64, 10)),
        ("4-2", (4, 2)),
        (" 8 - 3 ", (8, 3)),
        ([784, 128, 64, 10], (784, 128, 64, 10)),
        ((5, 1), (5, 1)),
    ],
)
def test_parse_sizes(spec, expected):
    assert parse_sizes(spec) == expected


def test_spec_builds_matching_layers():
    model = MLP("784-128-64-10", seed=0)
    assert model.architecture == Architecture((784, 128, 64, 10))
    assert model.architecture.spec == "784-128-64-10"
    assert model.architecture.n_hidden == 2
    shapes = [tuple(lin.weight.shape) for lin in model.linears]
    assert shapes == [(128, 784), (64, 128), (10, 64)]
    assert model(torch.zeros(3, 784)).shape == (3, 10)
    assert MLP([784, 128, 64, 10], seed=0).architecture == model.architecture


@pytest.mark.parametrize("spec", ["784-abc-10", "784--10", "784x10", "", "3-4.5-2"])
def test_bad_string_spec(spec):
    with pytest.raises(InvalidParameterError) as info:
        MLP(spec)
    assert str(info.value) == (
        f"The model spec '{spec}' must be layer sizes joined by '-', input first and output "
        "last, e.g. '784-128-64-10'."
    )


@pytest.mark.parametrize(
    ("spec", "shown"), [("10", "(10,)"), ([10], "(10,)"), ([4, 0, 2], "(4, 0, 2)")]
)
def test_spec_needs_two_positive_sizes(spec, shown):
    with pytest.raises(InvalidParameterError) as info:
        MLP(spec)
    assert str(info.value) == (
        f"The model spec {shown} needs at least an input and an output size, all >= 1."
    )


def test_bad_activation_and_task():
    with pytest.raises(InvalidParameterError, match="Did you mean 'relu'"):
        MLP("3-4-2", activation="rellu")
    with pytest.raises(InvalidParameterError, match="'task' parameter of MLP must be one of"):
        MLP("3-4-2", task="ranking")


@pytest.mark.parametrize("activation", ["gelu", "tanh", "sigmoid", "elu", "leaky_relu", "silu"])
def test_activation_is_used(activation):
    model = MLP("3-4-2", activation=activation, seed=0)
    assert model.architecture.activation == activation
    assert type(model.activation).__name__.lower().replace("_", "") == activation.replace("_", "")


# -- dropout --------------------------------------------------------------------------------


def _hidden_outputs(model: MLP, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (input, output) of the first hidden dropout layer for one forward pass."""
    seen: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        seen["in"], seen["out"] = inputs[0].detach(), output.detach()

    handle = model.drops[0].register_forward_hook(hook)
    try:
        model(x)
    finally:
        handle.remove()
    return seen["in"], seen["out"]


def test_dropout_active_in_train_mode():
    model = MLP("10-64-3", dropout=0.5, seed=0)
    model.train()
    x = torch.randn(16, 10)
    assert not torch.equal(model(x), model(x))
    before, after = _hidden_outputs(model, x)
    alive = before != 0
    dropped = alive & (after == 0)
    share = dropped.sum().item() / alive.sum().item()
    assert 0.3 < share < 0.7
    kept = alive & (after != 0)
    assert torch.allclose(after[kept], before[kept] * 2.0)  # inverted dropout scaling 1/(1-p)


def test_dropout_off_in_eval_mode():
    model = MLP("10-64-3", dropout=0.5, input_dropout=0.2, seed=0)
    model.eval()
    x = torch.randn(16, 10)
    assert torch.equal(model(x), model(x))
    before, after = _hidden_outputs(model, x)
    assert torch.equal(before, after)


def test_input_dropout_zeroes_features_in_train_mode():
    model = MLP("200-3", input_dropout=0.5, seed=0)
    seen = {}
    model.linears[0].register_forward_hook(lambda m, i, o: seen.setdefault("x", i[0].detach()))
    model.train()
    model(torch.ones(4, 200))
    zeros = (seen["x"] == 0).float().mean().item()
    assert 0.3 < zeros < 0.7


def test_per_layer_dropout_rates():
    model = MLP("4-8-8-2", dropout=[0.5, 0.1], seed=0)
    assert model.dropout_rates == (0.5, 0.1)
    assert [d.p for d in model.drops] == [0.5, 0.1]
    assert MLP("4-8-8-2", dropout=0.3).dropout_rates == (0.3, 0.3)
    assert model.config()["dropout"] == [0.5, 0.1]


@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1])
def test_dropout_rate_out_of_range(rate):
    with pytest.raises(InvalidParameterError) as info:
        MLP("4-8-2", dropout=rate)
    assert str(info.value) == (
        f"The 'dropout' parameter of MLP must be a float in the range [0, 1). Got {rate!r} instead."
    )


def test_input_dropout_out_of_range():
    with pytest.raises(InvalidParameterError) as info:
        MLP("4-8-2", input_dropout=1.0)
    assert str(info.value) == (
        "The 'input_dropout' parameter of MLP must be a float in the range [0, 1). Got 1.0 instead."
    )


def test_dropout_list_length_mismatch():
    with pytest.raises(InvalidParameterError) as info:
        MLP("4-8-8-2", dropout=[0.5])
    assert str(info.value) == (
        "The 'dropout' parameter of MLP has 1 rates but the model has 2 hidden layers; "
        "give one rate per hidden layer or a single rate."
    )


# -- batch norm -----------------------------------------------------------------------------


def test_batchnorm_placement():
    assert MLP("4-8-8-2", batchnorm=True).architecture.batchnorm == (0, 1)
    model = MLP("4-8-8-2", batchnorm=[1], seed=0)
    assert model.architecture.batchnorm == (1,)
    assert list(model.norms) == ["1"]
    assert isinstance(model.norms["1"], nn.BatchNorm1d)
    assert model.norms["1"].num_features == 8
    assert MLP("4-8-2").architecture.batchnorm == ()


def test_batchnorm_uses_running_statistics_in_eval():
    model = MLP("3-4-2", batchnorm=[0], seed=0)
    norm = model.norms["0"]
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
        norm.running_var.copy_(torch.tensor([4.0, 0.25, 1.0, 9.0]))
        norm.weight.copy_(torch.tensor([1.5, -0.5, 2.0, 1.0]))
        norm.bias.copy_(torch.tensor([0.1, 0.2, -0.3, 0.4]))
    model.eval()
    x = torch.tensor([[0.3, -1.2, 2.0]])
    h = model.linears[0](x)
    normed = (h - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
    expected = model.linears[1](torch.relu(normed * norm.weight + norm.bias))
    assert torch.allclose(model(x), expected, atol=1e-6)
    # one sample works in eval (a batch statistic would be undefined)
    assert model(x).shape == (1, 2)


def test_batchnorm_uses_batch_statistics_in_train():
    model = MLP("3-4-2", batchnorm=[0], seed=0)
    seen = {}
    model.norms["0"].register_forward_hook(lambda m, i, o: seen.setdefault("h", o.detach()))
    model.train()
    x = torch.randn(64, 3) * 5 + 3
    model(x)
    h = seen["h"]  # weight 1, bias 0 at init: standardized per feature over the batch
    assert torch.allclose(h.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(h.var(0, unbiased=False), torch.ones(4), atol=1e-3)
    running = model.norms["0"].running_mean
    assert not torch.equal(running, torch.zeros(4))  # statistics were tracked
    expected = 0.1 * model.linears[0](x).detach().mean(0)
    assert torch.allclose(running, expected, atol=1e-5)


def test_batchnorm_layer_out_of_range():
    with pytest.raises(InvalidParameterError) as info:
        MLP("4-8-8-2", batchnorm=[2])
    assert str(info.value) == (
        "The 'batchnorm' parameter of MLP names hidden layer 2 but the model has 2 hidden "
        "layers (0 to 1)."
    )
    with pytest.raises(InvalidParameterError, match="names hidden layer -1"):
        MLP("4-8-2", batchnorm=[-1])


# -- linear model ---------------------------------------------------------------------------


def test_linear_model_is_mlp_without_hidden_layer():
    model = LinearModel(5, 3, seed=0)
    assert isinstance(model, MLP)
    assert model.architecture == Architecture((5, 3))
    assert model.architecture.n_hidden == 0
    assert len(model.linears) == 1
    assert len(model.norms) == 0 and len(model.drops) == 0
    x = torch.randn(7, 5)
    lin = model.linears[0]
    assert torch.allclose(model(x), x @ lin.weight.T + lin.bias)
    same = MLP([5, 3], seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters()))


def test_linear_model_regression():
    model = LinearModel(4, task="regression", seed=0)
    assert model.architecture.sizes == (4, 1)
    assert model.architecture.task == "regression"
    assert model.config()["task"] == "regression"


# -- seeding --------------------------------------------------------------------------------


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_same_seed_same_init():
    a, b = MLP("6-16-8-3", seed=7), MLP("6-16-8-3", seed=7)
    assert all(torch.equal(p, q) for p, q in zip(_params(a), _params(b)))


def test_different_seed_different_init():
    a, b = MLP("6-16-8-3", seed=7), MLP("6-16-8-3", seed=8)
    assert not torch.equal(a.linears[0].weight, b.linears[0].weight)


def test_seeded_init_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MLP("6-16-3", seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_config_round_trip():
    model = MLP("4-8-8-2", dropout=[0.5, 0.1], input_dropout=0.2, batchnorm=[0], task="regression")
    rebuilt = MLP(**model.config())
    assert rebuilt.architecture == model.architecture
    assert rebuilt.dropout_rates == model.dropout_rates
    assert rebuilt.input_dropout == 0.2
