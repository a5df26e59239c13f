"""Tests for regulab.penalties: formulas, scoping, configs, sparsity and the proximal step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import regulab
from regulab.errors import InvalidParameterError
from regulab.models import MLP, LinearModel
from regulab.penalties import _REGISTRY as REGISTRY
from regulab.penalties import (
    L1,
    L2,
    ElasticNet,
    Penalty,
    WeightDecay,
    describe,
    from_config,
    get,
    penalized_weights,
    prox_l1_,
    sparsity,
)


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def _value(term: torch.Tensor) -> float:
    return float(term.detach())


@pytest.fixture
def layer() -> nn.Linear:
    # sum |w| = 3.5, sum w^2 = 5.25; bias sum |b| = 3, sum b^2 = 5
    return _linear([[1.0, -2.0], [0.5, 0.0]], [-1.0, 2.0])


# -- formulas -------------------------------------------------------------------------------


def test_l1_value_is_strength_times_sum_of_absolute_weights(layer):
    assert _value(L1(0.1)(layer)) == pytest.approx(0.35)


def test_l2_value_is_strength_times_sum_of_squared_weights(layer):
    assert _value(L2(0.1)(layer)) == pytest.approx(0.525)


def test_elastic_net_value_follows_sklearn_parameterization(layer):
    # 0.2 * (0.25 * 3.5 + 0.75 / 2 * 5.25)
    assert _value(ElasticNet(0.2, 0.25)(layer)) == pytest.approx(0.56875)


def test_elastic_net_coefficients():
    assert ElasticNet(0.2, 0.25).coefficients(0.2) == pytest.approx((0.05, 0.075, 0.0))


def test_weight_decay_adds_no_loss_term(layer):
    assert _value(WeightDecay(0.5)(layer)) == 0.0
    assert WeightDecay(0.5).coefficients(0.5) == (0.0, 0.0, 0.5)


def test_penalty_is_differentiable(layer):
    L2(0.1)(layer).backward()
    assert torch.allclose(layer.weight.grad, 0.2 * layer.weight.detach())
    assert layer.bias.grad is None or torch.all(layer.bias.grad == 0)


def test_penalties_add_up_in_a_loss(layer):
    total = L1(0.1)(layer) + L2(0.1)(layer)
    assert _value(total) == pytest.approx(0.35 + 0.525)


# -- which parameters are penalized -------------------------------------------------------


def test_bias_excluded_by_default_and_included_on_request(layer):
    assert _value(L1(0.1)(layer)) == pytest.approx(0.35)
    assert _value(L1(0.1, include_bias=True)(layer)) == pytest.approx(0.1 * (3.5 + 3.0))
    assert _value(L2(0.1, include_bias=True)(layer)) == pytest.approx(0.1 * (5.25 + 5.0))


def _bn_mlp() -> MLP:
    model = MLP("3-4-2", batchnorm=True, seed=0)
    with torch.no_grad():
        model.norms["0"].weight.fill_(2.0)  # sum |gamma| = 8, sum gamma^2 = 16
        model.norms["0"].bias.fill_(-1.0)  # sum |beta| = 4
    return model


def test_penalized_weights_are_the_weight_matrices_in_layer_order():
    names = [name for name, _ in penalized_weights(_bn_mlp())]
    assert names == ["linears.0.weight", "linears.1.weight"]


def test_batchnorm_parameters_excluded_by_default():
    model = _bn_mlp()
    weights_only = sum(float(lin.weight.detach().abs().sum()) for lin in model.linears)
    assert _value(L1(0.1)(model)) == pytest.approx(0.1 * weights_only, rel=1e-6)


def test_include_bias_covers_biases_and_batchnorm_parameters():
    model = _bn_mlp()
    everything = sum(float(p.detach().abs().sum()) for p in model.parameters())
    weights_only = sum(float(lin.weight.detach().abs().sum()) for lin in model.linears)
    assert everything > weights_only + 12  # gamma and beta contribute 8 + 4
    assert _value(L1(0.1, include_bias=True)(model)) == pytest.approx(0.1 * everything, rel=1e-6)


def test_describe_rows_default():
    rows = describe(_bn_mlp(), [L2(1e-3)])
    by_name = {row["parameter"]: row for row in rows}
    assert list(by_name) == [name for name, _ in _bn_mlp().named_parameters()]
    assert by_name["linears.0.weight"] == {
        "parameter": "linears.0.weight",
        "shape": [4, 3],
        "l1": 0.0,
        "l2": 1e-3,
        "prox_l1": 0.0,
        "weight_decay": 0.0,
        "penalized": True,
    }
    assert "linears.0.bias" not in by_name  # batch norm follows the first layer
    for name in ("linears.1.bias", "norms.0.weight", "norms.0.bias"):
        assert by_name[name]["penalized"] is False, name
        assert by_name[name]["l2"] == 0.0
    assert by_name["linears.1.weight"]["penalized"] is True


def test_describe_rows_include_bias():
    rows = describe(_bn_mlp(), [L2(1e-3, include_bias=True)])
    for row in rows:
        assert row["penalized"] is True, row["parameter"]
        assert row["l2"] == pytest.approx(1e-3)


def test_describe_combines_penalties_and_kinds():
    penalties = [L1(2e-3, proximal=True), L1(1e-3), ElasticNet(1e-2, 0.5), WeightDecay(1e-4)]
    weight = describe(nn.Linear(3, 2), penalties)[0]
    assert weight["parameter"] == "weight"
    assert weight["prox_l1"] == pytest.approx(2e-3)  # only the proximal L1
    assert weight["l1"] == pytest.approx(1e-3 + 5e-3)  # plain L1 + elastic net's L1 part
    assert weight["l2"] == pytest.approx(2.5e-3)
    assert weight["weight_decay"] == pytest.approx(1e-4)


def test_describe_elastic_net_proximal_moves_l1_part_to_prox():
    weight = describe(nn.Linear(3, 2), [ElasticNet(1e-2, 0.5, proximal=True)])[0]
    assert weight["l1"] == 0.0
    assert weight["prox_l1"] == pytest.approx(5e-3)
    assert weight["l2"] == pytest.approx(2.5e-3)


# -- per-layer strengths and feature factors ------------------------------------------------


def test_per_layer_strength_overrides_default():
    model = MLP("3-4-2", seed=0)
    w0, w1 = (float(lin.weight.detach().pow(2).sum()) for lin in model.linears)
    assert _value(L2(0.1, per_layer={1: 0.0})(model)) == pytest.approx(0.1 * w0, rel=1e-6)
    assert _value(L2(0.1, per_layer={0: 1.0})(model)) == pytest.approx(w0 + 0.1 * w1, rel=1e-6)
    rows = {r["parameter"]: r for r in describe(model, [L2(0.1, per_layer={1: 0.0})])}
    assert rows["linears.0.weight"]["l2"] == pytest.approx(0.1)
    assert rows["linears.1.weight"]["l2"] == 0.0
    assert rows["linears.1.weight"]["penalized"] is False


def test_per_layer_index_out_of_range():
    with pytest.raises(InvalidParameterError) as info:
        describe(MLP("3-4-2", seed=0), [L2(0.1, per_layer={2: 0.5})])
    assert str(info.value) == (
        "The 'per_layer' parameter of L2 names layer 2 but the model has 2 weight matrices "
        "(0 to 1)."
    )


def test_feature_factors_scale_first_layer_columns(layer):
    # columns: feature 0 -> |1| + |0.5| = 1.5, feature 1 -> |-2| + |0| = 2
    assert _value(L1(0.1, feature_factors=[0.0, 1.0])(layer)) == pytest.approx(0.2)
    assert _value(L1(0.1, feature_factors=[2.0, 0.0])(layer)) == pytest.approx(0.3)
    assert _value(L2(0.1, feature_factors=[1.0, 3.0])(layer)) == pytest.approx(0.1 * (1.25 + 12))


def test_feature_factors_only_touch_the_first_layer():
    model = MLP("2-3-2", seed=0)
    w0, w1 = (float(lin.weight.detach().abs().sum()) for lin in model.linears)
    value = _value(L1(0.1, feature_factors=[0.0, 0.0])(model))
    assert value == pytest.approx(0.1 * w1, rel=1e-6)
    assert w0 > 0


def test_feature_factors_in_describe():
    rows = describe(nn.Linear(3, 2), [L1(0.1, feature_factors=[0.0, 1.0, 2.0])])
    assert rows[0]["l1"] == "per-feature 0..0.2"


def test_feature_factors_length_mismatch(layer):
    with pytest.raises(InvalidParameterError) as info:
        L1(0.1, feature_factors=[1.0, 1.0, 1.0])(layer)
    assert str(info.value) == (
        "The 'feature_factors' parameter of L1 has 3 values but the first layer has 2 inputs."
    )
    with pytest.raises(InvalidParameterError, match="3 values but the first layer has 2 inputs"):
        describe(layer, [L1(0.1, feature_factors=[1.0, 1.0, 1.0])])


def _train_on_zero_inputs(model, penalties, epochs=5):
    # With all-zero inputs the data gradient of every first-layer weight is exactly zero, so
    # only the penalty can move those weights.
    X = np.zeros((64, model.architecture.sizes[0]), dtype=np.float32)
    y = np.arange(64) % 2
    return regulab.train(
        model,
        X,
        y,
        penalties=penalties,
        optimizer="sgd",
        lr=0.1,
        momentum=0.0,
        epochs=epochs,
        batch_size=16,
        validation_split=0.0,
        verbose=0,
    )


def test_zero_feature_factor_leaves_feature_unshrunk_in_training():
    model = LinearModel(3, 2, seed=0)
    before = model.linears[0].weight.detach().clone()
    _train_on_zero_inputs(model, [L2(0.5, feature_factors=[0.0, 1.0, 1.0])])
    after = model.linears[0].weight.detach()
    assert torch.equal(after[:, 0], before[:, 0])
    assert torch.all(after[:, 1:].abs() < 0.5 * before[:, 1:].abs())


def test_zero_per_layer_strength_leaves_layer_unshrunk_in_training():
    model = MLP("3-4-2", seed=0)
    before = model.linears[0].weight.detach().clone()
    _train_on_zero_inputs(model, [L2(0.5, per_layer={0: 0.0})])
    assert torch.equal(model.linears[0].weight.detach(), before)

    shrunk = MLP("3-4-2", seed=0)
    _train_on_zero_inputs(shrunk, [L2(0.5)])
    assert torch.all(shrunk.linears[0].weight.abs() < 0.5 * before.abs())


# -- registry and configs -------------------------------------------------------------------


def test_get_by_name_and_alias():
    ridge = get("ridge", l2=1e-3)
    assert type(ridge) is L2 and ridge.l2 == 1e-3
    assert type(get("RIDGE")) is L2
    assert type(get("lasso")) is L1
    assert type(get("elasticnet")) is ElasticNet
    assert type(get("weight_decay")) is WeightDecay


def test_get_passes_penalties_and_configs_through():
    penalty = L1(1e-3)
    assert get(penalty) is penalty
    assert get({"name": "l2", "l2": 0.5}) == L2(0.5)


def test_get_unknown_name_suggests_closest():
    with pytest.raises(InvalidParameterError) as info:
        get("ridg")
    assert str(info.value) == (
        "Unknown penalty 'ridg'. Known penalties: elastic_net, elasticnet, l1, l2, lasso, "
        "ridge, weight_decay. Did you mean 'ridge'?"
    )


def test_from_config_needs_name():
    with pytest.raises(InvalidParameterError, match="needs a 'name' key"):
        from_config({"l1": 0.1})


CONFIG_CASES = [
    L1(1e-3),
    L1(2e-3, proximal=True, per_layer={1: 0.5}, feature_factors=[0.0, 1.0, 2.0]),
    L2(1e-4, include_bias=True),
    L2(3e-2, per_layer={0: 0.0, 1: 0.1}),
    ElasticNet(1e-2, 0.3),
    ElasticNet(1e-2, 0.7, proximal=True, feature_factors=[1.0, 0.5, 0.0], include_bias=True),
    WeightDecay(1e-4),
    WeightDecay(5e-3, per_layer={1: 0.0}),
]


def test_config_cases_cover_every_registered_penalty():
    assert {type(p) for p in CONFIG_CASES} == set(REGISTRY.values())


@pytest.mark.parametrize("penalty", CONFIG_CASES, ids=repr)
def test_config_json_round_trip(penalty):
    text = json.dumps(penalty.get_config())
    rebuilt = from_config(json.loads(text))
    assert type(rebuilt) is type(penalty)
    assert rebuilt == penalty
    assert rebuilt.per_layer == penalty.per_layer
    assert all(isinstance(k, int) for k in rebuilt.per_layer)
    assert rebuilt.feature_factors == penalty.feature_factors
    assert rebuilt.include_bias == penalty.include_bias
    assert rebuilt.proximal == penalty.proximal
    assert Penalty.from_config(json.loads(text)) == penalty
    model = MLP("3-4-2", seed=0)
    assert _value(rebuilt(model)) == _value(penalty(model))
    assert describe(model, [rebuilt]) == describe(model, [penalty])


def test_config_omits_defaults_and_repr_uses_it():
    assert L1(1e-3).get_config() == {"name": "l1", "l1": 1e-3}
    assert repr(L1(1e-4, proximal=True)) == "L1(l1=0.0001, proximal=True)"
    assert L2(0.1) != L2(0.2)
    assert hash(L2(0.1)) == hash(L2(0.1))


# -- sparsity -------------------------------------------------------------------------------


def test_sparsity_report():
    model = MLP("3-2-2", seed=0)
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]]))
        model.linears[1].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    report = sparsity(model, ["a", "b", "c"])
    assert report.per_layer == {
        "linears.0.weight": pytest.approx(0.5),
        "linears.1.weight": pytest.approx(0.25),
    }
    assert report.total == pytest.approx(4 / 10)
    assert report.dropped_features == ["a"]
    assert sparsity(model).dropped_features == ["x0"]
    assert report.to_dict()["dropped_features"] == ["a"]
    json.dumps(report.to_dict())


def test_sparsity_of_dense_model_is_zero():
    report = sparsity(MLP("3-4-2", seed=0))
    assert report.total == 0.0
    assert report.dropped_features == []


# -- parameter errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: L1(-1.0),
            "The 'l1' parameter of L1 must be a float in the range [0, inf). Got -1.0 instead.",
        ),
        (
            lambda: L2(-0.5),
            "The 'l2' parameter of L2 must be a float in the range [0, inf). Got -0.5 instead.",
        ),
        (
            lambda: ElasticNet(-1.0),
            "The 'alpha' parameter of ElasticNet must be a float in the range [0, inf). "
            "Got -1.0 instead.",
        ),
        (
            lambda: ElasticNet(0.1, 1.5),
            "The 'l1_ratio' parameter of ElasticNet must be a float in the range [0, 1]. "
            "Got 1.5 instead.",
        ),
        (
            lambda: ElasticNet(0.1, -0.1),
            "The 'l1_ratio' parameter of ElasticNet must be a float in the range [0, 1]. "
            "Got -0.1 instead.",
        ),
        (
            lambda: WeightDecay(-1e-4),
            "The 'wd' parameter of WeightDecay must be a float in the range [0, inf). "
            "Got -0.0001 instead.",
        ),
        (
            lambda: L2(0.1, per_layer={1: -2.0}),
            "The 'per_layer[1]' parameter of L2 must be a float in the range [0, inf). "
            "Got -2.0 instead.",
        ),
        (
            lambda: L1(0.1, feature_factors=[1.0, -1.0]),
            "The 'feature_factors[1]' parameter of L1 must be a float in the range [0, inf). "
            "Got -1.0 instead.",
        ),
        (
            lambda: L1("strong"),
            "The 'l1' parameter of L1 must be a float in the range [0, inf). Got 'strong' instead.",
        ),
    ],
)
def test_parameter_error_messages(build, message):
    with pytest.raises(InvalidParameterError) as info:
        build()
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_boundary_values_are_accepted():
    assert ElasticNet(0.0, 0.0).l1_ratio == 0.0
    assert ElasticNet(0.1, 1.0).l1_ratio == 1.0
    assert L1(0.0).l1 == 0.0


# -- property-based: the proximal step ------------------------------------------------------

finite32 = st.floats(-1e3, 1e3, allow_nan=False, width=32)
weights = st.lists(finite32, min_size=1, max_size=50).map(
    lambda values: torch.tensor(values, dtype=torch.float32)
)
thresholds = st.floats(0.0, 10.0, width=32)


@given(weights)
def test_prox_zero_threshold_is_identity(w):
    out = prox_l1_(w.clone(), 0.0)
    assert torch.equal(out, w)


@given(weights, thresholds)
def test_prox_properties(w, threshold):
    original = w.clone()
    out = prox_l1_(w, threshold)
    assert out is w  # in place
    assert torch.all(out.abs() <= original.abs())  # nothing grows
    small = original.abs() <= threshold
    assert torch.all(out[small] == 0)  # everything under the threshold becomes exactly 0
    assert torch.all(out * original >= 0)  # no sign flips
    big = ~small
    expected = original[big].abs() - threshold
    assert torch.allclose(out[big].abs(), expected, rtol=1e-6, atol=1e-4)


@given(weights, st.lists(st.floats(0.0, 10.0, width=32), min_size=50, max_size=50))
def test_prox_accepts_per_element_thresholds(w, values):
    threshold = torch.tensor(values[: len(w)], dtype=torch.float32)
    original = w.clone()
    out = prox_l1_(w, threshold)
    assert torch.all(out[original.abs() <= threshold] == 0)
    assert torch.all(out.abs() <= original.abs())
    assert torch.all(out * original >= 0)


# -- property-based: penalty identities on random modules ------------------------------------

strengths = st.floats(0.0, 10.0, allow_nan=False)


def _random_module(seed: int, width: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, width), nn.ReLU(), nn.Linear(width, 3))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), strengths, st.booleans())
def test_elastic_net_ratio_one_is_l1(seed, width, alpha, include_bias):
    module = _random_module(seed, width)
    en = ElasticNet(alpha, 1.0, include_bias=include_bias)(module)
    l1 = L1(alpha, include_bias=include_bias)(module)
    assert torch.allclose(en, l1, rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), strengths, st.booleans())
def test_elastic_net_ratio_zero_is_half_strength_l2(seed, width, alpha, include_bias):
    module = _random_module(seed, width)
    en = ElasticNet(alpha, 0.0, include_bias=include_bias)(module)
    l2 = L2(alpha / 2, include_bias=include_bias)(module)
    assert torch.allclose(en, l2, rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), strengths, st.floats(0.0, 1.0))
def test_penalty_values_match_direct_formulas(seed, alpha, ratio):
    module = _random_module(seed, 4)
    abs_sum = sum(m.weight.abs().sum() for m in module if isinstance(m, nn.Linear))
    sq_sum = sum(m.weight.pow(2).sum() for m in module if isinstance(m, nn.Linear))
    assert torch.allclose(L1(alpha)(module), alpha * abs_sum, rtol=1e-5, atol=1e-6)
    assert torch.allclose(L2(alpha)(module), alpha * sq_sum, rtol=1e-5, atol=1e-6)
    expected = alpha * (ratio * abs_sum + (1 - ratio) / 2 * sq_sum)
    assert torch.allclose(ElasticNet(alpha, ratio)(module), expected, rtol=1e-5, atol=1e-6)
