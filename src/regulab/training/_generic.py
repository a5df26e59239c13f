"""The trainer for any ``torch.nn.Module``: one member after the other, with ``torch.optim``.

:func:`~regulab.training.train` and :func:`~regulab.training.train_many` send every model
that is not Regulab's own :class:`~regulab.models.MLP` here. Inputs may have any shape
(``(n, 1, 28, 28)`` for a convolutional network) or come as a ``torch.utils.data.Dataset``
of ``(input, target)`` pairs, which is read into memory once. The module's forward must map
a batch of inputs to one row of scores per sample: logits for classification, values for
regression.

Everything else works as in the stacked trainer: penalties get their closed-form gradients
after the backward pass (per-layer strengths and ``feature_factors`` included; on a
convolution the factors scale input channels), proximal L1 soft-thresholds after each step
in the same units, decoupled decay is applied before the step as ``torch.optim.AdamW`` does,
callbacks see the same :class:`~regulab.training.Run`, and the history holds the same keys.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from regulab._groups import check_dense
from regulab.errors import DataError, InvalidParameterError
from regulab.models import MLP, TASKS
from regulab.penalties import LayerCoefficients, penalized_weights, resolve
from regulab.training._common import (
    _ADAMW_DEFAULT_DECAY,
    LoopSettings,
    Member,
    _check_model_fits,
    _seeds,
    _targets,
    _validation_split,
    available_metrics,
    check_outputs,
    end_epoch,
    end_training,
    epoch_record,
    fit_result,
)
from regulab.training._history import FitResult, History, StopReason
from regulab.training._metrics import class_weights, member_losses, member_metrics
from regulab.training._progress import Progress
from regulab.training._stack import (
    OptimizerSpec,
    add_coupled_gradient_,
    optimizer_prox_,
    penalty_terms,
)
from regulab.training._vmap import plan_stacks, train_stacked

__all__ = ["train_modules", "infer_task", "module_inputs", "module_scores", "check_fits"]

_CHUNK = 4096


def infer_task(y: Any) -> str:
    """``"classification"`` for integer or boolean targets, ``"regression"`` for floats.

    Examples
    --------
    >>> infer_task(np.array([0, 1, 2])), infer_task(np.array([0.5, 1.0]))
    ('classification', 'regression')
    """
    dtype = y.dtype if isinstance(y, (np.ndarray, torch.Tensor)) else np.asarray(y).dtype
    if isinstance(dtype, torch.dtype):
        return "regression" if dtype.is_floating_point else "classification"
    return (
        "classification" if np.issubdtype(dtype, np.integer) or dtype == np.bool_ else "regression"
    )


def _materialize(dataset: torch.utils.data.Dataset, name: str) -> tuple[Any, Any]:
    """Read a map-style dataset of ``(input, target)`` pairs into two stacked tensors."""
    try:
        size = len(dataset)  # type: ignore[arg-type]
    except TypeError as error:
        raise DataError(
            f"{name} is a torch Dataset without a length; Regulab's trainer needs a map-style "
            "dataset of (input, target) pairs."
        ) from error
    inputs, targets = [], []
    for index in range(size):
        item = dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise DataError(
                f"{name}[{index}] must be an (input, target) pair; got {type(item).__name__}."
            )
        inputs.append(torch.as_tensor(item[0]))
        targets.append(torch.as_tensor(item[1]))
    if not inputs:
        raise DataError(f"{name} is an empty dataset.")
    return torch.stack(inputs), torch.stack(targets)


def module_inputs(X: Any, name: str, device: torch.device) -> torch.Tensor:
    """Float inputs of any shape ``(n, ...)``, checked for NaN and infinite values.

    Examples
    --------
    >>> module_inputs(np.zeros((3, 1, 2, 2)), "X", torch.device("cpu")).shape
    torch.Size([3, 1, 2, 2])
    """
    array = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float32)
    if array.ndim < 2:
        raise DataError(
            f"{name} must have a sample axis and at least one input axis; got shape {array.shape}."
        )
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        raise DataError(f"{name} has {int(bad.sum())} samples with NaN or infinite values.")
    return torch.from_numpy(array).to(device)


@dataclass
class _ModuleRun:
    """The :class:`~regulab.training.Run` of one module trained in place."""

    model: nn.Module
    available_metrics: list[str]
    history: History = field(default_factory=History)
    stop_training: bool = False
    stop_reason: StopReason | None = None
    stop_message: str = ""
    best_epoch: int | None = None

    def get_weights(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def set_weights(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)


def _shaped(value: float | torch.Tensor, weight: torch.Tensor) -> float | torch.Tensor:
    """Per-input factors ``(inputs,)`` laid along a weight's input axis (axis 1 of both
    ``nn.Linear``'s ``(out, in)`` and ``nn.Conv*``'s ``(out, in, *kernel)``)."""
    if not isinstance(value, torch.Tensor):
        return value
    return value.to(weight).view(1, -1, *([1] * (weight.ndim - 2)))


class _Penalized:
    """The penalized tensors of one module and what each receives."""

    def __init__(self, model: nn.Module, penalties: Sequence[Any], optimizer: str) -> None:
        weights = [p for _, p in penalized_weights(model)]
        n_inputs = weights[0].shape[1] if weights else 0
        layers, others = resolve(penalties, len(weights), n_inputs)
        if optimizer == "adamw" and not any(c.decay for c in layers):
            layers = [replace(c, decay=_ADAMW_DEFAULT_DECAY) for c in layers]
        weight_ids = {id(w) for w in weights}
        pairs = list(zip(weights, layers)) + [
            (p, others) for p in model.parameters() if id(p) not in weight_ids
        ]
        self.weights = weights
        self.entries = [(p, _coefficients(p, c), c.decay) for p, c in pairs if c.active]
        self.coupled = [
            (p, coefs) for p, coefs, _ in self.entries if "l1" in coefs or "l2" in coefs
        ]
        self.proximal = [
            (p, coefs["prox_l1"], coefs.get("groups"))
            for p, coefs, _ in self.entries
            if "prox_l1" in coefs
        ]
        self.decayed = [(p, decay) for p, _, decay in self.entries if decay]

    def decay_groups(self, params: list[nn.Parameter]) -> list[dict[str, Any]]:
        """AdamW parameter groups: one per decay rate (undecayed tensors get rate 0)."""
        rates = {id(p): decay for p, _, decay in self.entries}
        groups: dict[float, list[nn.Parameter]] = {}
        for p in params:
            groups.setdefault(rates.get(id(p), 0.0), []).append(p)
        return [{"params": ps, "weight_decay": rate} for rate, ps in groups.items()]

    @torch.no_grad()
    def add_gradients(self) -> None:
        """Add the closed-form gradient of the coupled L1/L2 terms."""
        for p, coefs in self.coupled:
            add_coupled_gradient_(p, coefs)

    @torch.no_grad()
    def decay(self, lr: float) -> None:
        """Decoupled decay ``w <- w - lr * wd * w`` (for Adam and SGD; AdamW does its own)."""
        for p, decay in self.decayed:
            p.mul_(1.0 - lr * decay)

    @torch.no_grad()
    def prox(self, optimizer: torch.optim.Optimizer, spec: OptimizerSpec, steps: int) -> None:
        """Soft-threshold after optimizer step number ``steps`` by the stacked trainer's one
        rule (:func:`regulab.training._stack.prox_threshold`)."""
        for p, prox, groups in self.proximal:
            optimizer_prox_(optimizer, p, spec, steps, prox, groups)

    @torch.no_grad()
    def value(self) -> float:
        """The penalty term, proximal L1 included."""
        total = 0.0
        for p, coefs, _ in self.entries:
            total += sum(float(term.sum()) for term in penalty_terms(p, coefs))
        return total

    @torch.no_grad()
    def zero_share(self) -> float:
        count = sum(w.numel() for w in self.weights)
        return sum(int((w == 0).sum()) for w in self.weights) / count if count else 0.0


def _nonzero(value: float | torch.Tensor) -> bool:
    return bool(value.abs().sum() > 0) if isinstance(value, torch.Tensor) else value != 0.0


def _coefficients(p: torch.Tensor, c: LayerCoefficients) -> dict[str, Any]:
    """The non-zero coefficients of one tensor, laid along its input axis, and the groups
    of a grouped first layer (a dense ``(out, in)`` weight: inputs on the last axis)."""
    coefs: dict[str, Any] = {
        name: _shaped(getattr(c, name), p)
        for name in ("l1", "l2", "prox_l1")
        if _nonzero(getattr(c, name))
    }
    if c.groups is not None and ("l1" in coefs or "prox_l1" in coefs):
        check_dense(p)
        coefs["groups"] = c.groups.to(p.device)
    return coefs


def _optimizer(
    model: nn.Module, penalized: _Penalized, spec: OptimizerSpec
) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.name == "adamw":
        return torch.optim.AdamW(
            penalized.decay_groups(params), lr=spec.lr, betas=spec.betas, eps=spec.eps
        )
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, eps=spec.eps)
    return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)


@torch.no_grad()
def module_scores(model: nn.Module, X: torch.Tensor, chunk: int = _CHUNK) -> torch.Tensor:
    """Eval-mode scores ``(n, outputs)`` in chunks of rows (the mode is restored after)."""
    was_training = model.training
    model.eval()
    parts = [_rows(model(X[i : i + chunk]), len(X[i : i + chunk])) for i in range(0, len(X), chunk)]
    model.train(was_training)
    return torch.cat(parts)


def _rows(scores: torch.Tensor, n: int) -> torch.Tensor:
    """Scores as ``(n, outputs)``; a forward that loses the batch axis is an error."""
    if scores.ndim == 0 or scores.shape[0] != n:
        raise InvalidParameterError(
            f"The model returned scores of shape {tuple(scores.shape)} for {n} samples; its "
            "forward must keep the samples on the first axis."
        )
    return scores.reshape(n, -1)


def _output_size(model: nn.Module, X: torch.Tensor) -> int:
    """Run two samples through the module; one clear sentence when that fails."""
    probe = X[:2]
    try:
        scores = module_scores(model, probe)
    except InvalidParameterError:
        raise
    except Exception as error:  # the user's forward: any failure is a misfit with the data
        raise InvalidParameterError(
            f"The model cannot take inputs of shape {tuple(probe.shape[1:])} per sample: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from error
    return int(scores.shape[1])


def check_fits(model: nn.Module, X: torch.Tensor, y: torch.Tensor, task: str) -> str:
    """The head kind of ``model`` on inputs like ``X`` and targets ``y``, or one clear error
    (an ``MLP`` by its architecture, any other module by running two samples through it)."""
    if isinstance(model, MLP):
        return _check_model_fits(model.architecture, X, y)
    return check_outputs(task, _output_size(model, X), y)


def _loss(
    scores: torch.Tensor, y: torch.Tensor, kind: str, class_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """The mean loss of one batch: :func:`~regulab.training._metrics.member_losses` for a
    single model, without the member axis (fewer small operations per step); with
    ``class_weight``, that function's weighted mean on a stack of one."""
    if class_weight is not None:
        return member_losses(scores.reshape(1, len(y), -1), y.unsqueeze(0), kind, class_weight)[0]
    if kind == "multiclass":
        return F.cross_entropy(scores.reshape(len(y), -1), y)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(scores.reshape(-1), y.to(scores.dtype))
    return F.mse_loss(scores.reshape(len(y), -1), y.reshape(len(y), -1))


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def train_modules(
    members: Sequence[Member],
    X: Any,
    y: Any,
    X_val: Any,
    y_val: Any,
    *,
    task: str | None,
    spec: OptimizerSpec,
    epochs: int,
    batch_size: int,
    validation_split: float,
    split_seed: int,
    device: torch.device,
    verbose: int,
    feature_names: Sequence[str] | None,
    stack: str | bool = "auto",
    class_weight: str | None = None,
) -> list[FitResult]:
    """Train the members' modules: groups of one architecture as torch.func stacks where
    :func:`~regulab.training._vmap.plan_stacks` says so, the others in turn (the arguments
    are :func:`train_many`'s)."""
    if isinstance(X, torch.utils.data.Dataset):
        if y is not None:
            raise DataError("X is a torch Dataset of (input, target) pairs; leave y as None.")
        X, y = _materialize(X, "X")
    if isinstance(X_val, torch.utils.data.Dataset):
        X_val, y_val = _materialize(X_val, "X_val")
    if y is None:
        raise DataError("y is missing; pass targets, or a torch Dataset of (input, target) pairs.")
    if task is None:
        task = infer_task(y)
    elif task not in TASKS:
        raise InvalidParameterError(
            f"The 'task' parameter of train must be one of {', '.join(TASKS)}. "
            f"Got {task!r} instead."
        )
    X_fit = module_inputs(X, "X", device)
    y_fit = _targets(y, task, len(X_fit), "y", device)
    X_v: torch.Tensor | None = None
    y_v: torch.Tensor | None = None
    if X_val is not None:
        if y_val is None:
            raise DataError("X_val was given without y_val; pass both or neither.")
        X_v = module_inputs(X_val, "X_val", device)
        y_v = _targets(y_val, task, len(X_v), "y_val", device)
        if X_v.shape[1:] != X_fit.shape[1:]:
            raise DataError(
                f"X_val has samples of shape {tuple(X_v.shape[1:])} but X has "
                f"{tuple(X_fit.shape[1:])}."
            )
    elif validation_split > 0:
        X_fit, y_fit, X_v, y_v = _validation_split(X_fit, y_fit, validation_split, split_seed, task)
    weights = class_weights(class_weight, y_fit, task)
    models = [member.model for member in members]
    if any(next(model.parameters(), None) is None for model in models):
        raise InvalidParameterError("The model has no parameters to train.")
    homes = [next(model.parameters()).device for model in models]
    for model in models:
        model.to(device)
    try:
        kinds = [check_outputs(task, _output_size(model, X_fit), y_fit) for model in models]
        plan = plan_stacks(models, device, stack, X_fit, batch_size)
        if verbose and len(members) > 1:
            print(plan.note, file=sys.stderr)
        results: list[FitResult | None] = [None] * len(members)
        settings = LoopSettings(spec, epochs, batch_size, device, verbose, feature_names)
        for indices, stacked, _ in plan.groups:
            if stacked:
                kind = kinds[indices[0]]
                fitted = train_stacked(
                    [members[i] for i in indices],
                    [_Penalized(models[i], members[i].penalties, spec.name) for i in indices],
                    kind,
                    (X_fit, y_fit, X_v, y_v),
                    spec,
                    epochs,
                    batch_size,
                    device,
                    verbose,
                    partial(_reported_names, feature_names=feature_names),
                    partial(_loss, kind=kind, class_weight=weights),
                    available_metrics(kind, X_v is not None),
                    _CHUNK,
                )
            else:
                fitted = [
                    _train_one(members[i], kinds[i], X_fit, y_fit, X_v, y_v, settings, weights)
                    for i in indices
                ]
            for i, result in zip(indices, fitted):
                results[i] = result
    finally:
        for model, home in zip(models, homes):
            model.to(home)
    return [result for result in results if result is not None]


def _reported_names(model: nn.Module, feature_names: Sequence[str] | None) -> Sequence[str] | None:
    """``feature_names`` when the first penalized weight takes them as inputs (a dense first
    layer), else None: a convolution's inputs are channels, not the named features."""
    weights = penalized_weights(model)
    first = weights[0][1] if weights else None
    if feature_names is None or first is None or first.ndim != 2:
        return None
    return feature_names if first.shape[1] == len(feature_names) else None


def _train_one(
    member: Member,
    kind: str,
    X: torch.Tensor,
    y: torch.Tensor,
    X_val: torch.Tensor | None,
    y_val: torch.Tensor | None,
    settings: LoopSettings,
    class_weight: torch.Tensor | None = None,
) -> FitResult:
    spec, epochs = settings.spec, settings.epochs
    batch_size, device = settings.batch_size, settings.device
    model = member.model
    available = available_metrics(kind, X_val is not None)
    penalized = _Penalized(model, member.penalties, spec.name)
    optimizer = _optimizer(model, penalized, spec)
    shuffle_seed, dropout_seed = _seeds(member.seed)
    shuffler = torch.Generator().manual_seed(shuffle_seed)
    run = _ModuleRun(model, available)
    for callback in member.callbacks:
        callback.on_train_begin(run)
    has_norm = _has_batchnorm(model)
    progress = Progress(epochs, 1, settings.verbose)
    started = time.perf_counter()
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(dropout_seed)
        model.train()
        steps = 0
        # Only the work a penalty asks for: each call enters a no-grad context per step.
        coupled, proximal = bool(penalized.coupled), bool(penalized.proximal)
        decayed = bool(penalized.decayed) and spec.name != "adamw"
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            order = torch.randperm(len(X), generator=shuffler).to(device)
            losses: list[torch.Tensor] = []
            for start in range(0, len(X), batch_size):
                index = order[start : start + batch_size]
                if has_norm and len(index) < 2:
                    continue  # batch norm needs two samples; PyTorch raises on one
                xb, yb = X[index], y[index]
                loss = _loss(model(xb), yb, kind, class_weight)
                optimizer.zero_grad()
                loss.backward()
                if coupled:
                    penalized.add_gradients()
                if decayed:
                    penalized.decay(spec.lr)
                optimizer.step()
                steps += 1
                if proximal:
                    penalized.prox(optimizer, spec, steps)
                losses.append(loss.detach())
            mean_loss = float(torch.stack(losses).mean()) if losses else float("nan")
            val = None
            if X_val is not None and y_val is not None:
                val = member_metrics(module_scores(model, X_val).unsqueeze(0), y_val, kind)[0]
            record = epoch_record(
                epoch,
                mean_loss,
                val,
                penalized.value(),
                penalized.zero_share(),
                time.perf_counter() - epoch_start,
            )
            end_epoch(run, member.callbacks, record)
            progress.update(epoch, [record], 0 if run.stop_training else 1)
            if run.stop_training:
                break
    progress.close()
    end_training(run, member.callbacks, epochs)
    model.eval()
    names = _reported_names(model, settings.feature_names)
    return fit_result(run, member, model, time.perf_counter() - started, names)
