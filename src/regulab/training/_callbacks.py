"""Callbacks: one base class, early stopping, and the run handle they act on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from regulab.errors import InvalidParameterError, check_range, did_you_mean
from regulab.training._history import History, StopReason
from regulab.training._metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER

__all__ = ["Run", "Callback", "EarlyStopping"]


class Run(Protocol):
    """What a callback sees of one model being trained (one member of a stack).

    Attributes
    ----------
    history : History
        Records so far; the last one is the epoch that just ended.
    available_metrics : list of str
        Keys every epoch record will hold.
    stop_training : bool
        Set to True to stop this model after the current epoch.
    stop_reason, stop_message, best_epoch
        Set by the callback that stops or restores.
    """

    history: History
    available_metrics: list[str]
    stop_training: bool
    stop_reason: StopReason | None
    stop_message: str
    best_epoch: int | None

    def get_weights(self) -> dict[str, Any]:
        """A detached copy of the model's state dict."""

    def set_weights(self, state: dict[str, Any]) -> None:
        """Load a state dict produced by :meth:`get_weights`."""


class Callback:
    """Base class: every hook does nothing; override the ones you need.

    Hooks receive the :class:`Run` of one model. Reset per-fit state in
    :meth:`on_train_begin` so one instance can be reused across fits.

    Examples
    --------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, run, **kwargs):
    ...         print(run.history[-1]["loss"])
    """

    def on_train_begin(self, run: Run, **kwargs: Any) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, run: Run, **kwargs: Any) -> None:
        """Called after each epoch's record was appended to ``run.history``."""

    def on_train_end(self, run: Run, **kwargs: Any) -> None:
        """Called once after the last epoch."""

    def get_config(self) -> dict[str, Any]:
        """JSON-safe constructor arguments."""
        return {}


def _direction(monitor: str, mode: str) -> str | None:
    """``"min"``/``"max"``, or None when ``auto`` cannot tell (decided at train begin)."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise InvalidParameterError(
            f"The 'mode' parameter of EarlyStopping must be one of auto, min, max. "
            f"Got {mode!r} instead."
        )
    base = monitor.removeprefix("val_")
    if base.endswith(LOWER_IS_BETTER) or base in LOWER_IS_BETTER:
        return "min"
    if base in HIGHER_IS_BETTER:
        return "max"
    return None


class EarlyStopping(Callback):
    """Stop when a monitored metric stops improving, and restore the best weights.

    Parameters
    ----------
    monitor : str, default="val_loss"
        Any key of the epoch records (``loss``, ``val_loss``, ``val_accuracy``...).
    mode : {"auto", "min", "max"}, default="auto"
        Direction; ``auto`` infers it for known metrics (losses down; accuracy, F1, AUC,
        R^2 up).
    min_delta : float, default=0.0
        An improvement must exceed this, >= 0.
    patience : int, default=3
        Epochs without improvement before stopping, >= 0.
    baseline : float, optional
        Training stops if the metric has not beaten this after ``patience`` epochs.
    start_from_epoch : int, default=0
        Epochs to wait before monitoring starts, >= 0.
    restore_best_weights : bool, default=True
        Restore the best epoch's weights when training ends, whatever the reason
        (patience, non-finite loss or the last epoch).

    Attributes
    ----------
    best : float
        Best monitored value seen.
    best_epoch : int or None
    stopped_epoch : int or None
    stop_reason : StopReason or None
    stop_message : str

    Examples
    --------
    >>> EarlyStopping("val_loss", patience=3)
    EarlyStopping(monitor='val_loss', patience=3)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        mode: str = "auto",
        min_delta: float = 0.0,
        patience: int = 3,
        baseline: float | None = None,
        start_from_epoch: int = 0,
        restore_best_weights: bool = True,
    ) -> None:
        self.monitor = monitor
        self.mode = mode
        self.min_delta = float(check_range("min_delta", min_delta, low=0.0, owner="EarlyStopping"))
        self.patience = int(
            check_range("patience", patience, low=0, integer=True, owner="EarlyStopping")
        )
        self.baseline = baseline
        self.start_from_epoch = int(
            check_range(
                "start_from_epoch", start_from_epoch, low=0, integer=True, owner="EarlyStopping"
            )
        )
        self.restore_best_weights = bool(restore_best_weights)
        self.direction = _direction(monitor, mode)
        self._reset()

    def _reset(self) -> None:
        self.best = -math.inf if self.direction == "max" else math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.stop_reason: StopReason | None = None
        self.stop_message = ""

    def _better(self, value: float, reference: float) -> bool:
        if self.direction == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def check_monitor(self, available_metrics: Sequence[str]) -> None:
        """Raise a clear error unless the monitored metric is among ``available_metrics``
        and its direction is known (called at the start of training, and by experiments
        before any run starts)."""
        validation = any(name.startswith("val_") for name in available_metrics)
        if self.monitor.startswith("val_") and not validation:
            raise InvalidParameterError(
                f"EarlyStopping monitors '{self.monitor}', but this training has no validation "
                "data, so no val_* metric is ever recorded. Pass X_val and y_val, or a "
                "validation_split above 0 (train's default holds out 10% of the rows), or "
                "monitor 'loss'."
            )
        if self.monitor not in available_metrics:
            raise InvalidParameterError(
                f"EarlyStopping monitors '{self.monitor}', which is never recorded. "
                f"Available metrics: {', '.join(available_metrics)}."
                + did_you_mean(self.monitor, available_metrics)
            )
        if self.direction is None:
            raise InvalidParameterError(
                f"EarlyStopping cannot infer whether '{self.monitor}' should go up or down; "
                "pass mode='min' or mode='max'."
            )

    def on_train_begin(self, run: Run, **kwargs: Any) -> None:
        self.check_monitor(run.available_metrics)
        self._reset()

    def on_epoch_end(self, run: Run, **kwargs: Any) -> None:
        record = run.history[-1]
        epoch, value = record["epoch"], record[self.monitor]
        if value is None or not math.isfinite(value):
            self._stop(
                run, epoch, StopReason.NON_FINITE, f"{self.monitor} became {value} at epoch {epoch}"
            )
            return
        if epoch <= self.start_from_epoch:
            return
        if self._better(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = run.get_weights()
            if self.baseline is None or self._better(value, self.baseline):
                self.wait = 0
                return
        self.wait += 1
        if self.wait >= self.patience:
            if self.baseline is not None and not self._better(self.best, self.baseline):
                reason, text = (
                    StopReason.BASELINE,
                    (
                        f"{self.monitor} did not beat the baseline {self.baseline:g} "
                        f"in {self.wait} epochs"
                    ),
                )
            else:
                reason, text = (
                    StopReason.PATIENCE,
                    (
                        f"{self.monitor} did not improve by more than {self.min_delta:g} "
                        f"for {self.patience} epochs"
                    ),
                )
            self._stop(run, epoch, reason, text)

    def _stop(self, run: Run, epoch: int, reason: StopReason, text: str) -> None:
        self.stopped_epoch, self.stop_reason = epoch, reason
        self.stop_message = text
        run.stop_training = True

    def on_train_end(self, run: Run, **kwargs: Any) -> None:
        last_epoch = run.history[-1]["epoch"] if run.history else 0
        if self.stop_reason is None and run.stop_reason is not None:
            # stopped by the trainer (non-finite loss) or another callback: keep its reason
            self.stop_reason, self.stop_message = run.stop_reason, run.stop_message
        if self.stop_reason is None:
            self.stop_reason = StopReason.MAX_EPOCHS
            self.stop_message = f"reached the maximum of {last_epoch} epochs"
        restored = ""
        if self.best_epoch is not None:
            restored = f"; best {self.best:.4g} at epoch {self.best_epoch}"
            if self.restore_best_weights and self.best_weights is not None:
                run.best_epoch = self.best_epoch
                if self.best_epoch != last_epoch:
                    run.set_weights(self.best_weights)
                    restored += ", restored"
                else:
                    restored += ", the last epoch"
        run.stop_reason = self.stop_reason
        run.stop_message = self.stop_message + restored
        self.best_weights = None  # free the copy

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"monitor": self.monitor}
        defaults = {
            "mode": "auto",
            "min_delta": 0.0,
            "patience": 3,
            "baseline": None,
            "start_from_epoch": 0,
            "restore_best_weights": True,
        }
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default or key == "patience":
                config[key] = value
        return config

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"EarlyStopping({args})"
