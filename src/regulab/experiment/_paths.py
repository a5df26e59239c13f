"""Regularization paths and one-parameter curves: penalty strength, dropout rate, patience.

:func:`regularization_path` trains a log-spaced grid of L1, L2 or elastic-net strengths, from
the strongest to the weakest, glmnet-style; :func:`dropout_curve` and :func:`patience_curve`
sweep a dropout rate or an early-stopping patience. Each picks the value with the best mean
*validation* metric and, by the one-standard-error rule, the simplest value whose mean lies
within one standard error of that best (:func:`one_se_rule`); test metrics are reported
alongside but never used to choose.

The validation metric is ``val_accuracy`` for classification and ``val_r2`` for regression
(both higher-is-better), read at the weights each run returns (the restored best epoch under
early stopping, else the last epoch). The test metric is ``test_accuracy`` or ``test_r2``.

Every run becomes a :class:`~regulab.experiment.RunRecord` with group ``path:<penalty>``
(``extra={"strength": s}``), ``dropout_curve`` (``extra={"rate": r}``) or ``patience_curve``
(``extra={"patience": p}``); with a results store they are saved as they finish and reused
when the same experiment runs again.

Examples
--------
>>> from regulab.experiment._paths import dropout_curve
>>> curve = dropout_curve("iris", rates=(0.0, 0.5), model="4-16-3", seeds=2, epochs=2,
...                       verbose=0)
>>> curve.values, curve.best in curve.values
([0.0, 0.5], True)
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from regulab import __version__
from regulab.config import TrainConfig
from regulab.data import Dataset
from regulab.errors import InvalidParameterError, check_range, did_you_mean
from regulab.experiment._compare import prepare_experiment, run_specs
from regulab.experiment._records import RunRecord, run_key
from regulab.experiment._runner import DataBundle, RunSpec, record_from_result
from regulab.experiment._stats import main_metric, mean_ci
from regulab.models import MLP
from regulab.penalties import penalized_weights
from regulab.training import FitResult, Member, train_many
from regulab.training._metrics import head_kind, member_losses

__all__ = [
    "PathResult",
    "CurveResult",
    "regularization_path",
    "dropout_curve",
    "patience_curve",
    "one_se_rule",
    "val_metric",
    "PATH_PENALTIES",
    "PATHS_SCHEMA_VERSION",
]

PATHS_SCHEMA_VERSION = 1
PATH_PENALTIES = ("l1", "l2", "elastic_net")

#: Default strongest L2 strength: the ``2 * l2 * w`` term then outweighs data gradients of
#: order 0.1-1 (standardized inputs), so the weights shrink to near zero.
L2_STRENGTH_MAX = 1.0
#: Share of exact zeros the first weight matrix must reach at ``strength_max``.
SPARSE_ENOUGH = 0.99
#: Doublings of the gradient-based estimate tried before giving up.
MAX_DOUBLINGS = 6
#: Minibatches averaged for the gradient-based estimate of ``strength_max``.
GRADIENT_BATCHES = 8

RecordList = list[RunRecord]


# -- shared helpers ---------------------------------------------------------------------------
def val_metric(task: str) -> tuple[str, bool]:
    """The validation metric used to choose, and whether higher is better.

    Examples
    --------
    >>> val_metric("classification"), val_metric("regression")
    (('val_accuracy', True), ('val_r2', True))
    """
    return ("val_accuracy", True) if task == "classification" else ("val_r2", True)


def _val_value(record: RunRecord, name: str) -> float:
    """``name`` at the returned weights: the restored best epoch, else the last epoch."""
    if record.metrics.get(name) is not None:
        return float(record.metrics[name])
    epochs = [e for e in record.history if e.get(name) is not None]
    if record.best_epoch is not None:
        epochs = [e for e in epochs if int(e["epoch"]) == int(record.best_epoch)] or epochs
    return float(epochs[-1][name]) if epochs else math.nan


def one_se_rule(
    values: Sequence[float],
    means: Sequence[float],
    ses: Sequence[float],
    *,
    higher_is_better: bool = True,
    prefer: str = "largest",
) -> tuple[float, float]:
    """The value with the best mean, and the simplest value within one SE of it.

    glmnet's rule (``lambda.min``/``lambda.1se``): the best point is the one with the best
    mean (ties go to the simpler value); the choice is the simplest value whose mean is within
    one standard error of the best point's mean, using that best point's standard error.

    Parameters
    ----------
    values : sequence of float
        The swept values (strengths, rates, patiences).
    means, ses : sequence of float
        Mean metric and its standard error per value. NaN means are never chosen; a NaN
        standard error counts as 0.
    higher_is_better : bool, default=True
    prefer : {"largest", "smallest"}, default="largest"
        Which end is simpler: ``"largest"`` for a penalty strength, ``"smallest"`` for a
        dropout rate or a patience.

    Returns
    -------
    tuple of float
        ``(best, one_se)``; both NaN when no mean is finite.

    Examples
    --------
    >>> one_se_rule([1.0, 0.1, 0.01, 0.001], [0.50, 0.88, 0.90, 0.89], [0.01, 0.01, 0.03, 0.01])
    (0.01, 0.1)
    >>> one_se_rule([0.0, 0.2, 0.5], [0.80, 0.84, 0.85], [0.02, 0.02, 0.02], prefer="smallest")
    (0.5, 0.2)
    """
    if prefer not in ("largest", "smallest"):
        raise InvalidParameterError(
            f"The 'prefer' parameter of one_se_rule must be one of largest, smallest. "
            f"Got {prefer!r} instead."
        )
    if not len(values) == len(means) == len(ses):
        raise InvalidParameterError(
            f"one_se_rule needs as many means and standard errors as values; got "
            f"{len(values)} values, {len(means)} means and {len(ses)} standard errors."
        )
    sign = 1.0 if higher_is_better else -1.0
    points = [
        (float(v), sign * float(m), float(e) if math.isfinite(float(e)) else 0.0)
        for v, m, e in zip(values, means, ses)
        if math.isfinite(float(m))
    ]
    if not points:
        return math.nan, math.nan
    pick: Callable[[list[float]], float] = max if prefer == "largest" else min
    top = max(score for _, score, _ in points)
    best = pick([v for v, score, _ in points if score == top])
    best_se = next(se for v, score, se in points if v == best and score == top)
    within = [v for v, score, _ in points if score >= top - best_se - 1e-12]
    return best, pick(within)


def _train_specs(
    specs: Sequence[RunSpec], models: Sequence[MLP], data: DataBundle
) -> list[FitResult]:
    """Train ``models`` (their current weights are the start) as one stack, one per spec."""
    first = specs[0].config
    members = [
        Member(model, spec.config.penalties(), spec.config.callbacks(), spec.seed)
        for spec, model in zip(specs, models)
    ]
    return train_many(
        members,
        data.X_train,
        data.y_train,
        data.X_val,
        data.y_val,
        optimizer=first.optimizer,
        lr=first.lr,
        epochs=first.epochs,
        batch_size=first.batch_size,
        device=first.device,
        verbose=0,
        feature_names=list(data.feature_names),
    )


def _fresh_models(specs: Sequence[RunSpec], data: DataBundle) -> list[MLP]:
    """Initial models exactly as :func:`~regulab.experiment.run_task` builds them."""
    return [
        replace(spec.config, seed=spec.seed).build_model(
            data.X_train.shape[1], data.n_outputs, data.task
        )
        for spec in specs
    ]


def _data_info(dataset: Dataset, bundle: DataBundle, config: TrainConfig) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "task": dataset.task,
        "n_train": len(bundle.X_train),
        "n_val": len(bundle.X_val),
        "n_test": len(bundle.X_test),
        "n_features": dataset.n_features,
        "fingerprint": bundle.fingerprint,
        "model": config.model or f"{dataset.n_features}-128-64-{bundle.n_outputs}",
    }


def _experiment_name(prefix: str, payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _aggregate(
    groups: Sequence[Sequence[RunRecord]], val_name: str, test_name: str
) -> dict[str, list[float]]:
    """Mean and standard error over seeds of the validation and test metrics per group."""
    out: dict[str, list[float]] = {
        key: [] for key in ("val_mean", "val_se", "test_mean", "test_se", "epochs_mean")
    }
    for runs in groups:
        val_mean, _, val_se = mean_ci([_val_value(r, val_name) for r in runs])
        test_mean, _, test_se = mean_ci([float(r.metrics[test_name]) for r in runs])
        out["val_mean"].append(val_mean)
        out["val_se"].append(val_se)
        out["test_mean"].append(test_mean)
        out["test_se"].append(test_se)
        out["epochs_mean"].append(float(np.mean([r.epochs_run for r in runs])))
    return out


def _require_hidden_layer(config: TrainConfig, data: DataBundle, owner: str) -> None:
    model = config.build_model(data.X_train.shape[1], data.n_outputs, data.task)
    if model.architecture.n_hidden == 0:
        raise InvalidParameterError(
            f"{owner} sweeps dropout after hidden layers, but the model "
            f"'{model.architecture.spec}' has no hidden layer; give one such as "
            f"'{data.X_train.shape[1]}-64-{data.n_outputs}'."
        )


def _check_common(owner: str, seeds: int, epochs: int, jobs: int) -> None:
    check_range("seeds", seeds, low=1, integer=True, owner=owner)
    check_range("epochs", epochs, low=1, integer=True, owner=owner)
    check_range("jobs", jobs, low=1, integer=True, owner=owner)


def _check_distinct(name: str, values: Sequence[float], owner: str) -> None:
    if len(values) == 0:
        raise InvalidParameterError(f"The '{name}' parameter of {owner} needs at least one value.")
    if len(set(values)) != len(values):
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} lists a value twice: {list(values)}."
        )


# -- regularization path ----------------------------------------------------------------------
@dataclass
class PathResult:
    """The outcome of :func:`regularization_path`.

    Per-strength lists follow ``strengths`` (strongest first); means and standard errors are
    over seeds.

    Attributes
    ----------
    penalty : str
        ``"l1"``, ``"l2"`` or ``"elastic_net"``.
    strengths : list of float
        The grid, descending (L1/L2 strength, or elastic net's ``alpha``).
    metric : str
        Validation metric used to choose: ``val_accuracy`` or ``val_r2``.
    test_metric : str
        ``test_accuracy`` or ``test_r2``.
    higher_is_better : bool
    val_mean, val_se, test_mean, test_se : list of float
    first_nonzero_mean, first_nonzero_se : list of float
        Non-zero entries of the first weight matrix.
    nonzero_mean, nonzero_se : list of float
        Non-zero entries of all weight matrices.
    epochs : list of int
        Epochs trained at each point.
    restarts : list of int
        Seeds restarted from their initial weights at each point (warm start only).
    lambda_min : float
        Strength with the best mean validation metric.
    lambda_1se : float
        Largest strength whose mean is within one standard error of the best (glmnet).
    test_at_min, test_at_1se : tuple of float
        ``(mean, se)`` of the test metric at ``lambda_min`` and ``lambda_1se``.
    strength_max_rule : dict
        How the strongest strength was chosen (``source``: given, default or computed, with
        ``gradient_estimate``, ``doublings`` and ``first_layer_zero_share`` when computed).
    warm_start : bool
    l1_ratio : float or None
        Elastic net's L1 share.
    records : list of RunRecord
        Every run, strength-major.
    data : dict
    experiment : str
        Store experiment name.
    resumed : int
        Runs found in the store instead of trained.
    """

    penalty: str
    strengths: list[float]
    metric: str
    test_metric: str
    higher_is_better: bool
    val_mean: list[float]
    val_se: list[float]
    test_mean: list[float]
    test_se: list[float]
    first_nonzero_mean: list[float]
    first_nonzero_se: list[float]
    nonzero_mean: list[float]
    nonzero_se: list[float]
    epochs: list[int]
    restarts: list[int]
    lambda_min: float
    lambda_1se: float
    test_at_min: tuple[float, float]
    test_at_1se: tuple[float, float]
    strength_max_rule: dict[str, Any]
    warm_start: bool
    l1_ratio: float | None
    records: list[RunRecord] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict)
    experiment: str = ""
    resumed: int = 0

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per strength (strongest first)."""
        return [
            {
                "strength": s,
                f"{self.metric}_mean": self.val_mean[i],
                f"{self.metric}_se": self.val_se[i],
                f"{self.test_metric}_mean": self.test_mean[i],
                f"{self.test_metric}_se": self.test_se[i],
                "first_nonzero_mean": self.first_nonzero_mean[i],
                "first_nonzero_se": self.first_nonzero_se[i],
                "nonzero_mean": self.nonzero_mean[i],
                "nonzero_se": self.nonzero_se[i],
                "epochs": self.epochs[i],
                "restarts": self.restarts[i],
                "lambda_min": s == self.lambda_min,
                "lambda_1se": s == self.lambda_1se,
            }
            for i, s in enumerate(self.strengths)
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary: ``schema_version``, ``kind`` ("path"), ``penalty``, ``metric``,
        ``test_metric``, ``points`` (:attr:`rows`), ``lambda_min``, ``lambda_1se``,
        ``test_at_min``/``test_at_1se`` (mean and se), ``strength_max_rule``, ``warm_start``,
        ``l1_ratio``, ``data``, ``experiment``, ``resumed`` and ``runs``."""
        return {
            "schema_version": PATHS_SCHEMA_VERSION,
            "kind": "path",
            "penalty": self.penalty,
            "group": f"path:{self.penalty}",
            "metric": self.metric,
            "test_metric": self.test_metric,
            "higher_is_better": self.higher_is_better,
            "points": self.rows,
            "lambda_min": self.lambda_min,
            "lambda_1se": self.lambda_1se,
            "test_at_min": {"mean": self.test_at_min[0], "se": self.test_at_min[1]},
            "test_at_1se": {"mean": self.test_at_1se[0], "se": self.test_at_1se[1]},
            "strength_max_rule": self.strength_max_rule,
            "warm_start": self.warm_start,
            "l1_ratio": self.l1_ratio,
            "data": self.data,
            "experiment": self.experiment,
            "resumed": self.resumed,
            "runs": [_run_json(r) for r in self.records],
        }


def _run_json(record: RunRecord) -> dict[str, Any]:
    return {
        "config": record.config_name,
        "seed": record.seed,
        "extra": record.extra,
        "metrics": record.metrics,
        "epochs_run": record.epochs_run,
        "stop_reason": record.stop_reason,
        "sparsity": record.sparsity["total"],
        "seconds": record.seconds,
    }


def _path_spec(
    penalty: str,
    strength: float,
    l1_ratio: float,
    base: TrainConfig,
    seed: int,
    extra: dict[str, Any],
) -> RunSpec:
    if penalty == "l1":
        name, config = f"l1={strength:.4g}", replace(base, l1=strength, prox_l1=True)
    elif penalty == "l2":
        name, config = f"l2={strength:.4g}", replace(base, l2=strength)
    else:
        name = f"elastic_net={strength:.4g}:{l1_ratio:g}"
        config = replace(base, elastic_net=(strength, l1_ratio), prox_l1=True)
    return RunSpec(name, config, seed, f"path:{penalty}", {"strength": strength, **extra})


def _grid(strength_max: float, ratio: float, n_strengths: int) -> list[float]:
    grid = np.geomspace(strength_max, strength_max * ratio, n_strengths)
    grid[0] = strength_max
    return [float(s) for s in grid]


def _gradient_scale(base: TrainConfig, data: DataBundle, batch_size: int) -> float:
    """Mean over minibatches of max |dL/dW1| at the initial weights with W1 set to zero."""
    X = torch.from_numpy(np.asarray(data.X_train, dtype=np.float32))
    dtype = np.float32 if data.task == "regression" else np.int64
    y = torch.from_numpy(np.asarray(data.y_train).astype(dtype))
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    starts = range(0, min(len(X), GRADIENT_BATCHES * batch_size), batch_size)

    def scale(zero_first: bool) -> float:
        model = replace(base, seed=0, device="cpu").build_model(
            X.shape[1], data.n_outputs, data.task
        )
        model.eval()
        first = penalized_weights(model)[0][1]
        if zero_first:
            with torch.no_grad():
                first.zero_()
        kind = head_kind(data.task, model.architecture.sizes[-1])
        values = []
        for start in starts:
            index = order[start : start + batch_size]
            model.zero_grad()
            scores = model(X[index]).unsqueeze(0)
            member_losses(scores, y[index].unsqueeze(0), kind).sum().backward()
            assert first.grad is not None
            values.append(float(first.grad.abs().max()))
        return float(np.mean(values)) if values else 0.0

    value = scale(zero_first=True)
    if not (value > 0 and math.isfinite(value)):  # every unit dead at W1 = 0
        value = scale(zero_first=False)
    return value if value > 0 and math.isfinite(value) else 1e-3


def _first_zero_share(result: FitResult) -> float:
    name = penalized_weights(result.model)[0][0]
    return float(result.sparsity.per_layer[name])


def _stored(store: Any, keys: Sequence[str], group: str) -> dict[str, RunRecord] | None:
    """The stored records of ``keys`` when every one of them is stored, else None."""
    if store is None or not keys:
        return None
    if not set(keys) <= store.keys():
        return None
    wanted = set(keys)
    found = {r.run_key: r for r in store.records(group=group) if r.run_key in wanted}
    return found if len(found) == len(wanted) else None


def regularization_path(
    data: str | Dataset,
    penalty: str = "l1",
    *,
    model: str | None = None,
    n_strengths: int = 10,
    strength_max: float | None = None,
    ratio: float = 1e-3,
    l1_ratio: float = 0.5,
    seeds: int = 3,
    epochs: int = 10,
    warm_start: bool = True,
    batch_size: int = 32,
    lr: float = 1e-3,
    store: Any = None,
    jobs: int = 1,
    verbose: int = 1,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    max_train: int | None = None,
    data_seed: int = 0,
    device: str = "auto",
) -> PathResult:
    """Train a log-spaced grid of penalty strengths, strongest first, and pick one (glmnet).

    The penalty applies to every weight matrix, as in :func:`~regulab.experiment.compare`;
    L1 and elastic net use the proximal step (exact zeros). Training uses Adam.

    Parameters
    ----------
    data : str or Dataset
        Built-in name, file path or :class:`~regulab.data.Dataset`.
    penalty : {"l1", "l2", "elastic_net"}, default="l1"
    model : str, optional
        Layer sizes; default ``inputs-128-64-outputs``.
    n_strengths : int, default=10
        Grid points, >= 2.
    strength_max : float, optional
        Strongest strength (elastic net: ``alpha``), > 0. When None: for L1 and elastic net,
        the data-driven rule below; for L2, ``1.0`` (then ``2 * l2 * w`` outweighs data
        gradients of order 0.1-1 on standardized inputs and the weights shrink to near zero;
        L2 never makes exact zeros).
    ratio : float, default=1e-3
        The weakest strength is ``strength_max * ratio``, in (0, 1).
    l1_ratio : float, default=0.5
        Elastic net's L1 share, in (0, 1].
    seeds : int, default=3
        Seeds 0..seeds-1 at every strength (>= 1).
    epochs : int, default=10
        Epochs per run; with ``warm_start`` the first point trains ``epochs`` epochs and each
        later point ``max(1, epochs // 2)``.
    warm_start : bool, default=True
        glmnet's way: each seed's path runs from the strongest strength to the weakest, each
        point starting from the previous point's weights (the optimizer state restarts; the
        seeds train as one stack at each point). One deviation from glmnet, which networks
        need: a seed whose network is *trapped* (two or more weight matrices entirely zero,
        which L1 on every layer produces at the strongest points) is an exact stationary
        point of the data loss that no warm start leaves, so that seed restarts from its
        initial weights at the next point (``extra["restarted"]`` is True in its record). A
        stored path is reused only when all of it is stored. With False every strength and
        seed is an independent run (stacked, parallel with ``jobs``, resumable run by run
        from ``store``).
    batch_size, lr : int, float
        Shared training settings.
    store : ResultsStore, optional
        Runs are saved there (group ``path:<penalty>``, ``extra={"strength": s}``) and reused.
    jobs : int, default=1
        Worker processes for ``warm_start=False``.
    verbose : int, default=1
        0 silences the progress bar.
    target, task, mnist_dir, max_train, data_seed
        How the data is loaded and split (see :func:`~regulab.experiment.prepare_data`).
    device : str, default="auto"

    Returns
    -------
    PathResult

    Notes
    -----
    **Choosing strength_max for L1 and elastic net.** glmnet starts at ``lambda_max``, the
    smallest strength at which all-zero coefficients satisfy the optimality condition
    ``|grad| <= lambda``. Here the proximal step is taken in Adam's metric: a first-layer
    weight at zero stays at zero after a step exactly when ``|m_hat| <= l1`` (``m_hat`` is
    Adam's bias-corrected gradient average), but the gradient moves as the other layers train,
    so there is no closed form. The rule used:

    1. ``g`` = the mean over the first 8 minibatches (``batch_size`` rows, a fixed seed-0
       order) of ``max |dL/dW1|``, at seed 0's initial weights with the first weight matrix
       set to zero; divided by ``l1_ratio`` for elastic net.
    2. Training starts from random weights, not from zero, and has ``epochs`` epochs to
       shrink them, so ``g`` is verified: every seed is trained at ``g`` exactly as the first
       path point is trained; if any seed's first weight matrix is less than 99% exact zeros
       the strength is doubled and tried again, at most 6 times (a RuntimeWarning says when
       even ``64 g`` does not suffice; the last strength is kept). The verified runs are the
       path's first point, so the check costs nothing when ``g`` already suffices.

    Examples
    --------
    >>> path = regularization_path("iris", model="4-16-3", n_strengths=3, seeds=2, epochs=3,
    ...                            verbose=0)
    >>> len(path.strengths), path.strengths[0] > path.strengths[-1]
    (3, True)
    >>> path.lambda_1se >= path.lambda_min
    True
    """
    owner = "regularization_path"
    if penalty not in PATH_PENALTIES:
        raise InvalidParameterError(
            f"The 'penalty' parameter of {owner} must be one of {', '.join(PATH_PENALTIES)}. "
            f"Got {penalty!r} instead." + did_you_mean(str(penalty), PATH_PENALTIES)
        )
    check_range("n_strengths", n_strengths, low=2, integer=True, owner=owner)
    check_range("ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True, owner=owner)
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True, owner=owner)
    _check_common(owner, seeds, epochs, jobs)
    if strength_max is not None:
        check_range("strength_max", strength_max, low=0.0, low_open=True, owner=owner)
    dataset, bundle, base = prepare_experiment(
        data,
        target=target,
        task=task,
        mnist_dir=mnist_dir,
        data_seed=data_seed,
        max_train=max_train,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer="adam",
        device=device,
    )
    probe = base.build_model(bundle.X_train.shape[1], bundle.n_outputs, bundle.task)
    numels = {name: w.numel() for name, w in penalized_weights(probe)}
    ratio_value = l1_ratio if penalty == "elastic_net" else 1.0
    later_epochs = max(1, epochs // 2)
    group = f"path:{penalty}"
    fingerprint = bundle.fingerprint

    def point_specs(grid: list[float], index: int) -> list[RunSpec]:
        strength = grid[index]
        if not warm_start:
            return [
                _path_spec(penalty, strength, ratio_value, base, seed, {}) for seed in range(seeds)
            ]
        config = replace(base, epochs=epochs if index == 0 else later_epochs)
        extra = {"warm_start": True, "step": index}
        return [
            _path_spec(penalty, strength, ratio_value, config, seed, extra) for seed in range(seeds)
        ]

    def spec_key(spec: RunSpec, grid: list[float]) -> str:
        if not warm_start:
            return spec.key(fingerprint)
        payload = {
            **spec.config.to_dict(),
            "group": spec.group,
            **spec.extra,
            "warm_path": {"grid": grid, "epochs": epochs},
        }
        return run_key(spec.config_name, payload, spec.seed, fingerprint)

    def stored_for(grid: list[float]) -> dict[str, RunRecord] | None:
        points = range(len(grid)) if warm_start else range(1)
        keys = [spec_key(s, grid) for i in points for s in point_specs(grid, i)]
        return _stored(store, keys, group)

    first_results: list[FitResult] | None = None
    rule: dict[str, Any]
    if strength_max is not None:
        rule = {"source": "given"}
    elif penalty == "l2":
        strength_max = L2_STRENGTH_MAX
        rule = {"source": "default", "value": L2_STRENGTH_MAX}
    else:
        estimate = _gradient_scale(base, bundle, batch_size) / ratio_value
        rule = {"source": "computed", "gradient_estimate": estimate}
        candidates = [estimate * 2.0**k for k in range(MAX_DOUBLINGS + 1)]
        first_name = next(iter(numels))
        for k, candidate in enumerate(candidates):
            found = stored_for(_grid(candidate, ratio, n_strengths))
            if found is not None:  # only a verified strength is ever stored
                strength_max = candidate
                share = min(
                    r.sparsity["per_layer"][first_name]
                    for r in found.values()
                    if r.extra.get("step", 0) == 0
                )
                rule.update(doublings=k, first_layer_zero_share=share, reused=True)
                break
        else:
            for k, candidate in enumerate(candidates):
                specs = point_specs(_grid(candidate, ratio, n_strengths), 0)
                first_results = _train_specs(specs, _fresh_models(specs, bundle), bundle)
                share = min(_first_zero_share(r) for r in first_results)
                strength_max = candidate
                rule.update(doublings=k, first_layer_zero_share=share)
                if share >= SPARSE_ENOUGH:
                    break
            else:
                warnings.warn(
                    f"regularization_path: even {candidates[-1]:.4g} ({2**MAX_DOUBLINGS} times "
                    f"the gradient estimate {estimate:.4g}) left only "
                    f"{rule['first_layer_zero_share']:.0%} of the first layer at zero after "
                    f"{epochs} epochs; pass strength_max or more epochs.",
                    RuntimeWarning,
                    stacklevel=2,
                )
    assert strength_max is not None
    grid = _grid(strength_max, ratio, n_strengths)
    experiment = _experiment_name(
        f"path-{penalty}",
        [fingerprint, grid, base.to_dict(), seeds, warm_start, ratio_value, later_epochs],
    )
    all_specs = [point_specs(grid, i) for i in range(n_strengths)]
    if warm_start:
        records, resumed = _warm_path(
            all_specs,
            grid,
            bundle,
            store,
            experiment,
            first_results,
            stored_for,
            spec_key,
            verbose,
        )
    else:
        records, resumed = _cold_path(
            all_specs, bundle, store, experiment, first_results, jobs, verbose
        )
    return _path_result(
        penalty,
        grid,
        records,
        all_specs,
        bundle,
        dataset,
        base,
        numels,
        rule,
        warm_start,
        l1_ratio if penalty == "elastic_net" else None,
        experiment,
        resumed,
    )


def _progress(verbose: int, label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        MofNCompleteColumn(),
        BarColumn(),
        TimeElapsedColumn(),
        disable=not verbose,
    )


def _warm_path(
    all_specs: list[list[RunSpec]],
    grid: list[float],
    bundle: DataBundle,
    store: Any,
    experiment: str,
    first_results: list[FitResult] | None,
    stored_for: Callable[[list[float]], dict[str, RunRecord] | None],
    spec_key: Callable[[RunSpec, list[float]], str],
    verbose: int,
) -> tuple[list[RecordList], int]:
    keys = [[spec_key(spec, grid) for spec in specs] for specs in all_specs]
    found = stored_for(grid)
    if found is not None:
        return [[found[k] for k in point] for point in keys], sum(len(p) for p in keys)
    records: list[RecordList] = []
    models: list[MLP] = []
    with _progress(verbose, "path") as progress:
        bar = progress.add_task("", total=sum(len(s) for s in all_specs))
        for index, specs in enumerate(all_specs):
            restarted = [False] * len(specs)
            if index == 0:
                results = first_results or _train_specs(specs, _fresh_models(specs, bundle), bundle)
            else:
                restarted = [_trapped(model) for model in models]
                if any(restarted):
                    fresh = _fresh_models(specs, bundle)
                    models = [f if r else m for m, f, r in zip(models, fresh, restarted)]
                results = _train_specs(specs, models, bundle)
            models = [cast(MLP, r.model) for r in results]
            point = [
                record_from_result(
                    spec, result, bundle, __version__, key=key, seconds=result.seconds / len(specs)
                )
                for spec, result, key in zip(specs, results, keys[index])
            ]
            for record, restart in zip(point, restarted):
                record.extra["restarted"] = restart
            if store is not None:
                for record in point:
                    store.add(record, experiment)
            records.append(point)
            progress.update(bar, advance=len(specs))
    return records, 0


def _trapped(model: MLP) -> bool:
    """True when two or more weight matrices are entirely zero.

    The forward signal is then cut at the first of them (later activations are constant) and
    the backward signal at the last, so once the biases fit, no weight receives a data
    gradient: an exact stationary point of the unpenalized loss that warm starts never leave.
    """
    return sum(not bool(w.detach().any()) for _, w in penalized_weights(model)) >= 2


def _cold_path(
    all_specs: list[list[RunSpec]],
    bundle: DataBundle,
    store: Any,
    experiment: str,
    first_results: list[FitResult] | None,
    jobs: int,
    verbose: int,
) -> tuple[list[RecordList], int]:
    done: dict[str, RunRecord] = {}
    if first_results is not None:
        for spec, result in zip(all_specs[0], first_results):
            key = spec.key(bundle.fingerprint)
            done[key] = record_from_result(
                spec,
                result,
                bundle,
                __version__,
                key=key,
                seconds=result.seconds / len(first_results),
            )
            if store is not None:
                store.add(done[key], experiment)
    missing = [s for specs in all_specs for s in specs if s.key(bundle.fingerprint) not in done]
    trained, resumed = run_specs(
        missing, bundle, store=store, experiment=experiment, jobs=jobs, verbose=verbose
    )
    done.update({r.run_key: r for r in trained})
    return [[done[s.key(bundle.fingerprint)] for s in specs] for specs in all_specs], resumed


def _path_result(
    penalty: str,
    grid: list[float],
    records: list[RecordList],
    all_specs: list[list[RunSpec]],
    bundle: DataBundle,
    dataset: Dataset,
    base: TrainConfig,
    numels: dict[str, int],
    rule: dict[str, Any],
    warm_start: bool,
    l1_ratio: float | None,
    experiment: str,
    resumed: int,
) -> PathResult:
    val_name, higher = val_metric(bundle.task)
    test_name, _ = main_metric(bundle.task)
    stats = _aggregate(records, val_name, test_name)
    first_name = next(iter(numels))

    def nonzero(record: RunRecord, names: Sequence[str]) -> float:
        per_layer = record.sparsity["per_layer"]
        return float(sum(round((1.0 - per_layer[n]) * numels[n]) for n in names))

    first = [mean_ci([nonzero(r, [first_name]) for r in point]) for point in records]
    total = [mean_ci([nonzero(r, list(numels)) for r in point]) for point in records]
    lambda_min, lambda_1se = one_se_rule(
        grid, stats["val_mean"], stats["val_se"], higher_is_better=higher, prefer="largest"
    )

    def test_at(strength: float) -> tuple[float, float]:
        if not math.isfinite(strength):
            return math.nan, math.nan
        index = grid.index(strength)
        return stats["test_mean"][index], stats["test_se"][index]

    return PathResult(
        penalty=penalty,
        strengths=grid,
        metric=val_name,
        test_metric=test_name,
        higher_is_better=higher,
        val_mean=stats["val_mean"],
        val_se=stats["val_se"],
        test_mean=stats["test_mean"],
        test_se=stats["test_se"],
        first_nonzero_mean=[m for m, _, _ in first],
        first_nonzero_se=[se for _, _, se in first],
        nonzero_mean=[m for m, _, _ in total],
        nonzero_se=[se for _, _, se in total],
        epochs=[specs[0].config.epochs for specs in all_specs],
        restarts=[sum(bool(r.extra.get("restarted")) for r in point) for point in records],
        lambda_min=lambda_min,
        lambda_1se=lambda_1se,
        test_at_min=test_at(lambda_min),
        test_at_1se=test_at(lambda_1se),
        strength_max_rule=rule,
        warm_start=warm_start,
        l1_ratio=l1_ratio,
        records=[r for point in records for r in point],
        data=_data_info(dataset, bundle, base),
        experiment=experiment,
        resumed=resumed,
    )


# -- one-parameter curves ---------------------------------------------------------------------
@dataclass
class CurveResult:
    """The outcome of :func:`dropout_curve` or :func:`patience_curve`.

    Per-value lists follow ``values`` (as given); means and standard errors are over seeds.

    Attributes
    ----------
    parameter : str
        ``"rate"`` or ``"patience"``.
    group : str
        ``"dropout_curve"`` or ``"patience_curve"``.
    values : list of float
        The swept values.
    metric, test_metric : str
        Validation metric used to choose, and the reported test metric.
    higher_is_better : bool
    val_mean, val_se, test_mean, test_se : list of float
    epochs_mean : list of float
        Epochs run (fewer than the maximum when early stopping stopped).
    best : float
        Value with the best mean validation metric.
    one_se : float
        Smallest value (the simpler end: a lower rate, a shorter patience) whose mean is
        within one standard error of the best.
    records : list of RunRecord
    data : dict
    experiment : str
    resumed : int
    """

    parameter: str
    group: str
    values: list[float]
    metric: str
    test_metric: str
    higher_is_better: bool
    val_mean: list[float]
    val_se: list[float]
    test_mean: list[float]
    test_se: list[float]
    epochs_mean: list[float]
    best: float
    one_se: float
    records: list[RunRecord] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict)
    experiment: str = ""
    resumed: int = 0

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per swept value."""
        return [
            {
                self.parameter: v,
                f"{self.metric}_mean": self.val_mean[i],
                f"{self.metric}_se": self.val_se[i],
                f"{self.test_metric}_mean": self.test_mean[i],
                f"{self.test_metric}_se": self.test_se[i],
                "epochs_mean": self.epochs_mean[i],
                "best": v == self.best,
                "one_se": v == self.one_se,
            }
            for i, v in enumerate(self.values)
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary: ``schema_version``, ``kind`` ("curve"), ``group``,
        ``parameter``, ``metric``, ``test_metric``, ``points`` (:attr:`rows`), ``best``,
        ``one_se``, ``data``, ``experiment``, ``resumed`` and ``runs``."""
        return {
            "schema_version": PATHS_SCHEMA_VERSION,
            "kind": "curve",
            "group": self.group,
            "parameter": self.parameter,
            "metric": self.metric,
            "test_metric": self.test_metric,
            "higher_is_better": self.higher_is_better,
            "points": self.rows,
            "best": self.best,
            "one_se": self.one_se,
            "data": self.data,
            "experiment": self.experiment,
            "resumed": self.resumed,
            "runs": [_run_json(r) for r in self.records],
        }


def _curve(
    group: str,
    parameter: str,
    values: Sequence[float],
    configs: Sequence[tuple[str, TrainConfig]],
    dataset: Dataset,
    bundle: DataBundle,
    base: TrainConfig,
    seeds: int,
    store: Any,
    jobs: int,
    verbose: int,
) -> CurveResult:
    for _, config in configs:  # fail fast on a config the model cannot take
        config.build_model(bundle.X_train.shape[1], bundle.n_outputs, bundle.task)
    specs = [
        [RunSpec(name, config, seed, group, {parameter: value}) for seed in range(seeds)]
        for value, (name, config) in zip(values, configs)
    ]
    experiment = _experiment_name(group, [bundle.fingerprint, list(values), base.to_dict(), seeds])
    flat, resumed = run_specs(
        [s for point in specs for s in point],
        bundle,
        store=store,
        experiment=experiment,
        jobs=jobs,
        verbose=verbose,
    )
    records = [flat[i * seeds : (i + 1) * seeds] for i in range(len(values))]
    val_name, higher = val_metric(bundle.task)
    test_name, _ = main_metric(bundle.task)
    stats = _aggregate(records, val_name, test_name)
    best, one_se = one_se_rule(
        list(values),
        stats["val_mean"],
        stats["val_se"],
        higher_is_better=higher,
        prefer="smallest",
    )
    return CurveResult(
        parameter=parameter,
        group=group,
        values=list(values),
        metric=val_name,
        test_metric=test_name,
        higher_is_better=higher,
        val_mean=stats["val_mean"],
        val_se=stats["val_se"],
        test_mean=stats["test_mean"],
        test_se=stats["test_se"],
        epochs_mean=stats["epochs_mean"],
        best=best,
        one_se=one_se,
        records=flat,
        data=_data_info(dataset, bundle, base),
        experiment=experiment,
        resumed=resumed,
    )


def dropout_curve(
    data: str | Dataset,
    rates: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7),
    *,
    model: str | None = None,
    seeds: int = 3,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    store: Any = None,
    jobs: int = 1,
    verbose: int = 1,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    max_train: int | None = None,
    data_seed: int = 0,
    device: str = "auto",
) -> CurveResult:
    """Validation and test metric against the dropout rate of every hidden layer.

    All rates share one architecture, so every rate and seed trains in one stack (or a few).
    The best rate has the best mean validation metric; the one-SE choice is the lowest rate
    within one standard error of it.

    Parameters
    ----------
    data : str or Dataset
    rates : sequence of float
        Distinct rates in [0, 1), applied after every hidden layer (the model needs one).
    model : str, optional
        Layer sizes; default ``inputs-128-64-outputs``.
    seeds : int, default=3
        Seeds 0..seeds-1 per rate (>= 1).
    epochs, batch_size, lr
        Shared training settings (Adam).
    store : ResultsStore, optional
        Runs are saved there (group ``dropout_curve``, ``extra={"rate": r}``) and reused.
    jobs, verbose, target, task, mnist_dir, max_train, data_seed, device
        As in :func:`regularization_path`.

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> curve = dropout_curve("iris", rates=(0.0, 0.3), model="4-16-3", seeds=2, epochs=2,
    ...                       verbose=0)
    >>> [row["rate"] for row in curve.rows]
    [0.0, 0.3]
    """
    owner = "dropout_curve"
    _check_common(owner, seeds, epochs, jobs)
    _check_distinct("rates", rates, owner)
    for rate in rates:
        check_range("rates", rate, low=0.0, high=1.0, high_open=True, owner=owner)
    dataset, bundle, base = prepare_experiment(
        data,
        target=target,
        task=task,
        mnist_dir=mnist_dir,
        data_seed=data_seed,
        max_train=max_train,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
    )
    _require_hidden_layer(base, bundle, "dropout_curve")
    configs = [(f"dropout={r:g}", replace(base, dropout=(float(r),))) for r in rates]
    return _curve(
        "dropout_curve",
        "rate",
        [float(r) for r in rates],
        configs,
        dataset,
        bundle,
        base,
        seeds,
        store,
        jobs,
        verbose,
    )


def patience_curve(
    data: str | Dataset,
    patiences: Sequence[int] = (0, 1, 2, 3, 5, 8, 13),
    *,
    monitor: str = "val_loss",
    model: str | None = None,
    seeds: int = 3,
    epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-3,
    store: Any = None,
    jobs: int = 1,
    verbose: int = 1,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    max_train: int | None = None,
    data_seed: int = 0,
    device: str = "auto",
) -> CurveResult:
    """Validation and test metric and epochs run against early stopping's patience.

    Each run stops after ``patience`` epochs without improvement of ``monitor`` (or at
    ``epochs``) and restores its best weights. The best patience has the best mean
    validation metric (at the restored weights); the one-SE choice is the shortest patience
    within one standard error of it.

    Parameters
    ----------
    data : str or Dataset
    patiences : sequence of int
        Distinct patiences, >= 0.
    monitor : str, default="val_loss"
        What early stopping watches.
    model : str, optional
    seeds : int, default=3
    epochs : int, default=50
        Maximum epochs per run.
    store : ResultsStore, optional
        Runs are saved there (group ``patience_curve``, ``extra={"patience": p}``).
    batch_size, lr, jobs, verbose, target, task, mnist_dir, max_train, data_seed, device
        As in :func:`dropout_curve`.

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> curve = patience_curve("iris", patiences=(0, 2), model="4-16-3", seeds=2, epochs=4,
    ...                        verbose=0)
    >>> curve.best in (0, 2)
    True
    """
    owner = "patience_curve"
    _check_common(owner, seeds, epochs, jobs)
    _check_distinct("patiences", patiences, owner)
    for patience in patiences:
        check_range("patiences", patience, low=0, integer=True, owner=owner)
    dataset, bundle, base = prepare_experiment(
        data,
        target=target,
        task=task,
        mnist_dir=mnist_dir,
        data_seed=data_seed,
        max_train=max_train,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
    )
    configs = [
        (f"early_stopping={monitor}:{p}", replace(base, early_stopping=(monitor, int(p))))
        for p in patiences
    ]
    return _curve(
        "patience_curve",
        "patience",
        [int(p) for p in patiences],
        configs,
        dataset,
        bundle,
        base,
        seeds,
        store,
        jobs,
        verbose,
    )
