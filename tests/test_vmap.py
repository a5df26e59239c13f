"""Several configs of any module at once: the torch.func stack against members trained alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from regulab.config import TrainConfig
from regulab.errors import InvalidParameterError
from regulab.experiment import RunSpec, compare, make_tasks, prepare_data
from regulab.penalties import L1, L2, ElasticNet, WeightDecay
from regulab.training import EarlyStopping, FitResult, Member, plan_stacks, train_many
from regulab.training._vmap import CPU_STACK_MAX_MACS, module_signature

CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _images(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1, 6, 6)).astype(np.float32)
    y = (X[:, 0, :3].mean(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 0, 0, 0] > 1)
    return X, y.astype(np.int64)


def _conv_net(seed: int, channels: int = 3, dropout: float = 0.0) -> nn.Module:
    """Batch norm after a bias-free convolution (a bias there gets a gradient of float noise
    only, which Adam blows up to full steps: no two summation orders agree on it)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.Dropout(dropout) if dropout else nn.Identity(),
        nn.Flatten(),
        nn.Linear(channels * 16, 3),
    )


def _members() -> list[Member]:
    """Different penalties, proximal L1, decay, early-stopping patience and one other seed."""
    return [
        Member(_conv_net(0), [], [EarlyStopping("val_loss", patience=1)], seed=0),
        Member(_conv_net(1), [L2(1e-2)], [EarlyStopping("val_loss", patience=2)], seed=0),
        Member(_conv_net(2), [L1(1e-2, proximal=True)], [], seed=0),
        Member(
            _conv_net(3),
            [ElasticNet(1e-2, l1_ratio=0.5), WeightDecay(1e-2)],
            [EarlyStopping("val_loss", patience=3)],
            seed=1,
        ),
    ]


def _train(stack: bool, optimizer: str, members: list[Member] | None = None) -> list[FitResult]:
    """(A larger SGD step lets the subgradient L1 flip a weight's sign around zero on a
    rounding difference, and the two paths drift apart from there, as any two summation
    orders would.)"""
    X, y = _images()
    X_val, y_val = _images(40, seed=1)
    return train_many(
        members or _members(),
        X,
        y,
        X_val,
        y_val,
        optimizer=optimizer,
        lr=0.02 if optimizer == "sgd" else 1e-2,
        epochs=8,
        batch_size=16,
        device="cpu",
        verbose=0,
        stack=stack,
    )


def _max_difference(a: nn.Module, b: nn.Module) -> float:
    return max(
        float((a.state_dict()[k].double() - v.double()).abs().max())
        for k, v in b.state_dict().items()
    )


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_stacked_members_end_where_they_end_alone(optimizer: str) -> None:
    stacked, alone = _train(True, optimizer), _train(False, optimizer)
    for ours, reference in zip(stacked, alone):
        assert ours.epochs_run == reference.epochs_run
        assert ours.best_epoch == reference.best_epoch
        assert ours.stop_reason == reference.stop_reason
        # weights and running statistics (batch norm's buffers are the stack's, per member)
        assert _max_difference(ours.model, reference.model) < 1e-5
        assert ours.sparsity == reference.sparsity
        for a, b in zip(ours.history, reference.history):
            assert a.keys() == b.keys()
            for key in a.keys() - {"seconds"}:
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    # the members really differ: proximal L1 zeroes weights, early stopping ends runs apart
    assert alone[2].sparsity.total > 0
    assert len({r.epochs_run for r in alone}) > 1 or len({r.best_epoch for r in alone}) > 1


def test_each_member_keeps_its_own_running_statistics() -> None:
    results = _train(True, "adam")
    means = [r.model[1].running_mean for r in results]
    assert not torch.allclose(means[0], means[1])
    assert all(int(r.model[1].num_batches_tracked) > 0 for r in results)


def test_dropout_in_a_stack_is_seeded_and_differs_per_member() -> None:
    def run() -> list[FitResult]:
        twins = [Member(_conv_net(0, dropout=0.5), seed=0) for _ in range(2)]
        return _train(True, "adam", twins)

    first, second = run(), run()
    for a, b in zip(first, second):
        assert _max_difference(a.model, b.model) == 0.0
        assert a.history.column("loss") == b.history.column("loss")
    # the same start and seed: only their dropout masks can set the twins apart
    assert _max_difference(first[0].model, first[1].model) > 0


def test_other_architectures_train_in_turn(capsys: pytest.CaptureFixture[str]) -> None:
    members = [Member(_conv_net(0), seed=0), Member(_conv_net(1, channels=4), seed=0)]
    X, y = _images()
    results = train_many(members, X, y, epochs=2, batch_size=16, device="cpu", verbose=1)
    assert "1 Sequential member trains alone (no other of its architecture)." in (
        capsys.readouterr().err
    )
    alone = train_many(
        [Member(_conv_net(0), seed=0), Member(_conv_net(1, channels=4), seed=0)],
        X,
        y,
        epochs=2,
        batch_size=16,
        device="cpu",
        verbose=0,
        stack=False,
    )
    for ours, reference in zip(results, alone):
        assert _max_difference(ours.model, reference.model) == 0.0


class _DataDependent(nn.Module):
    """A forward that branches on a value: fine alone, impossible under vmap."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) if x.sum().item() > -1e9 else -self.linear(x)


def test_plan_stacks_policy() -> None:
    sample = torch.zeros(4, 1, 6, 6)
    small = [_conv_net(0), _conv_net(1)]
    groups = plan_stacks(small, CPU, "auto", sample, 16).groups
    assert [(ids, stacked) for ids, stacked, _ in groups] == [([0, 1], True)]
    assert plan_stacks(small, CPU, False, sample, 16).groups[0][1:] == (
        False,
        "2 Sequential members train one after the other (stack=False).",
    )
    # on the CPU a large step trains in turn, unless asked; on CUDA it stacks
    batch = CPU_STACK_MAX_MACS  # a conv net's forward takes far more than 1 MAC per sample
    stacked, why = plan_stacks(small, CPU, "auto", sample, batch).groups[0][1:]
    assert not stacked and "up to which stacking pays" in why
    assert plan_stacks(small, CPU, True, sample, batch).groups[0][1]
    assert plan_stacks(small, torch.device("cuda"), "auto", sample, batch).groups[0][1]
    # a forward vmap cannot run falls back, with the reason
    odd = [_DataDependent(), _DataDependent()]
    stacked, why = plan_stacks(odd, CPU, True, torch.zeros(4, 4), 16).groups[0][1:]
    assert not stacked and "does not run under torch.func.vmap" in why


def test_signature_sees_dropout_rates_and_plain_attributes() -> None:
    assert module_signature(_conv_net(0)) == module_signature(_conv_net(5))
    rates = [module_signature(_conv_net(0, dropout=rate)) for rate in (0.1, 0.2)]
    assert rates[0] != rates[1]
    a, b = _DataDependent(), _DataDependent()
    b.scale = 2.0  # type: ignore[assignment]
    assert module_signature(a) != module_signature(b)


def test_a_forward_vmap_cannot_run_still_trains() -> None:
    X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    torch.manual_seed(0)
    members = [Member(_DataDependent(), seed=0), Member(_DataDependent(), seed=1)]
    results = train_many(members, X, y, epochs=2, device="cpu", verbose=0, stack=True)
    assert [r.epochs_run for r in results] == [2, 2]


def test_bad_stack_value() -> None:
    X, y = _images()
    with pytest.raises(InvalidParameterError) as error:
        train_many([Member(_conv_net(0))], X, y, stack="yes")
    assert str(error.value) == (
        "The 'stack' parameter of train_many must be 'auto', True or False. Got 'yes' instead."
    )


def test_custom_runs_of_one_architecture_form_one_task(monkeypatch: Any) -> None:
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    _, data = prepare_data("digits", max_train=200)
    model = "user_models:make_net"
    specs = [
        RunSpec(name, config, seed)
        for name, config in (
            ("none", TrainConfig(model=model, epochs=1)),
            ("l2", TrainConfig(model=model, epochs=1, l2=1e-3)),
            ("dropout", TrainConfig(model=model, epochs=1, dropout=(0.2,))),
        )
        for seed in (0, 1)
    ]
    tasks = make_tasks(specs, data=data)
    assert sorted(sorted(s.config_name for s in task) for task in tasks) == [
        ["dropout", "dropout"],
        ["l2", "l2", "none", "none"],
    ]
    assert [len(task) for task in make_tasks(specs)] == [1] * 6  # without data: in turn


def test_compare_says_which_runs_stacked(monkeypatch: Any) -> None:
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    result = compare(
        "digits",
        "none,l2",
        model="user_models:make_net",
        seeds=2,
        epochs=2,
        max_train=200,
        verbose=0,
        device="cpu",
    )
    assert (
        "Runs of the custom model: none, l2: 4 Sequential members train together as one "
        "torch.func stack (stack='auto' on cpu)."
    ) in result.notes
