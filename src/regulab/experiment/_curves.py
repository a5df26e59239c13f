"""One-parameter curves: validation and test metric against a dropout rate or a patience.

:func:`dropout_curve` and :func:`patience_curve` sweep a dropout rate or an early-stopping
patience. Each picks the value with the best mean *validation* metric and, by the
one-standard-error rule, the simplest value (the lowest rate, the shortest patience) whose
mean lies within one standard error of it (:func:`regulab.stats.one_se_rule`); test metrics
are reported beside and never used to choose. A value where any seed diverged is never
chosen.

Every run becomes a :class:`~regulab.experiment.RunRecord` with group ``dropout_curve``
(``extra={"rate": r}``) or ``patience_curve`` (``extra={"patience": p}``); with a results
store they are saved as they finish and reused when the same curve runs again.

Examples
--------
>>> from regulab.experiment import dropout_curve
>>> curve = dropout_curve("iris", rates=(0.0, 0.5), model="4-16-3", seeds=2, epochs=2,
...                       verbose=0)
>>> curve.values, curve.best in curve.values
([0.0, 0.5], True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Unpack

from regulab.config import TrainConfig
from regulab.custom import refuse_custom
from regulab.data import Dataset
from regulab.errors import check_range
from regulab.experiment._compare import data_info, prepare_experiment, run_specs
from regulab.experiment._runner import RunSpec
from regulab.experiment._setup import StackOptions, run_options, setup_arguments, shared_options
from regulab.experiment._sweep import (
    SweepResult,
    check_common,
    check_distinct,
    experiment_name,
    require_hidden_layer,
    sweep_fields,
)
from regulab.stats import one_se_rule

__all__ = ["CurveResult", "dropout_curve", "patience_curve"]


@dataclass
class CurveResult(SweepResult):
    """The outcome of :func:`dropout_curve` or :func:`patience_curve`.

    Per-value lists follow ``values`` (as given); means and standard errors are over seeds.
    The statistics and provenance shared with paths are those of
    :class:`~regulab.experiment._sweep.SweepResult`.

    Attributes
    ----------
    parameter : str
        ``"rate"`` or ``"patience"``.
    group : str
        ``"dropout_curve"`` or ``"patience_curve"``.
    values : list of float
        The swept values.
    epochs_mean : list of float
        Epochs run (fewer than the maximum when early stopping stopped).
    best : float
        Value with the best mean validation metric.
    one_se : float
        Smallest value (the simpler end: a lower rate, a shorter patience) whose mean is
        within one standard error of the best.
    """

    parameter: str
    group: str
    values: list[float]
    epochs_mean: list[float]
    best: float
    one_se: float

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per swept value."""
        chosen = {"best": self.best, "one_se": self.one_se}
        return [
            self.point_row(i, self.parameter, v, {"epochs_mean": self.epochs_mean[i]}, chosen)
            for i, v in enumerate(self.values)
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary: ``schema_version``, ``kind`` ("curve"), ``group``,
        ``parameter``, ``metric``, ``test_metric``, ``points`` (:attr:`rows`), ``best``,
        ``one_se``, ``data``, ``experiment``, ``resumed`` and ``runs``."""
        return self.sweep_json(
            "curve",
            {"group": self.group, "parameter": self.parameter},
            self.rows,
            {"best": self.best, "one_se": self.one_se},
        )


def _curve(
    group: str,
    parameter: str,
    argument: str,
    bounds: Mapping[str, Any],
    make_config: Callable[[TrainConfig, float], tuple[str, TrainConfig]],
    arguments: Mapping[str, Any],
    *,
    needs_hidden_layer: bool = False,
) -> CurveResult:
    """Check the arguments of curve ``group`` (``arguments``: its ``locals()``, the shared
    ``options`` among them, see :class:`~regulab.experiment._setup.StackOptions`; the swept
    values in ``arguments[argument]``, each within ``bounds`` of :func:`check_range`), load
    and split the data, train ``make_config(base, value)`` for every value and seed, and
    choose on validation."""
    arguments = {**arguments, **run_options(group, StackOptions, arguments["options"])}
    seeds, store, jobs, verbose = (arguments[k] for k in ("seeds", "store", "jobs", "verbose"))
    check_common(group, seeds, arguments["epochs"], jobs)
    refuse_custom(arguments["model"], group)
    check_distinct(argument, arguments[argument], group)
    for value in arguments[argument]:
        check_range(argument, value, owner=group, **bounds)
    kind = int if bounds.get("integer") else float
    values = [kind(value) for value in arguments[argument]]
    dataset, bundle, base = prepare_experiment(arguments["data"], **setup_arguments(arguments))
    if needs_hidden_layer:
        require_hidden_layer(base, bundle, group)
    configs = [make_config(base, value) for value in values]
    for _, config in configs:  # fail fast on a config the model cannot take
        config.build_model(bundle.X_train.shape[1], bundle.n_outputs, bundle.task)
    specs = [
        [RunSpec(name, config, seed, group, {parameter: value}) for seed in range(seeds)]
        for value, (name, config) in zip(values, configs)
    ]
    experiment = experiment_name(group, [bundle.fingerprint, list(values), base.to_dict(), seeds])
    flat, resumed = run_specs(
        [s for point in specs for s in point],
        bundle,
        store=store,
        experiment=experiment,
        jobs=jobs,
        verbose=verbose,
    )
    records = [flat[i * seeds : (i + 1) * seeds] for i in range(len(values))]
    fields, stats = sweep_fields(
        records, bundle, data_info(dataset, bundle, base), experiment, resumed
    )
    best, one_se = one_se_rule(
        list(values),
        stats["choice_mean"],
        stats["val_se"],
        higher_is_better=fields["higher_is_better"],
        prefer="smallest",
    )
    return CurveResult(
        **fields,
        parameter=parameter,
        group=group,
        values=list(values),
        epochs_mean=stats["epochs_mean"],
        best=best,
        one_se=one_se,
    )


@shared_options(StackOptions)
def dropout_curve(
    data: str | Dataset,
    rates: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7),
    *,
    model: str | None = None,
    seeds: int = 3,
    epochs: int = 10,
    **options: Unpack[StackOptions],
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
    epochs : int, default=10
        Epochs per run (Adam).
    **options
        The shared options of :class:`~regulab.experiment._setup.StackOptions`; a store
        keeps the runs as group ``dropout_curve`` with ``extra={"rate": r}``.

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
    return _curve(
        "dropout_curve",
        "rate",
        "rates",
        {"low": 0.0, "high": 1.0, "high_open": True},
        lambda base, r: (f"dropout={r:g}", replace(base, dropout=(float(r),))),
        locals(),
        needs_hidden_layer=True,
    )


@shared_options(StackOptions)
def patience_curve(
    data: str | Dataset,
    patiences: Sequence[int] = (0, 1, 2, 3, 5, 8, 13),
    *,
    monitor: str = "val_loss",
    model: str | None = None,
    seeds: int = 3,
    epochs: int = 50,
    **options: Unpack[StackOptions],
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
    **options
        The shared options of :class:`~regulab.experiment._setup.StackOptions`; a store
        keeps the runs as group ``patience_curve`` with ``extra={"patience": p}``.

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
    return _curve(
        "patience_curve",
        "patience",
        "patiences",
        {"low": 0, "integer": True},
        lambda base, p: (
            f"early_stopping={monitor}:{p}",
            replace(base, early_stopping=(monitor, int(p))),
        ),
        locals(),
    )
