"""The in-memory trainer: one model, or many models of one architecture at once.

:func:`train_many` checks its arguments and dispatches: Regulab's ``MLP`` members train here
as one :class:`~regulab.training._stack.StackedMLP` per architecture; any other module goes
to :mod:`regulab.training._generic` (which stacks with ``torch.func`` where it pays). The
pieces every path shares live below them all, in :mod:`regulab.training._common`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

import torch
from torch import nn

from regulab.errors import DataError, InvalidParameterError, check_range, did_you_mean
from regulab.models import MLP, Architecture
from regulab.penalties import Penalty, WeightDecay, resolve, sparsity
from regulab.training._callbacks import Callback
from regulab.training._common import (
    _ADAMW_DEFAULT_DECAY,
    LoopSettings,
    Member,
    _check_model_fits,
    _features,
    _finish,
    _MemberRun,
    _seeds,
    _targets,
    _validation_split,
    available_metrics,
    end_stack_epoch,
    fit_result,
)
from regulab.training._generic import _reported_names, train_modules
from regulab.training._history import FitResult, TrainState
from regulab.training._metrics import (
    class_weights,
    member_losses,
    member_metrics,
    regression_losses,
)
from regulab.training._progress import Progress
from regulab.training._stack import OptimizerSpec, StackedMLP
from regulab.training._target import TargetScaling

__all__ = ["train", "train_many", "resolve_device", "OPTIMIZERS"]

OPTIMIZERS = ("adam", "adamw", "sgd")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    message = f"The 'device' parameter must be 'auto', 'cpu' or 'cuda[:N]'. Got {device!r} instead."
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise InvalidParameterError(message) from error
    if resolved.type not in ("cpu", "cuda"):  # e.g. 'mps': torch fails later, deep inside
        raise InvalidParameterError(message)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"Device {device!r} was requested but CUDA is not available.")
    return resolved


def train(
    model: nn.Module,
    X: Any,
    y: Any = None,
    X_val: Any = None,
    y_val: Any = None,
    *,
    penalties: Sequence[Penalty] = (),
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    **options: Any,
) -> FitResult:
    """Train one model on in-memory data.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place; its current weights are the starting point. Regulab's ``MLP`` and
        ``LinearModel`` take the stacked fast path; any other module, whose forward maps a
        batch of inputs to one row of scores per sample, trains with ``torch.optim``.
    X, y : array-like, tensor, or a torch Dataset and None
        Training data: float inputs (n, ...) of any shape for a custom module, (n, p) for
        an ``MLP``; integer class codes or float targets. ``X`` may be a
        ``torch.utils.data.Dataset`` of ``(input, target)`` pairs, with ``y`` None.
    X_val, y_val : array-like, optional
        Validation data. When absent, ``validation_split`` of the training rows is held out.
    penalties : sequence of Penalty
        ``L1``, ``L2``, ``ElasticNet``, ``WeightDecay``, combined.
    callbacks : sequence of Callback
        For example ``EarlyStopping("val_loss", patience=3)``.
    seed : int, default=0
        Seeds the shuffling and the dropout masks.
    **options
        ``optimizer`` (adam, adamw, sgd), ``lr``, ``momentum``, ``epochs``, ``batch_size``,
        ``validation_split``, ``device``, ``verbose``, ``feature_names``,
        ``column_groups``, ``task``, ``class_weight``: see :func:`train_many`.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import numpy as np
    >>> from regulab.models import MLP
    >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> result = train(MLP("4-8-2", seed=0), X, y, epochs=2, verbose=0)
    >>> result.epochs_run
    2
    """
    member = Member(model, penalties, callbacks, seed)
    options.setdefault("split_seed", seed)
    return train_many([member], X, y, X_val, y_val, **options)[0]


def train_many(
    members: Sequence[Member],
    X: Any,
    y: Any = None,
    X_val: Any = None,
    y_val: Any = None,
    *,
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    epochs: int = 10,
    batch_size: int = 32,
    validation_split: float = 0.1,
    split_seed: int = 0,
    device: str | torch.device = "auto",
    verbose: int = 1,
    feature_names: Sequence[str] | None = None,
    column_groups: Mapping[str, Sequence[int]] | None = None,
    threads: int = 1,
    standardize_target: bool = True,
    n_classes: int | None = None,
    task: str | None = None,
    stack: str | bool = "auto",
    class_weight: str | None = None,
) -> list[FitResult]:
    """Train several models on the same data; models of one architecture train as one stack.

    Each member keeps its own penalties, dropout rates, seed and callbacks, and ends exactly
    where it would have ended trained alone (within float rounding). A member that stops
    early leaves the stack, so the others speed up.

    Any ``torch.nn.Module`` trains here too: when a member is not an ``MLP``, every member
    trains in turn with ``torch.optim`` (see :mod:`regulab.training._generic`); inputs may
    then have any shape, or ``X`` may be a ``torch.utils.data.Dataset`` of
    ``(input, target)`` pairs with ``y`` None.

    Parameters
    ----------
    members : sequence of Member
    X, y, X_val, y_val
        As in :func:`train`.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``adamw`` is Adam with decoupled decay: a ``WeightDecay`` penalty sets its rate,
        otherwise PyTorch's default 0.01 applies. ``sgd`` uses ``momentum``.
    lr : float, default=1e-3
    momentum : float, default=0.9
    epochs : int, default=10
    batch_size : int, default=32
    validation_split : float, default=0.1
        Share of training rows held out when ``X_val`` is None (0 disables validation),
        stratified for classification (:func:`regulab.data.split`'s rule). Monitoring a
        ``val_*`` metric needs validation rows: with ``validation_split=0`` and no
        ``X_val``, ``EarlyStopping("val_loss")`` is refused before training starts.
    split_seed : int, default=0
        Seed of that hold-out split, shared by all members so they see the same data.
    device : str, default="auto"
    verbose : int, default=1
        0 silences the progress bar.
    feature_names : sequence of str, optional
        Names used to report dropped input features.
    column_groups : mapping of str to sequence of int, optional
        A table's original column -> its encoded input columns (``Dataset.table.groups``):
        the sparsity report then names the dropped original columns
        (:func:`~regulab.penalties.sparsity`). Needs ``feature_names``.
    threads : int, default=1
        CPU threads torch may use while training (the previous setting is restored).
        Regulab's models are small, so each step is dominated by per-operation overhead:
        a second thread gains about 1.1x on a quiet 2-core machine, and multi-threaded
        kernels slow down 10-100x when other processes compete for the cores. Raise it for
        wide models on an otherwise idle machine.
    standardize_target : bool, default=True
        Regression only: train on targets standardized with the training rows' mean and
        standard deviation, so that a penalty strength means the same on every data set;
        the returned model, the losses and the metrics stay in the target's units (see
        :mod:`regulab.training._target`).
    n_classes : int, optional
        Classification: the number of classes when ``y`` may not show them all (a batch of
        a stream, as in ``partial_fit``); by default ``max(y) + 1``, and ``y`` must hold
        at least two classes.
    task : {"classification", "regression"}, optional
        For modules other than Regulab's :class:`~regulab.models.MLP` (which carries its
        task): inferred from ``y`` when None, integer targets meaning classification.
    stack : {"auto", True, False}, default="auto"
        For modules other than Regulab's ``MLP`` (which always stack): whether members of
        one architecture train together as one ``torch.func`` stack (``vmap`` over their
        stacked weights) or one after the other. ``"auto"`` stacks on CUDA, and on the CPU
        when one member's step is small (:func:`regulab.training._vmap.plan_stacks`);
        with ``verbose`` a line says which path ran and why. Stacked members get their own
        dropout masks, seeded, but not those they would get alone; without dropout they
        end where they would alone, within float rounding.
    class_weight : {None, "balanced"}, default=None
        Classification: ``"balanced"`` weights each training row's loss by
        ``n_samples / (n_classes * count of its class)`` over the training rows (after the
        validation hold-out; scikit-learn's ``compute_class_weight``), and the loss is the
        weighted mean, as ``torch.nn.functional.cross_entropy(weight=...)`` computes it.
        The validation loss (early stopping, selection) stays unweighted.

    Returns
    -------
    list of FitResult
        In the order of ``members``.
    """
    if not members:
        raise InvalidParameterError("train_many needs at least one member.")
    if optimizer not in OPTIMIZERS:
        raise InvalidParameterError(
            f"The 'optimizer' parameter must be one of {', '.join(OPTIMIZERS)}. "
            f"Got {optimizer!r} instead." + did_you_mean(str(optimizer), OPTIMIZERS)
        )
    check_range("lr", lr, low=0.0, low_open=True, owner="train")
    check_range("momentum", momentum, low=0.0, high=1.0, high_open=True, owner="train")
    check_range("epochs", epochs, low=1, integer=True, owner="train")
    check_range("batch_size", batch_size, low=1, integer=True, owner="train")
    check_range(
        "validation_split", validation_split, low=0.0, high=1.0, high_open=True, owner="train"
    )
    if not any(stack is choice for choice in (True, False)) and stack != "auto":
        raise InvalidParameterError(
            f"The 'stack' parameter of train_many must be 'auto', True or False. "
            f"Got {stack!r} instead."
        )
    target = torch.device(resolve_device(device))
    spec = OptimizerSpec(optimizer, float(lr), float(momentum))
    generic = isinstance(X, torch.utils.data.Dataset)
    if generic or not all(isinstance(member.model, MLP) for member in members):
        with _torch_threads(threads):
            modules = train_modules(
                members,
                X,
                y,
                X_val,
                y_val,
                task=task,
                spec=spec,
                epochs=int(epochs),
                batch_size=int(batch_size),
                validation_split=validation_split,
                split_seed=split_seed,
                device=target,
                verbose=verbose,
                feature_names=feature_names,
                stack=stack,
                class_weight=class_weight,
            )
        return _by_column(modules, feature_names, column_groups)
    models = [cast(MLP, member.model) for member in members]
    task = models[0].architecture.task
    X_fit = _features(X, "X", target)
    y_fit = _targets(y, task, len(X_fit), "y", target)
    kinds = {
        model.architecture: _check_model_fits(model.architecture, X_fit, y_fit, n_classes)
        for model in models
    }
    X_v: torch.Tensor | None = None
    y_v: torch.Tensor | None = None
    if X_val is not None:
        X_v = _features(X_val, "X_val", target)
        if y_val is None:
            raise DataError("X_val was given without y_val; pass both or neither.")
        y_v = _targets(y_val, task, len(X_v), "y_val", target)
    elif validation_split > 0:
        X_fit, y_fit, X_v, y_v = _validation_split(X_fit, y_fit, validation_split, split_seed, task)
    weights = class_weights(class_weight, y_fit, task)
    fresh = TargetScaling.fit(y_fit) if task == "regression" and standardize_target else None
    groups: dict[tuple[Any, ...], list[int]] = {}
    scalings: dict[tuple[Any, ...], TargetScaling | None] = {}
    for index, (member, model) in enumerate(zip(members, models)):
        scaling = TargetScaling.of_model(model) or fresh
        steps = (member.state or TrainState()).steps
        key = (model.architecture, steps, scaling.key() if scaling else None)
        groups.setdefault(key, []).append(index)
        scalings[key] = scaling
    results: list[FitResult | None] = [None] * len(members)
    settings = LoopSettings(spec, int(epochs), int(batch_size), target, verbose, feature_names)
    with _torch_threads(threads):
        for key, indices in groups.items():
            arch, scaling = key[0], scalings[key]
            fitted = _train_stack(
                arch,
                kinds[arch],
                [members[i] for i in indices],
                _Data(X_fit, y_fit, X_v, y_v, scaling, weights),
                settings,
            )
            for i, result in zip(indices, fitted):
                results[i] = result
    return _by_column([r for r in results if r is not None], feature_names, column_groups)


def _by_column(
    results: list[FitResult],
    feature_names: Sequence[str] | None,
    groups: Mapping[str, Sequence[int]] | None,
) -> list[FitResult]:
    """``results`` with their dropped features named by a table's original columns
    (``groups``) where the model's first weight takes the ``feature_names`` as inputs."""
    if not groups:
        return results
    named = []
    for result in results:
        names = _reported_names(result.model, feature_names)
        if names is not None:
            result = replace(result, sparsity=sparsity(result.model, names, groups))
        named.append(result)
    return named


@dataclass
class _Data:
    """What a stack trains on; regression targets are standardized when ``scaling`` is set
    (the validation targets stay in their units: scores are mapped back instead);
    ``class_weight`` weighs the training loss per class (:func:`class_weights`)."""

    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor | None
    y_val: torch.Tensor | None
    scaling: TargetScaling | None
    class_weight: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.scaling is not None:
            self.y = self.scaling.standardize(self.y)


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Use ``threads`` CPU threads inside the block, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train_stack(
    arch: Architecture,
    kind: str,
    members: Sequence[Member],
    data: _Data,
    settings: LoopSettings,
) -> list[FitResult]:
    spec, epochs = settings.spec, settings.epochs
    batch_size, device = settings.batch_size, settings.device
    n_weights = len(arch.sizes) - 1
    coefficients = []
    for member in members:
        layers, others = resolve(member.penalties, n_weights, arch.sizes[0])
        has_decay = any(isinstance(p, WeightDecay) for p in member.penalties)
        if spec.name == "adamw" and not has_decay and not any(c.decay for c in layers):
            layers = [replace(c, decay=_ADAMW_DEFAULT_DECAY) for c in layers]
        coefficients.append((layers, others))
    seeds = [_seeds(member.seed) for member in members]
    stack = StackedMLP(
        arch,
        [cast(MLP, m.model) for m in members],
        coefficients,
        [dropout for _, dropout in seeds],
        spec,
        device,
    )
    shufflers = [torch.Generator().manual_seed(shuffle) for shuffle, _ in seeds]
    for k, member in enumerate(members):
        _resume(stack, k, member, shufflers[k], spec)
    X, y, X_val, y_val, scaling = data.X, data.y, data.X_val, data.y_val, data.scaling
    available = available_metrics(kind, X_val is not None)
    runs = [_MemberRun(available, stack, k) for k in range(len(members))]
    for member, run in zip(members, runs):
        for callback in member.callbacks:
            callback.on_train_begin(run)
    active = list(range(len(members)))
    has_norm = bool(arch.batchnorm)
    regression = kind == "regression"
    loss_units = scaling.loss_units(device) if scaling is not None else None
    started = time.perf_counter()
    progress = Progress(epochs, len(members), settings.verbose)
    n_rows = len(X)
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        perms = [torch.randperm(n_rows, generator=shufflers[k]) for k in active]
        shared = all(torch.equal(perms[0], p) for p in perms[1:])
        order = (perms[0] if shared else torch.stack(perms)).to(device)
        shape = (len(active), arch.sizes[-1]) if regression else (len(active),)
        loss_sum = torch.zeros(shape, device=device)
        n_batches = 0
        for start in range(0, n_rows, batch_size):
            index = order[..., start : start + batch_size]
            if has_norm and index.shape[-1] < 2:
                continue  # batch norm needs two samples; PyTorch raises on one
            xb, yb = X[index], y[index]
            if shared:
                yb = yb.unsqueeze(0).expand(len(active), *yb.shape)
            scores = stack.forward(xb, train=True)
            if regression:  # per target column, to report the loss in the target's units
                column_losses = regression_losses(scores, yb)
                losses = column_losses.mean(1)
            else:
                losses = member_losses(scores, yb, kind, data.class_weight)
            stack.zero_grad()
            losses.sum().backward()
            stack.add_penalty_gradients()
            stack.optimizer_step()
            loss_sum += (column_losses if regression else losses).detach()
            n_batches += 1
        if regression:
            loss_sum = (loss_sum if loss_units is None else loss_sum * loss_units).mean(1)
        train_loss = (loss_sum / max(n_batches, 1)).tolist()
        val = None
        if X_val is not None and y_val is not None:
            val_scores = stack.predict(X_val)
            if scaling is not None:
                val_scores = scaling.unstandardize(val_scores)
            val = member_metrics(val_scores, y_val, kind)
        penalty = stack.penalty_values().tolist()
        zero_share = stack.weight_sparsity().tolist()
        seconds = time.perf_counter() - epoch_start
        stopped = end_stack_epoch(
            runs, members, active, epoch, epochs, (train_loss, val, penalty, zero_share), seconds
        )
        progress.update(epoch, [runs[k].history[-1] for k in active], len(active) - len(stopped))
        for k in stopped:
            if members[k].state is not None:
                runs[k].train_state = _export(stack, runs[k].position, shufflers[k])
            _finish(runs[k], members[k], epochs)
        if stopped:
            active = [k for k in active if k not in stopped]
            if not active:
                break
            stack.keep([runs[k].position for k in active])
            for position, k in enumerate(active):
                runs[k].position = position
    progress.close()
    total = time.perf_counter() - started
    return [
        _result(member, run, total, settings.feature_names, scaling)
        for member, run in zip(members, runs)
    ]


def _resume(
    stack: StackedMLP,
    k: int,
    member: Member,
    shuffler: torch.Generator,
    spec: OptimizerSpec,
) -> None:
    """Put member ``k``'s optimizer and random streams where its ``state`` left them."""
    state = member.state
    if state is None:
        return
    if state.steps:
        if state.optimizer != spec.name:
            raise InvalidParameterError(
                f"Cannot continue training with optimizer {spec.name!r}: the state to "
                f"continue from belongs to {state.optimizer!r}. Start from a fresh "
                "TrainState() to change optimizers."
            )
        stack.load_optimizer_state(k, state.buffers, state.steps)
    if state.shuffle_rng is not None:
        shuffler.set_state(state.shuffle_rng)
    if state.dropout_rng is not None:
        stack.generators[k].set_state(state.dropout_rng)


def _export(stack: StackedMLP, position: int, shuffler: torch.Generator) -> TrainState:
    return TrainState(
        optimizer=stack.optimizer.name,
        steps=stack.steps,
        buffers=stack.optimizer_state(position),
        shuffle_rng=shuffler.get_state(),
        dropout_rng=stack.generators[position].get_state(),
    )


def _result(
    member: Member,
    run: _MemberRun,
    seconds: float,
    feature_names: Sequence[str] | None,
    scaling: TargetScaling | None,
) -> FitResult:
    model = member.model
    assert run.final_state is not None and run.stop_reason is not None
    buffers = {name: value for name, value in model.named_buffers() if name.startswith("target_")}
    if scaling is not None:
        buffers.update(scaling.buffers())
    model.load_state_dict({**run.final_state, **buffers})
    model.eval()
    return fit_result(run, member, model, seconds, feature_names, state=run.train_state)
