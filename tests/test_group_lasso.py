"""The group lasso on the first layer (one table column, one unit): the penalty's term, its
subgradient and prox against hand formulas and autograd, each training path against a
hand-written step, singleton groups against plain L1, and the wiring from tables."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regulab import io
from regulab._groups import FeatureGroups, group_direction, group_term
from regulab.config import TrainConfig, run, table_groups
from regulab.errors import InvalidParameterError
from regulab.estimators import RegularizedMLPClassifier
from regulab.experiment import prepare_data
from regulab.models import MLP, LinearModel
from regulab.penalties import (
    L1,
    L2,
    ElasticNet,
    from_config,
    group_ids,
    prox_group_l1_,
    prox_l1_,
    resolve,
)
from regulab.tables import TablePreprocessor, infer_schema
from regulab.training import Callback, Member, train, train_many

GROUPS = [0, 1, 1, 2, 2, 2]


def _hand_term(w: np.ndarray, ids: list[int], factors: list[float] | None = None) -> float:
    """``sum_h sum_g f_g * sqrt(|g|) * ||W[h, g]||`` written out with numpy."""
    total = 0.0
    for g in sorted(set(ids)):
        cols = [j for j, i in enumerate(ids) if i == g]
        factor = 1.0 if factors is None else factors[cols[0]]
        for h in range(w.shape[0]):
            total += factor * np.sqrt(len(cols)) * np.linalg.norm(w[h, cols])
    return total


def _hand_prox(w: np.ndarray, ids: list[int], t: np.ndarray) -> np.ndarray:
    """The group soft-threshold written out: a block's threshold is its entries' mean."""
    out = w.copy()
    for g in sorted(set(ids)):
        cols = [j for j, i in enumerate(ids) if i == g]
        for h in range(w.shape[0]):
            norm = np.linalg.norm(w[h, cols])
            bound = t[h, cols].mean() * np.sqrt(len(cols))
            out[h, cols] = 0.0 if norm <= bound else w[h, cols] * (1 - bound / norm)
    return out


# -- validation and configs -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (
            [0, 2, 2],
            "The 'feature_groups[1]' parameter of L1 must be an int in the range [0, 1] (group "
            "ids 0..G-1 in first-appearance order). Got 2 instead.",
        ),
        (
            [1, 0],
            "The 'feature_groups[0]' parameter of L1 must be an int in the range [0, 0] (group "
            "ids 0..G-1 in first-appearance order). Got 1 instead.",
        ),
        (
            [0, 1.0],
            "The 'feature_groups[1]' parameter of L1 must be an int in the range [0, 1] (group "
            "ids 0..G-1 in first-appearance order). Got 1.0 instead.",
        ),
        (
            "abc",
            "The 'feature_groups' parameter of L1 must be a sequence of group ids, one int per "
            "input column. Got 'abc' instead.",
        ),
    ],
)
def test_bad_feature_groups_are_refused_by_name_and_range(groups: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError) as error:
        L1(0.1, feature_groups=groups)
    assert str(error.value) == message


def test_factors_must_be_equal_within_a_group() -> None:
    with pytest.raises(InvalidParameterError) as error:
        ElasticNet(0.1, feature_groups=[0, 1, 1], feature_factors=[1.0, 1.0, 0.5])
    assert str(error.value) == (
        "The 'feature_factors' parameter of ElasticNet must be equal within a group: features "
        "1 and 2 share group 1 but have factors 1.0 and 0.5."
    )
    with pytest.raises(InvalidParameterError, match="has 2 ids but 'feature_factors' has 3"):
        L1(0.1, feature_groups=[0, 1], feature_factors=[1.0, 1.0, 1.0])


def test_group_count_must_match_the_first_layer() -> None:
    penalty = L1(0.1, feature_groups=[0, 1, 1])
    message = "The 'feature_groups' parameter of L1 has 3 values but the first layer has 4 inputs."
    with pytest.raises(InvalidParameterError) as error:
        penalty(nn.Linear(4, 2))
    assert str(error.value) == message
    with pytest.raises(InvalidParameterError) as error:
        resolve([penalty], 1, 4)
    assert str(error.value) == message


def test_groups_need_a_dense_first_layer() -> None:
    conv = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(InvalidParameterError, match=r"dense first layer .* shape \(2, 3, 3, 3\)"):
        L1(0.1, feature_groups=[0, 1, 1])(conv)


def test_penalties_with_different_groups_on_the_first_layer_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="different 'feature_groups'"):
        resolve([L1(0.1, feature_groups=[0, 1, 1]), ElasticNet(0.1)], 2, 3)
    # an L2 beside it has no L1 part: no conflict, and the groups reach the first layer only
    layers, _ = resolve([L1(0.1, feature_groups=[0, 1, 1]), L2(0.1)], 2, 3)
    assert layers[0].groups == FeatureGroups([0, 1, 1]) and layers[1].groups is None


def test_group_ids_from_a_table_mapping() -> None:
    assert group_ids({"age": [0], "shelf": [1, 2, 3], "price": [4, 5]}, 6) == [0, 1, 1, 1, 2, 2]
    assert group_ids({"c": [3, 1]}, 4) == [0, 1, 2, 1]  # unnamed columns are groups of one
    with pytest.raises(InvalidParameterError, match="Column 1 is in two groups: 'a' and 'b'"):
        group_ids({"a": [0, 1], "b": [1]}, 2)
    with pytest.raises(InvalidParameterError, match=r"outside the range \[0, 1\]"):
        group_ids({"a": [2]}, 2)


@pytest.mark.parametrize("penalty", [L1(0.1, proximal=True), ElasticNet(0.1, 0.3)])
def test_configs_keep_the_groups(penalty: Any) -> None:
    grouped = type(penalty).from_config({**penalty.get_config(), "feature_groups": GROUPS})
    config = json.loads(json.dumps(grouped.get_config()))
    assert config["feature_groups"] == GROUPS
    assert from_config(config) == grouped and from_config(config).feature_groups == GROUPS
    train_config = TrainConfig(l1=0.1, elastic_net=(0.1, 0.5), feature_groups=GROUPS)
    back = TrainConfig.from_dict(json.loads(json.dumps(train_config.to_dict())))
    assert back.feature_groups == GROUPS
    assert [p.feature_groups for p in back.penalties()] == [GROUPS, GROUPS]


# -- the term, its subgradient and its prox ---------------------------------------------------
def test_the_group_term_equals_the_hand_formula() -> None:
    layer = nn.Linear(6, 3)
    factors = [2.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    w = layer.weight.detach().numpy().astype(np.float64)
    term = L1(0.3, feature_groups=GROUPS, feature_factors=factors)(layer)
    assert term.item() == pytest.approx(0.3 * _hand_term(w, GROUPS, factors), rel=1e-6)
    net = ElasticNet(0.2, 0.25, feature_groups=GROUPS)(
        layer
    ).item()  # the L2 part stays element-wise
    expected = 0.2 * (0.25 * _hand_term(w, GROUPS) + 0.75 / 2 * float((w**2).sum()))
    assert net == pytest.approx(expected, rel=1e-6)


def test_deeper_layers_keep_the_elementwise_l1() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    first, second = model[0].weight.detach().double(), model[2].weight.detach().double()
    expected = 0.1 * (_hand_term(first.numpy(), GROUPS) + float(second.abs().sum()))
    assert L1(0.1, feature_groups=GROUPS)(model).item() == pytest.approx(expected, rel=1e-6)


def test_autograd_of_the_term_equals_the_closed_form_subgradient() -> None:
    layer = nn.Linear(6, 3, bias=False)
    with torch.no_grad():
        layer.weight[1, 3:] = 0.0  # a zero block: its subgradient is 0, not NaN
    factors = [1.0, 3.0, 3.0, 0.5, 0.5, 0.5]
    L1(0.2, feature_groups=GROUPS, feature_factors=factors)(layer).backward()
    grad = layer.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    groups = FeatureGroups(GROUPS)
    closed = 0.2 * torch.tensor(factors) * group_direction(layer.weight.detach(), groups, axis=1)
    torch.testing.assert_close(grad, closed, rtol=1e-6, atol=1e-7)
    # the stacked trainer's layout is (inputs, outputs): the same numbers, transposed
    stacked = group_direction(layer.weight.detach().t().contiguous(), groups, axis=0)
    torch.testing.assert_close(stacked.t(), closed / (0.2 * torch.tensor(factors)))
    assert (grad[1, 3:] == 0).all()


def test_singleton_groups_are_plain_l1() -> None:
    w = torch.randn(4, 5)
    singles = FeatureGroups(range(5))
    assert not singles.nontrivial
    torch.testing.assert_close(
        group_term(w, 0.7, singles, axis=1), 0.7 * w.abs().sum(), rtol=1e-7, atol=0
    )
    torch.testing.assert_close(group_direction(w, singles, axis=1), w.sign(), rtol=1e-7, atol=0)
    t = torch.rand(4, 5) * 0.5
    torch.testing.assert_close(
        prox_group_l1_(w.clone(), t, singles), prox_l1_(w.clone(), t), rtol=1e-7, atol=1e-7
    )
    layer = nn.Linear(5, 4)
    plain, grouped = L1(0.1)(layer).item(), L1(0.1, feature_groups=list(range(5)))(layer).item()
    assert abs(plain - grouped) <= 1e-7 * plain


def test_the_group_prox_zeros_small_blocks_and_shrinks_the_others() -> None:
    w = np.array(
        [[0.5, 0.1, -0.1, 3.0, 0.0, -4.0], [-0.05, 2.0, 1.0, 0.01, 0.02, -0.01]], np.float32
    )
    t = np.full_like(w, 0.3)
    out = prox_group_l1_(torch.tensor(w), 0.3, FeatureGroups(GROUPS)).numpy()
    np.testing.assert_allclose(out, _hand_prox(w, GROUPS, t), rtol=1e-6, atol=1e-7)
    assert (out[0, 1:3] == 0).all() and (out[1, 3:] == 0).all() and out[0, 0] == pytest.approx(0.2)
    # a shrunk block keeps its direction
    np.testing.assert_allclose(out[0, 3:] / np.linalg.norm(out[0, 3:]), w[0, 3:] / 5.0, rtol=1e-6)
    # per-weight thresholds (Adam): each block uses its entries' mean
    per_weight = np.random.default_rng(0).uniform(0.0, 0.8, size=w.shape).astype(np.float32)
    out = prox_group_l1_(torch.tensor(w), torch.tensor(per_weight), FeatureGroups(GROUPS))
    np.testing.assert_allclose(out.numpy(), _hand_prox(w, GROUPS, per_weight), rtol=1e-6)


# -- each training path against a hand-written step -------------------------------------------
def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 3] > 0).astype(np.int64) + (X[:, 1] > 1)
    return X, y


def _sequential(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def _first_weight(model: nn.Module) -> torch.Tensor:
    return next(p for n, p in model.named_parameters() if p.ndim == 2).detach()


def _fit(members: list[Member], stack: bool, **options: Any) -> list[Any]:
    """Train ``members`` on :func:`_data` (one full-batch SGD step without momentum unless
    ``options`` say otherwise), on the path the models and ``stack`` pick."""
    X, y = _data()
    settings = {"optimizer": "sgd", "momentum": 0.0, "lr": 0.5, "epochs": 1, "batch_size": len(X)}
    return train_many(
        members,
        X,
        y,
        X[:8],
        y[:8],
        device="cpu",
        verbose=0,
        stack=stack,
        **{**settings, **options},
    )


def _one_step(models: list[nn.Module], penalties: list[list[Any]], stack: bool) -> list[Any]:
    """One full-batch SGD step of every model."""
    return _fit([Member(m, p, seed=0) for m, p in zip(models, penalties)], stack)


def _reference_step(model: nn.Module, penalty: Any) -> torch.Tensor:
    """The same step by hand: autograd of loss + the penalty's term, then the prox."""
    X, y = (torch.from_numpy(a) for a in _data())
    model = copy.deepcopy(model)
    loss = F.cross_entropy(model(X), y)
    if not penalty.proximal:
        loss = loss + penalty(model)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.sub_(0.5 * p.grad)
    weight = next(p for n, p in model.named_parameters() if p.ndim == 2)
    if penalty.proximal:
        threshold = 0.5 * penalty.coefficients(penalty.strength)[0]
        if penalty.feature_groups is None:
            prox_l1_(weight.data, threshold)
        else:
            prox_group_l1_(weight.data, threshold, FeatureGroups(penalty.feature_groups))
    return weight.detach()


PATHS = ["stacked MLP", "generic", "torch.func stack"]


def _models(path: str) -> list[nn.Module]:
    if path == "stacked MLP":
        return [MLP((6, 5, 3), seed=0), MLP((6, 5, 3), seed=1)]
    return [_sequential(0), _sequential(1)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("proximal", [False, True])
def test_one_step_of_each_path_equals_the_hand_step(path: str, proximal: bool) -> None:
    penalty = L1(0.05, proximal=proximal, feature_groups=GROUPS)
    models = _models(path)
    before = [copy.deepcopy(m) for m in models]
    # the second member has plain L1: a stack holds both kinds side by side
    plain = L1(0.05, proximal=proximal)
    results = _one_step(models, [[penalty], [plain]], stack=path == "torch.func stack")
    for result, model, member_penalty in zip(results, before, [penalty, plain]):
        expected = _reference_step(model, member_penalty)
        torch.testing.assert_close(_first_weight(result.model), expected, rtol=1e-5, atol=1e-6)
    # the reported penalty is the group term (proximal or not)
    term = L1(0.05, feature_groups=GROUPS)(results[0].model).item()
    assert results[0].history[-1]["penalty"] == pytest.approx(term, rel=1e-5)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("proximal", [False, True])
def test_singleton_groups_train_exactly_as_plain_l1(path: str, proximal: bool) -> None:
    singles = L1(0.05, proximal=proximal, feature_groups=list(range(6)))
    plain = L1(0.05, proximal=proximal)
    grouped = _one_step(_models(path), [[singles], [singles]], stack=path == "torch.func stack")
    reference = _one_step(_models(path), [[plain], [plain]], stack=path == "torch.func stack")
    for a, b in zip(grouped, reference):
        torch.testing.assert_close(
            _first_weight(a.model), _first_weight(b.model), rtol=0, atol=1e-7
        )


class _StopAfterOneEpoch(Callback):
    def on_epoch_end(self, run: Any, **kwargs: Any) -> None:
        run.stop_training = True


def test_a_grouped_member_goes_on_alone_after_another_leaves_the_stack() -> None:
    """A torch.func stack slices its group-lasso coefficients when a member leaves it."""

    def fit(stack: bool) -> list[Any]:
        members = [
            Member(_sequential(0), [L1(0.05)], [_StopAfterOneEpoch()], seed=0),
            Member(_sequential(1), [L1(0.02, proximal=True, feature_groups=GROUPS)], seed=0),
            Member(_sequential(2), [ElasticNet(0.05, 0.5, feature_groups=GROUPS)], seed=0),
        ]
        return _fit(members, stack, optimizer="adam", lr=0.05, epochs=4, batch_size=16)

    stacked, alone = fit(True), fit(False)
    assert [r.epochs_run for r in stacked] == [1, 4, 4]
    for ours, reference in zip(stacked, alone):
        torch.testing.assert_close(
            _first_weight(ours.model), _first_weight(reference.model), rtol=1e-5, atol=1e-6
        )
        assert ours.history[-1]["penalty"] == pytest.approx(reference.history[-1]["penalty"])
    first = _first_weight(alone[1].model)
    blocks = [first[:, [j for j, g in enumerate(GROUPS) if g == k]] == 0 for k in range(3)]
    assert all((b.all(dim=1) | ~b.any(dim=1)).all() for b in blocks)  # zero per block


# -- end to end on a table --------------------------------------------------------------------
def _frame(n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    """Two informative numbers and an irrelevant categorical of six levels."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue", "black", "white", "grey"], size=n),
        }
    )
    y = (frame["x1"] - frame["x2"] + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
    return frame, y.to_numpy()


def test_proximal_group_lasso_drops_a_categorical_as_one_unit() -> None:
    frame, y = _frame()
    pre = TablePreprocessor(infer_schema(frame)).fit(frame)
    X = pre.transform(frame)
    color = pre.groups_["color"]
    assert len(color) == 6
    weights = {}
    for name, groups in (("grouped", group_ids(pre.groups_, X.shape[1])), ("plain", None)):
        model = LinearModel(X.shape[1], 1, seed=0)
        penalty = L1(0.01, proximal=True, feature_groups=groups)
        # full batches: the run converges to the problem's own solution
        train(
            model,
            X,
            y,
            X,
            y,
            penalties=[penalty],
            epochs=120,
            lr=0.1,
            batch_size=len(X),
            verbose=0,
            seed=0,
        )
        weights[name] = _first_weight(model)
    assert (weights["grouped"][:, color] == 0).all()  # every one-hot column, together
    assert (weights["grouped"][:, :2] != 0).all()  # the informative numbers stay
    assert (weights["plain"][:, color] != 0).any()  # element-wise L1 keeps some levels


def test_an_estimator_on_a_frame_groups_its_columns_and_saves_them(tmp_path: Any) -> None:
    frame, y = _frame()
    clf = RegularizedMLPClassifier(
        hidden_layer_sizes=(8,),
        l1=0.01,
        prox_l1=True,
        epochs=40,
        learning_rate=0.01,
        random_state=0,
    ).fit(frame, y)
    expected = group_ids(clf.preprocessor_.groups_, len(clf.preprocessor_.feature_names_out_))
    assert clf._penalties()[0].feature_groups == expected
    color = clf.preprocessor_.groups_["color"]
    # the prox acts per block: each unit keeps all of a column's levels or none of them
    zero = clf.model_.linears[0].weight.detach()[:, color] == 0
    assert (zero.all(dim=1) | ~zero.any(dim=1)).all() and zero.all(dim=1).sum() >= 4
    loaded = io.load(clf.save(tmp_path / "clf.safetensors"))
    assert loaded._penalties()[0].feature_groups == expected
    # numbers only: no groups, today's element-wise L1
    numeric = RegularizedMLPClassifier(hidden_layer_sizes=(8,), l1=0.01, epochs=1).fit(
        frame[["x1", "x2"]], y
    )
    assert numeric._penalties()[0].feature_groups is None


def test_a_table_run_and_the_advisor_set_the_groups() -> None:
    frame, y = _frame(120)
    data = frame.assign(target=np.where(y == 1, "yes", "no"))
    dataset, bundle = prepare_data(data, target="target")
    groups = table_groups(dataset)
    assert groups is not None and groups[2:] == [2] * 6
    summary = run(TrainConfig(data="t", model="linear", l1=0.01, epochs=1, verbose=0), dataset)
    assert summary.config.feature_groups == groups
    assert summary.config.penalties()[0].feature_groups == groups

    from regulab.advise._plan import plan_candidates

    plan = plan_candidates(dataset, bundle, None, False, ["color"], 60.0, 0, False)
    assert plan.base.feature_groups == groups
    # an important table column spares all its one-hot inputs (factors equal per group)
    assert plan.base.feature_factors == [1.0, 1.0] + [0.25] * 6
