"""Class weighting (``class_weight="balanced"``) against scikit-learn's weights and
``torch.nn.functional``'s weighted losses, on every training path."""

from __future__ import annotations

import copy
import importlib
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

from regulab import MLP, Member, train, train_many
from regulab._terminal import label_key, short_label
from regulab.advise import advise
from regulab.advise._code import code_snippets
from regulab.advise._plan import plan_candidates
from regulab.advise._refit import save_refit, train_command
from regulab.advise._search import build_config
from regulab.config import TrainConfig
from regulab.data import Dataset, split
from regulab.errors import InvalidParameterError
from regulab.experiment._runner import (
    DataBundle,
    RunSpec,
    fresh_models,
    solved_exactly,
    train_stack,
)
from regulab.experiment._techniques import parse_techniques
from regulab.training._common import _seeds
from regulab.training._metrics import class_weights, member_losses

ROWS, BATCH = 60, 30  # two optimizer steps per epoch
TOL = 1e-6


def _data(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, 5)).astype(np.float32)
    shares = [0.7, 0.2, 0.1][:n_classes] if n_classes > 2 else [0.85, 0.15]
    y = rng.choice(n_classes, size=ROWS, p=np.array(shares) / sum(shares)).astype(np.int64)
    return X, y


def _reference_loss(scores: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """torch's own weighted losses: cross_entropy(weight=w), or per-sample weighted BCE
    normalised by the weights' sum for a one-logit head."""
    if scores.shape[1] == 1:
        per_row = w[y]
        bce = F.binary_cross_entropy_with_logits(
            scores[:, 0], y.float(), weight=per_row, reduction="sum"
        )
        return bce / per_row.sum()
    return F.cross_entropy(scores, y, weight=w)


def test_balanced_weights_are_sklearns():
    y = np.array([0, 0, 0, 0, 1, 2, 2, 0, 0, 1])
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    got = class_weights("balanced", torch.from_numpy(y), "classification")
    assert got is not None
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    assert class_weights(None, torch.from_numpy(y), "classification") is None


@pytest.mark.parametrize("n_out", [1, 2, 3])
def test_weighted_loss_and_gradient_match_torch(n_out):
    torch.manual_seed(0)
    y = torch.tensor([0, 0, 0, 1, 0, 1, 0, 0, 2, 0])
    y = y.clamp(max=max(n_out - 1, 1))
    w = class_weights("balanced", y, "classification")
    assert w is not None
    kind = "binary" if n_out == 1 else "multiclass"
    base = torch.randn(2, len(y), n_out)
    ours_in = base.clone().requires_grad_(True)
    ref_in = base.clone().requires_grad_(True)
    ours = member_losses(ours_in, y.expand(2, -1), kind, w)
    reference = torch.stack([_reference_loss(ref_in[k], y, w) for k in range(2)])
    torch.testing.assert_close(ours, reference, atol=TOL, rtol=TOL)
    ours.sum().backward()
    reference.sum().backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, atol=TOL, rtol=TOL)


def test_unweighted_loss_is_bit_identical_to_the_plain_mean():
    scores, y = torch.randn(3, 8, 4), torch.randint(0, 4, (3, 8))
    plain = F.cross_entropy(scores.reshape(24, 4), y.reshape(-1), reduction="none").view(3, 8)
    assert torch.equal(member_losses(scores, y, "multiclass"), plain.mean(1))


def _torch_run(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> None:
    """Adam with torch.optim on Regulab's batches, loss weighted with torch's own losses."""
    features, targets = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.as_tensor(
        compute_class_weight("balanced", classes=np.unique(y), y=y), dtype=torch.float32
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    shuffler = torch.Generator().manual_seed(_seeds(seed)[0])
    model.train()
    for _ in range(epochs):
        order = torch.randperm(ROWS, generator=shuffler)
        for start in range(0, ROWS, BATCH):
            index = order[start : start + BATCH]
            loss = _reference_loss(
                model(features[index]).reshape(len(index), -1), targets[index], w
            )
            opt.zero_grad()
            loss.backward()
            opt.step()


def _module(n_out: int) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, n_out))


@pytest.mark.parametrize("n_classes,n_out", [(2, 1), (3, 3)])
@pytest.mark.parametrize("path", ["stacked", "generic", "vmap"])
def test_weighted_run_matches_torch_optim(n_classes, n_out, path):
    X, y = _data(n_classes)
    model = MLP([5, 8, n_out], seed=0) if path == "stacked" else _module(n_out)
    reference = copy.deepcopy(model)
    options = {} if path == "stacked" else {"stack": path == "vmap", "task": "classification"}
    train_many(
        [Member(model, seed=3)],
        X,
        y,
        lr=1e-2,
        epochs=2,
        batch_size=BATCH,
        validation_split=0.0,
        verbose=0,
        device="cpu",
        class_weight="balanced",
        **options,
    )
    _torch_run(reference, X, y, epochs=2, seed=3)
    for (name, ours), theirs in zip(model.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(ours, theirs, atol=TOL, rtol=TOL, msg=name)


def test_default_is_bit_identical_and_balanced_changes_the_run():
    X, y = _data(2)
    runs = {}
    for name, options in {
        "plain": {},
        "none": {"class_weight": None},
        "cw": {"class_weight": "balanced"},
    }.items():
        result = train(MLP([5, 8, 2], seed=0), X, y, epochs=2, verbose=0, device="cpu", **options)
        runs[name] = result.model.state_dict()
    assert all(torch.equal(runs["plain"][k], runs["none"][k]) for k in runs["plain"])
    assert not all(torch.equal(runs["plain"][k], runs["cw"][k]) for k in runs["plain"])


def test_validation_loss_stays_unweighted():
    X, y = _data(2)
    result = train(
        MLP([5, 8, 2], seed=0),
        X[:40],
        y[:40],
        X[40:],
        y[40:],
        epochs=1,
        verbose=0,
        device="cpu",
        class_weight="balanced",
    )
    with torch.no_grad():
        scores = result.model(torch.from_numpy(X[40:]))
    plain = F.cross_entropy(scores, torch.from_numpy(y[40:]))
    assert result.history[-1]["val_loss"] == pytest.approx(float(plain), abs=TOL)


def test_class_weight_is_refused_where_it_means_nothing():
    X, y = _data(2)
    with pytest.raises(InvalidParameterError, match="'balanced'. Got 'auto'"):
        train(MLP([5, 4, 2], seed=0), X, y, epochs=1, verbose=0, class_weight="auto")
    with pytest.raises(InvalidParameterError, match="regression"):
        train(
            MLP([5, 4, 1], task="regression", seed=0),
            X,
            y.astype(np.float32),
            epochs=1,
            verbose=0,
            class_weight="balanced",
        )


def _table(positive_share: float, rows: int = 400) -> tuple[Dataset, DataBundle]:
    rng = np.random.default_rng(0)
    y = np.zeros(rows, np.int64)
    y[: int(positive_share * rows)] = 1
    y = y[rng.permutation(rows)]
    X = rng.normal(size=(rows, 6)).astype(np.float32)
    X[:, :2] += 2.0 * y[:, None]
    data = Dataset(X, y, "classification", [f"x{i}" for i in range(6)], "t", ["no", "yes"])
    splits = split(data, val_size=0.2, test_size=0.2, seed=0)
    return data, DataBundle.from_splits(splits, "classification", 2, data.feature_names)


def _candidates(positive_share: float, model: str | None = "6-8-2") -> list[str]:
    data, bundle = _table(positive_share)
    plan = plan_candidates(data, bundle, model, False, (), 3600.0, 0, cross_validate=True)
    return plan.candidates


def test_a_rare_class_adds_class_weighted_candidates_that_round_trip():
    rare = _candidates(0.06)
    weighted = [name for name in rare if "balanced" in name.split("+")]
    assert 1 <= len(weighted) <= 2
    assert "balanced+early_stopping" in weighted or "balanced" in weighted
    for name in weighted:
        config = build_config(TrainConfig(), name, (6, 2))
        assert config.class_weight == "balanced"
        assert parse_techniques(name) == [name]
        assert short_label(name).endswith("CW")
    assert "CW: balanced class weights" in label_key([short_label(n) for n in weighted])


def test_balanced_data_gets_no_class_weighted_candidate():
    assert not any("balanced" in name for name in _candidates(0.5))


def test_a_class_weighted_config_trains_through_the_runner_and_refit_surfaces():
    data, bundle = _table(0.06)
    config = replace(build_config(TrainConfig(model="linear"), "balanced", (6, 2)), epochs=2)
    spec = RunSpec("balanced", config, 0)
    (model,) = fresh_models([spec], bundle)
    assert solved_exactly([spec], [model]) == [False]  # the exact solver weighs no class
    (result,) = train_stack([spec], [model], bundle)
    assert result.epochs_run == 2
    assert "--class-weight balanced" in train_command(
        config, [6, 2], {"name": "t", "task": "classification"}, 2, False
    )
    snippets = code_snippets(config, [6, 2])
    assert 'class_weight="balanced"' in snippets["regulab"]
    assert "weight=weight)" in snippets["pytorch"]
    assert "class_weight=class_weight" in snippets["keras"]


def test_class_weighted_advice_names_a_weighted_estimator(monkeypatch, tmp_path):
    searching = importlib.import_module("regulab.advise._search")
    monkeypatch.setattr(searching, "_estimate_epoch_seconds", lambda bundle, specs: 1e-3)
    monkeypatch.setattr(searching, "_MAX_EPOCHS_SMALL", 3)
    monkeypatch.setattr(searching, "_CV_MAX_REPEATS", 0)
    monkeypatch.setattr(searching, "strength_search", lambda leader, *a, **k: ([], "skipped"))
    monkeypatch.setattr(searching, "_strength_variants", lambda name, wide=False: [])
    data, _ = _table(0.06)
    advice = advise(data, model="6-8-2", budget="1h", seeds=2, verbose=0)
    assert any("balanced" in row["config"] for row in advice.evidence)
    weighted = replace(advice, config=replace(advice.config, class_weight="balanced"))
    assert weighted.estimator().class_weight == "balanced"
    recommendation = weighted.to_json()["recommendation"]
    assert recommendation["params"]["class_weight"] == "balanced"
    assert recommendation["estimator"].endswith("Classifier")
    assert "--class-weight balanced" in recommendation["train_command"]
    assert save_refit(weighted, data, tmp_path / "model").exists()
