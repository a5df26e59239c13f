"""Standardized regression targets: train on ``(y - mean) / scale``, answer in ``y``'s units.

A penalty strength means nothing without the scale of the loss it is added to: with targets
in the thousands, the squared error dwarfs ``l1 = 1e-3``; with targets below one, the same
strength wipes the model out. The trainer therefore fits regression models to targets
standardized with the training rows' mean and standard deviation (per target column; a
constant column keeps scale 1), then folds the scaling into the model's output layer::

    W_out <- W_out * scale        b_out <- b_out * scale + mean

so the returned model, its predictions and every recorded loss and metric are in the
original units, and one strength gives the same fitted model (up to the scale) on ``y`` and
on ``1000 * y``. Penalties act on the standardized parameterization, where the output
layer's weights are the returned ones divided by ``scale``.

Examples
--------
>>> import numpy as np
>>> scaling = TargetScaling.fit(np.array([1.0, 3.0], dtype=np.float32))
>>> scaling.mean.tolist(), scaling.scale.tolist()
([2.0], [1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["TargetScaling"]


@dataclass(frozen=True)
class TargetScaling:
    """Per-column mean and scale of a regression target (float64 arrays of shape (C,))."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, y: Any) -> TargetScaling:
        """Statistics of training targets ``y`` of shape (n,) or (n, C)."""
        values = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y, np.float64)
        table = values.reshape(len(values), -1)
        std = table.std(axis=0)
        return cls(table.mean(axis=0), np.where(std > 0, std, 1.0))

    @classmethod
    def from_lists(cls, mean: Sequence[float], scale: Sequence[float]) -> TargetScaling:
        """Rebuild from :meth:`to_lists`."""
        return cls(np.asarray(mean, np.float64), np.asarray(scale, np.float64))

    def to_lists(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, scale)`` as tuples of floats."""
        return tuple(self.mean.tolist()), tuple(self.scale.tolist())

    def _tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.as_tensor(self.mean, dtype=like.dtype, device=like.device)
        return mean, torch.as_tensor(self.scale, dtype=like.dtype, device=like.device)

    def standardize(self, y: torch.Tensor) -> torch.Tensor:
        """``(y - mean) / scale`` for targets (n,) or (n, C), computed in float64."""
        mean, scale = self._tensors(y.double())
        table = (y.double().reshape(len(y), -1) - mean) / scale
        return table.reshape(y.shape).to(y.dtype)

    def unstandardize(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (..., C) in standardized units back to the target's units."""
        mean, scale = self._tensors(scores)
        return scores * scale + mean

    def loss_units(self, device: torch.device) -> torch.Tensor:
        """``scale ** 2`` (C,): turns per-column squared errors into the target's units."""
        return torch.as_tensor(self.scale**2, dtype=torch.float32, device=device)

    def fold(self, state: dict[str, torch.Tensor], last: int) -> dict[str, torch.Tensor]:
        """A state dict trained on standardized targets, answering in the target's units."""
        return self._map(state, last, to_original=True)

    def unfold(self, state: dict[str, torch.Tensor], last: int) -> dict[str, torch.Tensor]:
        """The inverse of :meth:`fold`: a model's state in the standardized units."""
        return self._map(state, last, to_original=False)

    def _map(
        self, state: dict[str, torch.Tensor], last: int, to_original: bool
    ) -> dict[str, torch.Tensor]:
        out = dict(state)
        weight, bias = state[f"linears.{last}.weight"], state[f"linears.{last}.bias"]
        mean = torch.as_tensor(self.mean, dtype=torch.float64)
        scale = torch.as_tensor(self.scale, dtype=torch.float64)
        w, b = weight.double(), bias.double()
        if to_original:
            w, b = w * scale.view(-1, 1), b * scale + mean
        else:
            w, b = w / scale.view(-1, 1), (b - mean) / scale
        out[f"linears.{last}.weight"] = w.to(weight.dtype)
        out[f"linears.{last}.bias"] = b.to(bias.dtype)
        return out
