"""Per-epoch history and the result of one training run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
from torch import nn

from regulab.penalties import Penalty, SparsityReport

__all__ = ["History", "StopReason", "FitResult", "TrainState"]


class History(list):
    """A list of per-epoch records (dicts), skorch-style.

    Each record holds ``epoch`` (1-based), ``loss`` (training loss with dropout active),
    ``val_loss`` and ``val_<metric>`` entries, ``penalty`` (the penalty term at epoch end),
    ``sparsity`` (share of exactly-zero weights) and ``seconds``.

    Examples
    --------
    >>> h = History([{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}])
    >>> h.column("loss")
    [0.9, 0.5]
    """

    def column(self, key: str) -> list[Any]:
        """Values of ``key`` over epochs (None where absent)."""
        return [record.get(key) for record in self]

    def metric_names(self) -> list[str]:
        """Keys recorded in the last epoch."""
        return list(self[-1]) if self else []

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-safe copy: non-finite floats become None."""
        return [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in self
        ]


class StopReason(str, Enum):
    """Why training ended."""

    MAX_EPOCHS = "max_epochs"
    PATIENCE = "patience_exhausted"
    BASELINE = "baseline_not_reached"
    NON_FINITE = "non_finite"
    CONVERGED = "converged"


@dataclass
class TrainState:
    """Where one model's training stands, so that a later call continues it exactly.

    Give ``TrainState()`` as a :class:`~regulab.training.Member`'s ``state`` to start
    fresh and get the state at the end back in :attr:`FitResult.state`; give that state to
    the next call to continue with the same optimizer moments and random streams (what an
    estimator's ``partial_fit`` does).

    Attributes
    ----------
    optimizer : str or None
        The optimizer the buffers belong to (None before the first step).
    steps : int
        Optimizer steps taken.
    buffers : list of Tensor
        Adam's two moments or SGD's momentum, flattened.
    shuffle_rng, dropout_rng : Tensor or None
        States of the shuffling and dropout generators (None: seeded from the seed).
    """

    optimizer: str | None = None
    steps: int = 0
    buffers: list[torch.Tensor] = field(default_factory=list)
    shuffle_rng: torch.Tensor | None = None
    dropout_rng: torch.Tensor | None = None


@dataclass
class FitResult:
    """Outcome of training one model.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (best weights restored when early stopping asked for it).
    history : History
        Per-epoch records.
    stop_reason : StopReason
        Why training ended.
    stop_message : str
        The same as a sentence with the numbers.
    best_epoch : int or None
        Epoch whose weights the model holds when they were restored, else None.
    epochs_run : int
    seconds : float
        Wall time of the run (shared by all members of a stack).
    sparsity : SparsityReport
        Exact zeros of the final model.
    penalties : list of Penalty
    seed : int
    state : TrainState or None
        The state to continue from, when the member was given one.
    """

    model: nn.Module
    history: History
    stop_reason: StopReason
    stop_message: str
    best_epoch: int | None
    epochs_run: int
    seconds: float
    sparsity: SparsityReport
    penalties: list[Penalty] = field(default_factory=list)
    seed: int = 0
    state: TrainState | None = None

    @property
    def final_record(self) -> dict[str, Any]:
        """The epoch record matching the returned weights (best epoch when restored)."""
        if self.best_epoch is not None:
            return dict(self.history[self.best_epoch - 1])
        return dict(self.history[-1]) if self.history else {}
