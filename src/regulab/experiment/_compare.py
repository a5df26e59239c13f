"""``compare``: every technique on the same splits with the same seeds, side by side."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from regulab._version import __version__
from regulab.config import TrainConfig
from regulab.custom import ModelFactory, factory_reference, importable, is_custom
from regulab.data import Dataset, load, split
from regulab.errors import InvalidParameterError, check_range
from regulab.experiment._records import RunRecord
from regulab.experiment._runner import (
    DataBundle,
    RunSpec,
    TableFolds,
    custom_stacking_note,
    execute,
    make_tasks,
    stacking_note,
)
from regulab.experiment._setup import DATA_ARGUMENTS, setup_arguments
from regulab.experiment._summary import summarize
from regulab.experiment._techniques import apply_techniques, parse_techniques
from regulab.stats import check_tie_rule, main_metric, selection_metric
from regulab.training._callbacks import EarlyStopping
from regulab.training._generic import check_fits
from regulab.training._progress import stage_bar
from regulab.training._trainer import available_metrics

__all__ = [
    "Comparison",
    "compare",
    "prepare_data",
    "run_specs",
    "DEFAULT_TECHNIQUES",
    "COMPARE_SCHEMA_VERSION",
    "data_info",
    "json_safe",
]

DEFAULT_TECHNIQUES = (
    "none,l1,l2,elastic_net,weight_decay,dropout,batchnorm,early_stopping,dropout+l2+early_stopping"
)
COMPARE_SCHEMA_VERSION = 2


@dataclass
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    rows : list of dict
        One row per config, best first (see :func:`regulab.experiment.summarize`).
    notes : list of str
        Sentences explaining the best, the ties and the preferred config.
    records : list of RunRecord
        Every run behind the table.
    metric : str
        The validation metric every mark is chosen on (``val_accuracy`` or ``val_r2``).
    higher_is_better : bool
    data : dict
        Name, task, sizes and fingerprint of the data.
    test_metric : str
        The test metric reported beside (``test_accuracy`` or ``test_r2``), never used to
        choose.
    tie_rule : str
        ``"se"`` (one standard error) or ``"tost"`` (equivalence within ``margin``).
    margin : float or None
        The equivalence margin of ``"tost"``.
    """

    rows: list[dict[str, Any]]
    notes: list[str]
    records: list[RunRecord]
    metric: str
    higher_is_better: bool
    data: dict[str, Any]
    experiment: str = ""
    resumed: int = 0
    image_shape: tuple[int, int] | None = field(default=None)
    test_metric: str = "test_accuracy"
    tie_rule: str = "se"
    margin: float | None = None

    @property
    def best(self) -> str | None:
        """Config with the best mean validation metric (None when every config diverged)."""
        return next((row["config"] for row in self.rows if row["best"]), None)

    @property
    def preferred(self) -> str | None:
        """Simplest/sparsest config among the best and its ties (None when all diverged)."""
        return next((row["config"] for row in self.rows if row["preferred"]), None)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` contract: ``schema_version``, ``data``, ``metric`` (validation,
        chosen on), ``test_metric`` (reported), ``configs`` (the table rows), ``best``,
        ``tied``, ``preferred``, ``diverged``, ``notes``, ``experiment``, ``resumed`` (runs
        found in the store) and ``runs`` (config, seed, metrics, epochs, stop reason,
        sparsity, seconds per run). Non-finite numbers become null."""
        return json_safe(
            {
                "schema_version": COMPARE_SCHEMA_VERSION,
                "data": self.data,
                "metric": self.metric,
                "test_metric": self.test_metric,
                "higher_is_better": self.higher_is_better,
                "tie_rule": self.tie_rule,
                "margin": self.margin,
                "configs": self.rows,
                "best": self.best,
                "tied": [row["config"] for row in self.rows if row["tied"]],
                "preferred": self.preferred,
                "diverged": [row["config"] for row in self.rows if row["diverged"]],
                "notes": self.notes,
                "experiment": self.experiment,
                "resumed": self.resumed,
                "runs": [
                    {
                        "config": r.config_name,
                        "seed": r.seed,
                        "metrics": r.metrics,
                        "epochs_run": r.epochs_run,
                        "stop_reason": r.stop_reason,
                        "sparsity": r.sparsity["total"],
                        "seconds": r.seconds,
                    }
                    for r in self.records
                ],
            }
        )


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN).

    Examples
    --------
    >>> json_safe({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def data_info(dataset: Dataset, bundle: DataBundle, config: TrainConfig) -> dict[str, Any]:
    """What a result says about its data: name, task, split sizes, fingerprint and model."""
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


def prepare_data(
    data: str | Dataset | pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    data_seed: int = 0,
    max_train: int | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> tuple[Dataset, DataBundle]:
    """Load and split once: every run of an experiment sees these exact arrays.

    ``data`` is a built-in name, a file path, a pandas DataFrame (with ``target``) or a
    :class:`~regulab.data.Dataset`; ``categorical``, ``numeric`` and ``drop`` set column
    kinds of a table (see :func:`~regulab.data.load`). For a table data set the bundle
    carries its raw training and validation rows (:class:`TableFolds`, with the possible
    leaks found on the training rows), so folds refit the preprocessing on their own
    training rows.
    """
    dataset = (
        data
        if isinstance(data, Dataset)
        else load(
            data,
            target=target,
            task=task,
            mnist_dir=mnist_dir,
            seed=data_seed,
            categorical=categorical,
            numeric=numeric,
            drop=drop,
        )
    )
    splits = split(dataset, seed=data_seed, max_train=max_train)
    n_outputs = dataset.n_classes if dataset.task == "classification" else 1
    table = None
    if dataset.table is not None:
        rows = np.concatenate([splits.train_index, splits.val_index])
        frame = dataset.table.frame.iloc[rows].reset_index(drop=True)
        table = TableFolds(
            frame, dataset.table.preprocessor, splits.preprocessor, tuple(splits.leaks)
        )
    bundle = DataBundle.from_splits(splits, dataset.task, n_outputs, dataset.feature_names, table)
    return dataset, bundle


def prepare_experiment(
    data: str | Dataset, **arguments: Any
) -> tuple[Dataset, DataBundle, TrainConfig]:
    """:func:`prepare_data` with the data options among ``arguments`` (those of
    :data:`~regulab.experiment._setup.DATA_ARGUMENTS`), plus the quiet :class:`TrainConfig`
    all runs start from (the other ``arguments`` are its fields: model, epochs, batch_size,
    lr, optimizer, device...)."""
    options = {name: arguments.pop(name) for name in DATA_ARGUMENTS if name in arguments}
    dataset, bundle = prepare_data(data, **options)
    return dataset, bundle, TrainConfig(data=dataset.name, verbose=0, **arguments)


def run_specs(
    specs: Sequence[RunSpec],
    bundle: DataBundle,
    *,
    store: Any = None,
    experiment: str = "",
    jobs: int = 1,
    verbose: int = 1,
    max_stack: int = 16,
    scheduler: str | None = None,
    workers: int | None = None,
) -> tuple[list[RunRecord], int]:
    """Run the specs not already in ``store``; return all their records and the reused count.

    Finished runs are written to the store as each stack completes, so an interrupted
    experiment loses at most the stacks in flight.
    """
    keys = {spec.key(bundle.fingerprint): spec for spec in specs}
    done: dict[str, RunRecord] = {}
    if store is not None:
        stored = store.keys()
        done = {r.run_key: r for r in store.records() if r.run_key in keys and r.run_key in stored}
    missing = [spec for key, spec in keys.items() if key not in done]
    reused = len(done)
    parallel = workers or jobs
    tasks = make_tasks(missing, max_stack=max_stack, min_tasks=parallel, data=bundle)
    if scheduler is not None or workers is not None:
        from regulab.experiment._dask import execute_dask

        batches: Iterator[list[RunRecord]] = execute_dask(
            tasks, bundle, __version__, scheduler=scheduler, workers=workers
        )
    else:
        batches = execute(tasks, bundle, __version__, jobs=jobs)
    with stage_bar(verbose, "runs") as progress:
        bar = progress.add_task("", total=len(keys), completed=reused)
        for records in batches:
            for record in records:
                done[record.run_key] = record
                if store is not None:
                    store.add(record, experiment)
            progress.update(bar, advance=len(records))
    return [done[key] for key in keys], reused


def _experiment_name(
    bundle: DataBundle, names: Sequence[str], base: TrainConfig, seeds: int
) -> str:
    payload = json.dumps([bundle.fingerprint, list(names), base.to_dict(), seeds], sort_keys=True)
    return "compare-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def compare(
    data: str | Dataset | pd.DataFrame = "digits",
    techniques: str | Sequence[str] = DEFAULT_TECHNIQUES,
    *,
    model: str | ModelFactory | None = None,
    seeds: int = 5,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 1e-3,
    optimizer: str = "adam",
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    max_train: int | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
    store: Any = None,
    jobs: int = 1,
    scheduler: str | None = None,
    workers: int | None = None,
    device: str = "auto",
    verbose: int = 1,
    data_seed: int = 0,
    tie_rule: str = "se",
    margin: float | None = None,
) -> Comparison:
    """Train every configuration with every seed on one split and compare them fairly.

    Configurations that share an architecture train together as one stacked model; each
    still follows exactly the path it would follow alone.

    Parameters
    ----------
    data : str, Dataset or pandas.DataFrame, default="digits"
        A built-in name, a file path, a DataFrame (give ``target``; a mixed table is
        accepted raw, see :func:`~regulab.data.load`) or a data set.
    techniques : str or sequence of str
        Comma-separated configs, techniques joined by ``+``, strengths after ``=``
        (``"none,l1=3e-4,dropout=0.5/0.3+early_stopping=val_loss:5"``).
    model : str or callable, optional
        Layer sizes (default ``inputs-128-64-outputs``), ``"cnn"``, an import path
        ``"package.module:factory"`` or the factory itself: a callable returning a
        ``torch.nn.Module`` (see :mod:`regulab.custom`). Such models train one config after
        the other with ``torch.optim``; techniques they cannot take are refused up front.
    seeds : int, default=5
        Seeds 0..seeds-1 for every config (>= 1).
    epochs, batch_size, lr, optimizer
        Shared training settings.
    store : ResultsStore, optional
        Finished runs are saved there and reused on a rerun.
    jobs : int, default=1
        Worker processes (one torch thread each).
    scheduler, workers
        Dask: the address of a cluster, or the size of a local one.
    tie_rule : {"se", "tost"}, default="se"
        How ties with the best are decided, on the validation metric: within one standard
        error of the best mean, or a paired equivalence test (TOST) within ``margin``.
    margin : float, optional
        Equivalence margin in validation-metric units (required with ``tie_rule="tost"``).
    categorical, numeric, drop : sequence of str
        Column kinds of a table that override the inferred ones.

    Every mark (best, tied, preferred) is chosen on the validation metric (``val_accuracy``
    or ``val_r2`` at the weights each run returns); ``test_accuracy``/``test_r2`` is reported
    beside it and never used to choose. A config with a non-finite validation metric on any
    seed is *diverged* and never marked.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> result = compare("iris", "none,l2", model="4-16-3", seeds=2, epochs=3, verbose=0)
    >>> sorted(row["config"] for row in result.rows)
    ['l2', 'none']
    """
    check_range("seeds", seeds, low=1, integer=True, owner="compare")
    check_range("jobs", jobs, low=1, integer=True, owner="compare")
    check_range("epochs", epochs, low=1, integer=True, owner="compare")
    check_range("batch_size", batch_size, low=1, integer=True, owner="compare")
    check_range("lr", lr, low=0.0, low_open=True, owner="compare")
    check_tie_rule(tie_rule, margin, owner="compare")
    names = parse_techniques(techniques)
    if model is not None and not isinstance(model, str):
        model = factory_reference(model)
        if not importable(model) and (jobs > 1 or scheduler or workers):
            raise InvalidParameterError(
                f"The model factory {model} cannot be imported by name (it is defined in "
                "__main__ or inside a function), so worker processes cannot build it; use "
                "jobs=1 or move it to a module."
            )
    dataset, bundle, base = prepare_experiment(data, **setup_arguments(locals()))
    configs = {name: apply_techniques(base, name) for name in names}
    X_probe, y_probe = torch.as_tensor(bundle.X_train[:2]), torch.as_tensor(bundle.y_train)
    for config in configs.values():  # fail fast, before any worker starts
        built = config.build(
            bundle.X_train.shape[1], bundle.n_outputs, bundle.task, dataset.image_shape
        )
        kind = check_fits(built, X_probe, y_probe, bundle.task)
        for callback in config.callbacks():
            if isinstance(callback, EarlyStopping):
                callback.check_monitor(available_metrics(kind, has_validation=True))
    specs = [RunSpec(name, configs[name], seed) for name in names for seed in range(seeds)]
    experiment = _experiment_name(bundle, names, base, seeds)
    records, reused = run_specs(
        specs,
        bundle,
        store=store,
        experiment=experiment,
        jobs=jobs,
        verbose=verbose,
        scheduler=scheduler,
        workers=workers,
    )
    metric, higher = selection_metric(bundle.task)
    test_metric, _ = main_metric(bundle.task)
    rows, notes = summarize(
        records, metric, higher, test_metric=test_metric, tie_rule=tie_rule, margin=margin
    )
    stacking = (
        custom_stacking_note(specs, bundle) if is_custom(base.model) else stacking_note(configs)
    )
    if stacking:
        notes.append(stacking)
    info = data_info(dataset, bundle, configs[names[0]])
    return Comparison(
        rows,
        notes,
        records,
        metric,
        higher,
        info,
        experiment,
        reused,
        None if is_custom(base.model) else dataset.image_shape,  # for pixel maps
        test_metric,
        tie_rule,
        margin,
    )
