"""What the three training paths share: the member to train, its run, the checks on the data,
the validation split and the end of an epoch and of training.

The stacked ``MLP`` path (:mod:`regulab.training._trainer`), the ``torch.func`` stack
(:mod:`regulab.training._vmap`) and the generic ``torch.optim`` path
(:mod:`regulab.training._generic`) import these pieces; this module imports none of them,
so every path writes the same history rows and stops for the same reasons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from regulab._split import holdout
from regulab.errors import DataError, InvalidParameterError
from regulab.models import Architecture
from regulab.penalties import Penalty, sparsity
from regulab.training._callbacks import Callback, Run
from regulab.training._history import FitResult, History, StopReason, TrainState
from regulab.training._metrics import head_kind, metric_names
from regulab.training._stack import OptimizerSpec

__all__ = [
    "Member",
    "LoopSettings",
    "available_metrics",
    "check_outputs",
    "end_epoch",
    "end_stack_epoch",
    "end_training",
    "epoch_record",
    "fit_result",
]

_ADAMW_DEFAULT_DECAY = 0.01


@dataclass
class Member:
    """One model to train inside a stack, with its own penalties, callbacks and seed.

    ``state`` continues an earlier call (see :class:`~regulab.training.TrainState`):
    ``TrainState()`` starts fresh and asks for the final state in ``FitResult.state``.

    Examples
    --------
    >>> from regulab.models import MLP
    >>> from regulab.penalties import L2
    >>> member = Member(MLP("4-8-3", seed=0), penalties=[L2(1e-3)], seed=0)
    """

    model: nn.Module
    penalties: Sequence[Penalty] = ()
    callbacks: Sequence[Callback] = ()
    seed: int = 0
    state: TrainState | None = None


@dataclass(frozen=True)
class LoopSettings:
    """What every member of one ``train_many``/``train_modules`` call trains with: the
    optimizer, epochs, batch size, device, verbosity and the feature names its results
    report."""

    spec: OptimizerSpec
    epochs: int
    batch_size: int
    device: torch.device
    verbose: int
    feature_names: Sequence[str] | None


class _Stacked(Protocol):
    """What a member's run reads and writes of its stack (``StackedMLP`` or the torch.func
    stack of :mod:`regulab.training._vmap`)."""

    def member_state(self, position: int) -> dict[str, Any]: ...

    def load_member(self, position: int, state: dict[str, Any]) -> None: ...


@dataclass
class _MemberRun:
    """The :class:`~regulab.training.Run` handed to callbacks for one member."""

    available_metrics: list[str]
    stack: _Stacked | None = None
    position: int = 0
    history: History = field(default_factory=History)
    stop_training: bool = False
    stop_reason: StopReason | None = None
    stop_message: str = ""
    best_epoch: int | None = None
    final_state: dict[str, Any] | None = None
    train_state: TrainState | None = None

    def get_weights(self) -> dict[str, Any]:
        if self.stack is None:
            return {k: v.clone() for k, v in (self.final_state or {}).items()}
        return self.stack.member_state(self.position)

    def set_weights(self, state: dict[str, Any]) -> None:
        if self.stack is None:
            self.final_state = {k: v.clone() for k, v in state.items()}
        else:
            self.stack.load_member(self.position, state)


def _features(X: Any, name: str, device: torch.device) -> torch.Tensor:
    try:
        array = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} must hold numbers only (features as floats).") from error
    if array.ndim != 2:
        raise DataError(f"{name} must be a 2-D array (samples, features); got shape {array.shape}.")
    if 0 in array.shape:
        raise DataError(f"{name} is empty (shape {array.shape}); training needs rows and features.")
    bad = ~np.isfinite(array)
    if bad.any():
        columns = sorted(set(np.nonzero(bad)[1].tolist()))
        raise DataError(
            f"{name} has {int(bad.any(axis=1).sum())} rows with NaN or infinite values "
            f"(feature columns {columns[:10]}{'...' if len(columns) > 10 else ''})."
        )
    return torch.from_numpy(array).to(device)


def _targets(y: Any, task: str, n_rows: int, name: str, device: torch.device) -> torch.Tensor:
    array = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if len(array) != n_rows:
        raise DataError(f"{name} has {len(array)} rows but the features have {n_rows}.")
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"{name} must hold numbers (class codes 0..C-1 or regression values); got "
            f"{array.dtype} values such as {array.flat[0]!r} (regulab.data.load encodes labels "
            "for you)."
        )
    if task == "regression":
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise DataError(
                f"{name} has {int((~np.isfinite(values)).sum())} NaN or infinite targets."
            )
        return torch.from_numpy(values).to(device)
    if (
        array.ndim != 1
        or not np.issubdtype(array.dtype, np.integer)
        and not np.all(np.mod(array, 1) == 0)
    ):
        raise DataError(
            f"{name} must hold integer class codes 0..C-1 for classification "
            f"(regulab.data.load encodes labels for you)."
        )
    return torch.from_numpy(array.astype(np.int64)).to(device)


def _check_model_fits(
    arch: Architecture, X: torch.Tensor, y: torch.Tensor, n_classes: int | None = None
) -> str:
    n_in = arch.sizes[0]
    if n_in != X.shape[1]:
        suggestion = "-".join(str(s) for s in (X.shape[1], *arch.sizes[1:]))
        raise InvalidParameterError(
            f"The model's input size is {n_in} but the data has {X.shape[1]} features; "
            f"use a spec starting with {X.shape[1]}, e.g. '{suggestion}'."
        )
    return check_outputs(arch.task, arch.sizes[-1], y, n_classes)


def check_outputs(task: str, n_out: int, y: torch.Tensor, n_classes: int | None = None) -> str:
    """The head kind of a model with ``n_out`` outputs, or a clear error when the outputs
    do not fit the task and the targets ``y`` (of ``n_classes`` classes when given)."""
    if task == "regression":
        expected = 1 if y.dim() == 1 else y.shape[1]
        if n_out != expected:
            raise InvalidParameterError(
                f"The model's output size is {n_out} but the regression target has "
                f"{expected} column(s)."
            )
        return head_kind("regression", n_out)
    classes = torch.unique(y)
    if int(classes.min()) < 0:
        raise DataError(
            f"Class labels must be codes 0..C-1; got {int(classes.min())}. Encode the labels "
            "first (regulab.data.load does it for files)."
        )
    if n_classes is not None:  # declared classes: a batch may show only some of them
        if int(classes.max()) >= n_classes:
            raise DataError(f"y holds class codes outside 0..{n_classes - 1}.")
    else:
        n_classes = int(classes.max()) + 1
        if len(classes) < 2:
            raise DataError(
                f"The training target has a single class ({int(classes[0])}); "
                "classification needs at least 2."
            )
    if n_out != n_classes and not (n_out == 1 and n_classes == 2):
        allowed = "1 (sigmoid) or 2" if n_classes == 2 else str(n_classes)
        raise InvalidParameterError(
            f"The model's output size is {n_out} but the data has {n_classes} classes; "
            f"the output size must be {allowed}."
        )
    return head_kind("classification", n_out)


def _seeds(seed: int) -> tuple[int, int]:
    shuffle_seed, dropout_seed = np.random.SeedSequence(seed).generate_state(2)
    return int(shuffle_seed), int(dropout_seed)


def _validation_split(
    X: torch.Tensor, y: torch.Tensor, fraction: float, seed: int, task: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hold out ``fraction`` of the rows (stratified for classification)."""
    try:
        fit, val = holdout(
            np.arange(len(X)), float(fraction), y.cpu().numpy(), seed, task == "classification"
        )
    except DataError as error:
        raise DataError(
            f"{error} No validation part can be held out: pass X_val and y_val, or "
            "validation_split=0 to train without validation."
        ) from None
    fit_rows, val_rows = torch.from_numpy(fit).to(X.device), torch.from_numpy(val).to(X.device)
    return X[fit_rows], y[fit_rows], X[val_rows], y[val_rows]


def available_metrics(kind: str, has_validation: bool) -> list[str]:
    names = ["epoch", "loss"]
    if has_validation:
        names += ["val_loss"] + [f"val_{m}" for m in metric_names(kind)]
    return names + ["penalty", "sparsity", "seconds"]


def epoch_record(
    epoch: int,
    loss: float,
    val: dict[str, float] | None,
    penalty: float,
    sparsity: float,
    seconds: float,
) -> dict[str, Any]:
    """One epoch's history row: epoch, training loss, ``val_*`` metrics, penalty, sparsity
    and seconds (the column order every trainer writes)."""
    record: dict[str, Any] = {"epoch": epoch, "loss": loss}
    if val is not None:
        record.update({f"val_{name}": value for name, value in val.items()})
    record.update(penalty=penalty, sparsity=sparsity, seconds=seconds)
    return record


def end_epoch(run: Run, callbacks: Sequence[Callback], record: dict[str, Any]) -> None:
    """Append ``record`` to the run's history, call the callbacks' ``on_epoch_end`` and stop
    a run whose training loss is no longer finite."""
    run.history.append(record)
    for callback in callbacks:
        callback.on_epoch_end(run)
    if not run.stop_training and not math.isfinite(record["loss"]):
        run.stop_training = True
        run.stop_reason = StopReason.NON_FINITE
        run.stop_message = f"loss became {record['loss']} at epoch {record['epoch']}"


def end_stack_epoch(
    runs: Sequence[Run],
    members: Sequence[Member],
    active: Sequence[int],
    epoch: int,
    epochs: int,
    metrics: tuple[list[float], list[dict[str, float]] | None, list[float], list[float]],
    seconds: float,
) -> list[int]:
    """End one epoch of a stack: write each active member's history row (``metrics`` holds
    the per-member training losses, validation metrics, penalties and zero shares, in
    ``active`` order), run its callbacks, and return the members that stop now."""
    train_loss, val, penalty, zero_share = metrics
    stopped = []
    for position, k in enumerate(active):
        record = epoch_record(
            epoch,
            train_loss[position],
            None if val is None else val[position],
            penalty[position],
            zero_share[position],
            seconds,
        )
        end_epoch(runs[k], members[k].callbacks, record)
        if runs[k].stop_training or epoch == epochs:
            stopped.append(k)
    return stopped


def end_training(run: Run, callbacks: Sequence[Callback], epochs: int) -> None:
    """Call the callbacks' ``on_train_end`` (early stopping restores its best weights) and
    name the stop reason of a run that used all its epochs."""
    for callback in callbacks:
        callback.on_train_end(run)
    if run.stop_reason is None:
        run.stop_reason = StopReason.MAX_EPOCHS
        run.stop_message = f"reached the maximum of {epochs} epochs"


def _finish(run: _MemberRun, member: Member, epochs: int) -> None:
    """Take a stopped member out of the stack and let its callbacks restore weights."""
    assert run.stack is not None
    run.final_state = run.stack.member_state(run.position)
    run.stack = None
    end_training(run, member.callbacks, epochs)


def fit_result(
    run: Run,
    member: Member,
    model: nn.Module,
    seconds: float,
    feature_names: Sequence[str] | None,
    state: TrainState | None = None,
) -> FitResult:
    """What a member's finished ``run`` returns: ``model`` (weights as they end), its history
    and stop, its sparsity over ``feature_names`` and the ``state`` to continue from."""
    assert run.stop_reason is not None, "a finished run has a stop reason"
    return FitResult(
        model=model,
        history=run.history,
        stop_reason=run.stop_reason,
        stop_message=run.stop_message,
        best_epoch=run.best_epoch,
        epochs_run=len(run.history),
        seconds=seconds,
        sparsity=sparsity(model, feature_names),
        penalties=list(member.penalties),
        seed=member.seed,
        state=state,
    )
