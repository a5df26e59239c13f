"""Standardized regression targets: train on ``(y - mean) / scale``, answer in ``y``'s units.

A penalty strength means nothing without the scale of the loss it is added to: with targets
in the thousands, the squared error dwarfs ``l1 = 1e-3``; with targets below one, the same
strength wipes the model out. The trainer therefore fits regression models to targets
standardized with the training rows' mean and standard deviation (per target column; a
constant column keeps scale 1) and stores both in the model's ``target_mean`` and
``target_scale`` buffers, which its head applies (``target_scale * h + target_mean``). The
weights, the initialization and the penalties live in standardized units; the model's
outputs, the recorded losses and the metrics are in the target's units. One strength gives
the same fitted model (up to the scale) on ``y`` and on ``1000 * y``.

A model whose buffers are already set (it was trained before: a warm start, ``partial_fit``)
keeps its statistics, so its weights keep their meaning.

Examples
--------
>>> import numpy as np
>>> scaling = TargetScaling.fit(np.array([1.0, 3.0], dtype=np.float32))
>>> scaling.mean.tolist(), scaling.scale.tolist()
([2.0], [1.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regulab.models import MLP

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
    def of_model(cls, model: MLP) -> TargetScaling | None:
        """The statistics a regression model already holds; None while they are unset."""
        if model.target_scale is None or model.target_mean is None:
            return None
        mean = model.target_mean.detach().cpu().double().numpy()
        scale = model.target_scale.detach().cpu().double().numpy()
        if not mean.any() and (scale == 1.0).all():
            return None
        return cls(mean, scale)

    def key(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Hashable ``(mean, scale)``: members with equal keys can share a stack."""
        return tuple(self.mean.tolist()), tuple(self.scale.tolist())

    def buffers(self) -> dict[str, torch.Tensor]:
        """The model's ``target_mean`` and ``target_scale`` buffers (float32)."""
        return {
            "target_mean": torch.as_tensor(self.mean, dtype=torch.float32),
            "target_scale": torch.as_tensor(self.scale, dtype=torch.float32),
        }

    def _tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.as_tensor(self.mean, dtype=like.dtype, device=like.device)
        return mean, torch.as_tensor(self.scale, dtype=like.dtype, device=like.device)

    def standardize(self, y: torch.Tensor) -> torch.Tensor:
        """``(y - mean) / scale`` for targets (n,) or (n, C)."""
        mean, scale = self._tensors(y)
        return ((y.reshape(len(y), -1) - mean) / scale).reshape(y.shape)

    def unstandardize(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (..., C) in standardized units back to the target's units."""
        mean, scale = self._tensors(scores)
        return scores * scale + mean

    def loss_units(self, device: torch.device) -> torch.Tensor:
        """``scale ** 2`` (C,): turns per-column squared errors into the target's units."""
        return torch.as_tensor(self.scale**2, dtype=torch.float32, device=device)
