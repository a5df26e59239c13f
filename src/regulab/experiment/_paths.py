"""Regularization paths: a grid of L1, L2 or elastic-net strengths, strongest first (glmnet).

:func:`regularization_path` trains the grid of :mod:`._grid`, warm-started from one strength
to the next (or every point cold, in parallel), and picks ``lambda_min`` and ``lambda_1se``
by :func:`regulab.stats.one_se_rule` on the mean *validation* metric (``val_accuracy`` or
``val_r2`` at the weights each run returns); the test metric is reported beside and never
used to choose. A point where any seed diverged (a non-finite validation metric) is never
chosen.

Every run becomes a :class:`~regulab.experiment.RunRecord` with group ``path:<penalty>``
(``extra={"strength": s}``); with a results store they are saved as they finish and reused
when the same path runs again.

Examples
--------
>>> from regulab.experiment import regularization_path
>>> path = regularization_path("iris", model="4-16-3", n_strengths=3, seeds=2, epochs=2,
...                            verbose=0)
>>> path.metric, path.lambda_1se >= path.lambda_min
('val_accuracy', True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Unpack

from regulab.config import TrainConfig
from regulab.custom import refuse_custom
from regulab.data import Dataset
from regulab.errors import check_choice, check_range
from regulab.experiment._compare import data_info, prepare_experiment
from regulab.experiment._grid import (
    L2_STRENGTH_MAX,
    gradient_scale,
    strength_grid,
    verified_strength_max,
)
from regulab.experiment._path_runners import RecordList, cold_path, stored_records, warm_path
from regulab.experiment._records import RunRecord, run_key
from regulab.experiment._runner import DataBundle, RunSpec, fresh_models, train_stack
from regulab.experiment._setup import StackOptions, run_options, setup_arguments, shared_options
from regulab.experiment._sweep import (
    PATHS_SCHEMA_VERSION,
    SweepResult,
    check_common,
    experiment_name,
    sweep_fields,
)
from regulab.penalties import penalized_weights
from regulab.stats import mean_ci, one_se_rule
from regulab.training import FitResult

__all__ = ["PathResult", "regularization_path", "PATH_PENALTIES", "PATHS_SCHEMA_VERSION"]

PATH_PENALTIES = ("l1", "l2", "elastic_net")


@dataclass
class PathResult(SweepResult):
    """The outcome of :func:`regularization_path`.

    Per-strength lists follow ``strengths`` (strongest first); means and standard errors are
    over seeds. The statistics and provenance shared with curves are those of
    :class:`~regulab.experiment._sweep.SweepResult`.

    Attributes
    ----------
    penalty : str
        ``"l1"``, ``"l2"`` or ``"elastic_net"``.
    strengths : list of float
        The grid, descending (L1/L2 strength, or elastic net's ``alpha``).
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
    """

    penalty: str
    strengths: list[float]
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

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per strength (strongest first)."""
        chosen = {"lambda_min": self.lambda_min, "lambda_1se": self.lambda_1se}
        return [
            self.point_row(
                i,
                "strength",
                s,
                {
                    "first_nonzero_mean": self.first_nonzero_mean[i],
                    "first_nonzero_se": self.first_nonzero_se[i],
                    "nonzero_mean": self.nonzero_mean[i],
                    "nonzero_se": self.nonzero_se[i],
                    "epochs": self.epochs[i],
                    "restarts": self.restarts[i],
                },
                chosen,
            )
            for i, s in enumerate(self.strengths)
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary: ``schema_version``, ``kind`` ("path"), ``penalty``, ``metric``,
        ``test_metric``, ``points`` (:attr:`rows`), ``lambda_min``, ``lambda_1se``,
        ``test_at_min``/``test_at_1se`` (mean and se), ``strength_max_rule``, ``warm_start``,
        ``l1_ratio``, ``data``, ``experiment``, ``resumed`` and ``runs``."""
        return self.sweep_json(
            "path",
            {"penalty": self.penalty, "group": f"path:{self.penalty}"},
            self.rows,
            {
                "lambda_min": self.lambda_min,
                "lambda_1se": self.lambda_1se,
                "test_at_min": {"mean": self.test_at_min[0], "se": self.test_at_min[1]},
                "test_at_1se": {"mean": self.test_at_1se[0], "se": self.test_at_1se[1]},
                "strength_max_rule": self.strength_max_rule,
                "warm_start": self.warm_start,
                "l1_ratio": self.l1_ratio,
            },
        )


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


@shared_options(StackOptions)
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
    **options: Unpack[StackOptions],
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
    settings = run_options(owner, StackOptions, options)
    batch_size, store, jobs, verbose = (
        settings[k] for k in ("batch_size", "store", "jobs", "verbose")
    )
    check_choice("penalty", penalty, PATH_PENALTIES, owner=owner)
    check_range("n_strengths", n_strengths, low=2, integer=True, owner=owner)
    check_range("ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True, owner=owner)
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True, owner=owner)
    check_common(owner, seeds, epochs, jobs)
    refuse_custom(model, owner)
    if strength_max is not None:
        check_range("strength_max", strength_max, low=0.0, low_open=True, owner=owner)
    dataset, bundle, base = prepare_experiment(
        data, **setup_arguments({**locals(), **settings}), optimizer="adam"
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
        return stored_records(store, keys, group)

    first_results: list[FitResult] | None = None
    rule: dict[str, Any]
    if strength_max is not None:
        rule = {"source": "given"}
    elif penalty == "l2":
        strength_max = L2_STRENGTH_MAX
        rule = {"source": "default", "value": L2_STRENGTH_MAX}
    else:
        first_name = next(iter(numels))

        def stored_share(grid: list[float]) -> float | None:
            found = stored_for(grid)
            if found is None:
                return None
            first = [r for r in found.values() if r.extra.get("step", 0) == 0]
            return min(r.sparsity["per_layer"][first_name] for r in first)

        def train_first(grid: list[float]) -> list[FitResult]:
            specs = point_specs(grid, 0)
            return train_stack(specs, fresh_models(specs, bundle), bundle)

        strength_max, rule, first_results = verified_strength_max(
            gradient_scale(base, bundle, batch_size) / ratio_value,
            lambda top: strength_grid(top, ratio, n_strengths),
            stored_share,
            train_first,
            epochs,
        )
    assert strength_max is not None
    grid = strength_grid(strength_max, ratio, n_strengths)
    experiment = experiment_name(
        f"path-{penalty}",
        [fingerprint, grid, base.to_dict(), seeds, warm_start, ratio_value, later_epochs],
    )
    all_specs = [point_specs(grid, i) for i in range(n_strengths)]
    if warm_start:
        records, resumed = warm_path(
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
        records, resumed = cold_path(
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
    fields, stats = sweep_fields(
        records, bundle, data_info(dataset, bundle, base), experiment, resumed
    )
    first_name = next(iter(numels))

    def nonzero(record: RunRecord, names: Sequence[str]) -> float:
        per_layer = record.sparsity["per_layer"]
        return float(sum(round((1.0 - per_layer[n]) * numels[n]) for n in names))

    first = [mean_ci([nonzero(r, [first_name]) for r in point]) for point in records]
    total = [mean_ci([nonzero(r, list(numels)) for r in point]) for point in records]
    lambda_min, lambda_1se = one_se_rule(
        grid,
        stats["choice_mean"],
        stats["val_se"],
        higher_is_better=fields["higher_is_better"],
        prefer="largest",
    )

    def test_at(strength: float) -> tuple[float, float]:
        if not math.isfinite(strength):
            return math.nan, math.nan
        index = grid.index(strength)
        return stats["test_mean"][index], stats["test_se"][index]

    return PathResult(
        **fields,
        penalty=penalty,
        strengths=grid,
        first_nonzero_mean=[ci.mean for ci in first],
        first_nonzero_se=[ci.se for ci in first],
        nonzero_mean=[ci.mean for ci in total],
        nonzero_se=[ci.se for ci in total],
        epochs=[specs[0].config.epochs for specs in all_specs],
        restarts=[sum(bool(r.extra.get("restarted")) for r in point) for point in records],
        lambda_min=lambda_min,
        lambda_1se=lambda_1se,
        test_at_min=test_at(lambda_min),
        test_at_1se=test_at(lambda_1se),
        strength_max_rule=rule,
        warm_start=warm_start,
        l1_ratio=l1_ratio,
    )
