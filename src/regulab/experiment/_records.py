"""The record of one finished run: what the store keeps and the report draws.

A :class:`RunRecord` is plain JSON-safe data. ``run_key`` identifies the work (config,
seed, data and split), so a resumed comparison can skip runs that are already stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from regulab.penalties import penalized_weights

__all__ = ["RunRecord", "run_key", "weight_summary", "HISTOGRAM_EDGES"]

# Fixed bin edges so histograms of different runs are comparable; the centre bin holds zeros.
HISTOGRAM_EDGES = [
    float(x) for x in np.concatenate([np.linspace(-0.5, -0.0025, 50), np.linspace(0.0025, 0.5, 50)])
]


def run_key(config_name: str, config: dict[str, Any], seed: int, fingerprint: str) -> str:
    """Stable hash of what a run computes (same inputs, same key).

    Examples
    --------
    >>> run_key("l1", {"l1": 1e-4}, 0, "abc") == run_key("l1", {"l1": 1e-4}, 0, "abc")
    True
    """
    payload = json.dumps([config_name, config, seed, fingerprint], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@torch.no_grad()
def weight_summary(model: nn.Module) -> dict[str, Any]:
    """Histogram of all weight-matrix entries, L2 norm, and the first layer's kept inputs.

    ``histogram`` counts values in :data:`HISTOGRAM_EDGES` bins (values beyond +-0.5 go to
    the outer bins) and ``exact_zeros`` counts exact zeros separately; ``kept_inputs`` is one
    bool per input feature (False when every outgoing first-layer weight is zero) and
    ``input_mass`` the sum of |w| over each input's outgoing first-layer weights.
    """
    weights = [w.detach().cpu().flatten() for _, w in penalized_weights(model)]
    values = torch.cat(weights).numpy() if weights else np.zeros(0)
    clipped = np.clip(values, HISTOGRAM_EDGES[0], HISTOGRAM_EDGES[-1])
    nonzero = clipped[values != 0]
    counts, _ = np.histogram(nonzero, bins=HISTOGRAM_EDGES)
    first = penalized_weights(model)[0][1].detach().cpu()
    per_input = first.reshape(first.shape[0], first.shape[1], -1).abs().sum(dim=2).sum(dim=0)
    return {
        "histogram": counts.tolist(),
        "exact_zeros": int((values == 0).sum()),
        "weight_norm": float(np.sqrt(np.sum(values.astype(np.float64) ** 2))),
        "kept_inputs": (per_input > 0).tolist(),
        "input_mass": [round(float(v), 6) for v in per_input],
    }


@dataclass
class RunRecord:
    """One training run of one configuration with one seed.

    Attributes
    ----------
    run_key : str
        Hash of config name, config, seed and data fingerprint.
    config_name : str
        Label such as ``"dropout+l2+early_stopping"``.
    config : dict
        JSON-safe settings (a ``TrainConfig.to_dict()``).
    seed : int
    data_fingerprint : str
        Hash of the arrays and split.
    library_version : str
    history : list of dict
        Per-epoch records.
    metrics : dict
        ``test_*`` metrics of the returned model, ``val_*`` metrics (the figures every choice
        is made on) and ``train_loss`` at the returned epoch, and ``gap`` = val_loss -
        train_loss. The validation split always comes from training rows, never from test.
    epochs_run, stop_reason, stop_message, best_epoch
    sparsity : dict
        ``per_layer``, ``total``, ``dropped_features``.
    weights : dict
        :func:`weight_summary` output.
    seconds : float
    group : str
        Experiment the run belongs to (``compare``, ``path:l1``, ``dropout_curve``...).
    """

    run_key: str
    config_name: str
    config: dict[str, Any]
    seed: int
    data_fingerprint: str
    library_version: str
    history: list[dict[str, Any]]
    metrics: dict[str, float]
    epochs_run: int
    stop_reason: str
    stop_message: str
    best_epoch: int | None
    sparsity: dict[str, Any]
    weights: dict[str, Any]
    seconds: float
    group: str = "compare"
    extra: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        """``name`` at the weights the run returned; NaN when the run never measured it.

        Read from :attr:`metrics`, else (records stored before ``val_*`` figures were kept)
        from the history: the restored best epoch, or the last epoch.

        Examples
        --------
        >>> record = RunRecord("k", "none", {}, 0, "fp", "0", [{"epoch": 1, "val_r2": 0.5},
        ...     {"epoch": 2, "val_r2": 0.7}], {"test_r2": 0.6}, 2, "max_epochs", "", None,
        ...     {}, {}, 1.0)
        >>> record.metric("test_r2"), record.metric("val_r2"), record.metric("val_mse")
        (0.6, 0.7, nan)
        """
        if self.metrics.get(name) is not None:
            return float(self.metrics[name])
        epochs = [e for e in self.history if e.get(name) is not None]
        if self.best_epoch is not None:
            chosen = [e for e in epochs if int(e["epoch"]) == int(self.best_epoch)]
            epochs = chosen or epochs
        return float(epochs[-1][name]) if epochs else math.nan

    @property
    def diverged(self) -> bool:
        """True when training hit a non-finite loss (stop reason ``non_finite``) or the
        returned weights give a non-finite validation loss: such a run is never chosen."""
        loss = self.metrics.get("val_loss")
        return self.stop_reason == "non_finite" or (
            loss is not None and not math.isfinite(float(loss))
        )

    def choice_metric(self, name: str) -> float:
        """The figure a choice may use: :meth:`metric`, or NaN when the run diverged.

        Examples
        --------
        >>> record = RunRecord("k", "none", {}, 0, "fp", "0", [], {"val_loss": float("inf"),
        ...     "val_accuracy": 0.33}, 2, "non_finite", "", None, {}, {}, 1.0)
        >>> record.metric("val_accuracy"), record.choice_metric("val_accuracy")
        (0.33, nan)
        """
        return math.nan if self.diverged else self.metric(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(**values)
