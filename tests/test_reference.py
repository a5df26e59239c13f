"""Reference equivalence: Regulab's hand-written trainer against ``torch.nn`` + ``torch.optim``.

The stacked trainer computes layers with batched matmuls, adds penalty gradients in closed
form and runs the optimizer on one flat buffer. Each test here trains the same model, from
the same initial weights on the same batches, with PyTorch's own layers and optimizers, and
asserts that both end at the same weights (as PyTorch's ``test/test_optim.py`` checks its
fused optimizers against the for-loop one).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from regulab import L1, L2, MLP, ElasticNet, Member, WeightDecay, train_many
from regulab.penalties import Penalty, resolve
from regulab.training._common import _seeds
from regulab.training._stack import OptimizerSpec, StackedMLP

ROWS, BATCH, EPOCHS = 100, 50, 25  # 2 batches per epoch: 50 optimizer steps
ATOL = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _data(task: str, n_features: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, n_features)).astype(np.float32)
    signal = X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 3]
    if task == "regression":
        return X, (signal + 0.1 * rng.normal(size=ROWS)).astype(np.float32)
    return X, np.digitize(signal, [-1.0, 1.0]).astype(np.int64)  # three classes


def _reference_optimizer(model: MLP, name: str, lr: float, penalties: list[Penalty]) -> Any:
    """The torch.optim optimizer Regulab's options stand for (decay on weight matrices only)."""
    weights = [p for n, p in model.named_parameters() if n.startswith("linears.") and p.ndim == 2]
    others = [p for n, p in model.named_parameters() if not any(p is w for w in weights)]
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    decay = sum(p.wd for p in penalties if isinstance(p, WeightDecay)) or 0.01
    groups = [{"params": weights, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def _reference_run(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: str,
    lr: float,
    penalties: list[Penalty],
    seed: int,
) -> MLP:
    """Train with torch.nn and torch.optim on the batches Regulab's trainer draws."""
    task = model.architecture.task
    opt = _reference_optimizer(model, optimizer, lr, penalties)
    shuffle_seed, _ = _seeds(seed)
    shuffler = torch.Generator().manual_seed(shuffle_seed)
    features, targets = torch.from_numpy(X), torch.from_numpy(y)
    model.train()
    steps = 0
    for _ in range(EPOCHS):
        order = torch.randperm(ROWS, generator=shuffler)
        for start in range(0, ROWS, BATCH):
            index = order[start : start + BATCH]
            scores = model(features[index])
            if task == "regression":
                loss = F.mse_loss(scores[:, 0], targets[index])
            else:
                loss = F.cross_entropy(scores, targets[index])
            for penalty in penalties:
                if not isinstance(penalty, WeightDecay):  # decay is AdamW's weight_decay
                    loss = loss + penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            _reference_prox(model, opt, optimizer, lr, penalties, steps)
    model.eval()
    return model


@torch.no_grad()
def _reference_prox(
    model: MLP, opt: Any, name: str, lr: float, penalties: list[Penalty], steps: int
) -> None:
    """Soft-threshold by the documented rule, with torch.optim's own Adam state."""
    for penalty in (p for p in penalties if p.proximal):
        for layer, weight in enumerate(linear.weight for linear in model.linears):
            l1 = penalty.coefficients(penalty.layer_strength(layer))[0]
            if name == "sgd":
                threshold = l1 * lr * (1 - 0.9**steps) / (1 - 0.9)
            else:
                v_hat = opt.state[weight]["exp_avg_sq"] / (1 - 0.999**steps)
                threshold = l1 * lr / (v_hat.sqrt() + 1e-8)
            weight.copy_(weight.sign() * (weight.abs() - threshold).clamp(min=0))


def _regulab_run(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: str,
    lr: float,
    penalties: list[Penalty],
    seed: int,
) -> MLP:
    (result,) = train_many(
        [Member(model, penalties, seed=seed)],
        X,
        y,
        optimizer=optimizer,
        lr=lr,
        epochs=EPOCHS,
        batch_size=BATCH,
        validation_split=0.0,
        standardize_target=False,
        device="cpu",
        verbose=0,
    )
    return result.model


def _assert_same_weights(ours: MLP, reference: MLP) -> None:
    theirs = reference.state_dict()
    for name, value in ours.state_dict().items():
        torch.testing.assert_close(value, theirs[name], rtol=0, atol=ATOL, msg=name)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize(
    ("task", "spec", "penalties"),
    [
        ("classification", "6-16-8-3", []),
        ("classification", "6-16-3", [L2(1e-3), L1(1e-3)]),
        ("regression", "6-16-8-1", [ElasticNet(1e-3, 0.5, per_layer={1: 1e-2})]),
        ("regression", "6-1", [L2(1e-2, include_bias=True), WeightDecay(0.05)]),
        ("classification", "6-16-3", [L1(5e-3, proximal=True, per_layer={1: 1e-2})]),
        ("regression", "6-1", [ElasticNet(0.5, 0.8, proximal=True)]),
    ],
    ids=[
        "mlp",
        "l1+l2",
        "elastic-net-per-layer",
        "linear-bias-decay",
        "prox-l1-per-layer",
        "prox-elastic-net",
    ],
)
def test_trainer_matches_torch_optim(optimizer, task, spec, penalties):
    X, y = _data(task)
    model = MLP(spec, task=task, activation="tanh", seed=1)
    reference = copy.deepcopy(model)
    lr = 0.05 if optimizer == "sgd" else 1e-2
    options = {"optimizer": optimizer, "lr": lr, "seed": 3}
    if optimizer != "adamw" and any(isinstance(p, WeightDecay) for p in penalties):
        pytest.skip("decoupled decay has a torch.optim reference in AdamW only")
    ours = _regulab_run(model, X, y, penalties=penalties, **options)
    theirs = _reference_run(reference, X, y, penalties=penalties, **options)
    _assert_same_weights(ours, theirs)
    if any(p.proximal for p in penalties):  # the soft-threshold was exercised
        assert any(bool((linear.weight == 0).any()) for linear in ours.linears)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_every_member_of_a_stack_matches_its_torch_run(optimizer):
    X, y = _data("classification")
    lr = 0.05 if optimizer == "sgd" else 1e-2
    setups: list[tuple[int, list[Penalty]]] = [(0, []), (1, [L2(1e-2)]), (0, [L1(3e-3)])]
    models = [MLP("6-12-3", seed=10 + k) for k in range(len(setups))]
    references = [copy.deepcopy(model) for model in models]
    train_many(
        [Member(model, penalties, seed=seed) for model, (seed, penalties) in zip(models, setups)],
        X,
        y,
        optimizer=optimizer,
        lr=lr,
        epochs=EPOCHS,
        batch_size=BATCH,
        validation_split=0.0,
        device="cpu",
        verbose=0,
    )
    for model, reference, (seed, penalties) in zip(models, references, setups):
        theirs = _reference_run(
            reference, X, y, optimizer=optimizer, lr=lr, penalties=penalties, seed=seed
        )
        _assert_same_weights(model, theirs)


def test_batch_norm_running_statistics_match_torch():
    X, y = _data("classification")
    model = MLP("6-16-8-3", batchnorm=True, seed=2)
    reference = copy.deepcopy(model)
    options = {"optimizer": "adam", "lr": 1e-2, "seed": 0}
    ours = _regulab_run(model, X, y, penalties=[], **options)
    theirs = _reference_run(reference, X, y, penalties=[], **options)
    _assert_same_weights(ours, theirs)
    for hidden in ("0", "1"):
        assert int(ours.norms[hidden].num_batches_tracked) == EPOCHS * ROWS // BATCH
        assert int(theirs.norms[hidden].num_batches_tracked) == EPOCHS * ROWS // BATCH
    scores = torch.from_numpy(X)
    torch.testing.assert_close(ours(scores), theirs(scores), rtol=0, atol=ATOL)


def test_batch_norm_statistics_continue_from_the_loaded_count():
    X, y = _data("classification")
    model = MLP("6-8-3", batchnorm=True, seed=0)
    model.norms["0"].num_batches_tracked.fill_(7)
    train_many([Member(model)], X, y, epochs=2, batch_size=BATCH, validation_split=0, verbose=0)
    assert int(model.norms["0"].num_batches_tracked) == 7 + 2 * ROWS // BATCH


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_and_scaling_match_torch(rate):
    model = MLP("50-400-2", dropout=rate, input_dropout=rate, seed=0)
    stack = StackedMLP(
        model.architecture,
        [model],
        [resolve([], 2, 50)],
        [0],
        OptimizerSpec(),
        torch.device("cpu"),
    )
    ones = torch.ones(1, 400, 400)
    ours = stack._dropout(ones, 1)[0]
    theirs = torch.nn.Dropout(rate).train()(ones[0])
    for out in (ours, theirs):
        kept = out != 0
        # the keep rate is within 5 binomial standard errors of 1 - rate
        n = out.numel()
        assert abs(float(kept.float().mean()) - (1 - rate)) < 5 * (rate * (1 - rate) / n) ** 0.5
        assert torch.equal(out[kept], torch.full_like(out[kept], 1 / (1 - rate)))
    assert float(ours.mean()) == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps E[h]


def _penalty_gradients(model: MLP, penalties: list[Penalty]) -> dict[str, torch.Tensor]:
    """What the stack adds to the gradient buffer for these penalties, in MLP layout."""
    arch = model.architecture
    n_weights = len(arch.sizes) - 1
    stack = StackedMLP(
        arch,
        [model],
        [resolve(penalties, n_weights, arch.sizes[0])],
        [0],
        OptimizerSpec(),
        torch.device("cpu"),
    )
    stack.zero_grad()
    stack.add_penalty_gradients()
    gradients = {}
    for slot, grad in zip(stack.slots, stack.grads):
        value = grad[0].t() if slot.kind == "weight" else grad[0].reshape(-1)
        gradients[slot.name] = value.clone()
    return gradients


@pytest.mark.parametrize(
    "penalty",
    [
        L1(1e-2),
        L2(3e-2),
        ElasticNet(2e-2, 0.3),
        L1(1e-2, per_layer={0: 0.0, 2: 5e-2}),
        L2(1e-2, per_layer={1: 1.0}),
        L1(1e-2, feature_factors=[0.0, 1.0, 2.0, 0.5, 1.0, 3.0]),
        ElasticNet(1e-2, 0.6, feature_factors=[1.0, 0.0, 2.0, 1.0, 1.0, 1.0], per_layer={0: 0.1}),
        L2(1e-2, include_bias=True),
        ElasticNet(1e-2, 0.5, include_bias=True, per_layer={1: 0.0}),
    ],
    ids=repr,
)
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "batchnorm"])
def test_penalty_gradient_matches_autograd(penalty, batchnorm):
    model = MLP("6-9-7-3", batchnorm=batchnorm, seed=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)  # norm weights away from 1
    ours = _penalty_gradients(model, [penalty])
    model.zero_grad()
    penalty(model).backward()
    for name, parameter in model.named_parameters():
        expected = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
        torch.testing.assert_close(ours[name], expected, rtol=1e-6, atol=1e-7, msg=name)


def test_combined_penalties_add_their_gradients():
    model = MLP("6-9-3", seed=5)
    penalties: list[Penalty] = [L1(1e-2, per_layer={1: 0.2}), L2(1e-2, include_bias=True)]
    ours = _penalty_gradients(model, penalties)
    model.zero_grad()
    sum(p(model) for p in penalties).backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(ours[name], parameter.grad, rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_foreach_fallback_matches_the_fused_kernel_and_torch_optim(optimizer, monkeypatch):
    """Where the device has no fused Adam, the stack runs torch's foreach Adam: forced here,
    both kernels end at torch.optim's weights (proximal L1 reads the second moments too)."""
    from regulab.training import _stack

    assert _stack.fused_adam_available("cpu")  # the fused kernel is what the stack runs here
    X, y = _data("classification")
    penalties: list[Penalty] = [L1(5e-3, proximal=True), L2(1e-3)]
    model = MLP("6-16-3", activation="tanh", seed=1)
    copies = [copy.deepcopy(model) for _ in range(2)]
    options = {"optimizer": optimizer, "lr": 1e-2, "seed": 3}
    fused = _regulab_run(copies[0], X, y, penalties=penalties, **options)
    built: list[StackedMLP] = []
    original_init = StackedMLP.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(_stack, "fused_adam_available", lambda device: False)
    monkeypatch.setattr(StackedMLP, "__init__", recording_init)
    foreach = _regulab_run(copies[1], X, y, penalties=penalties, **options)
    assert built and not any(stack.fused_adam for stack in built)
    theirs = _reference_run(model, X, y, penalties=penalties, **options)
    _assert_same_weights(foreach, theirs)
    _assert_same_weights(fused, foreach)
