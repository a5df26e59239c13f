"""Turning run specs into records: stacks of compatible runs, run here or in workers.

A *task* is a list of :class:`RunSpec` that share architecture and optimizer settings; it
trains as one stacked model (Regulab's MLP always; a CNN or a user's module where
:func:`~regulab.training.plan_stacks` says so, given the data). Tasks run one after
another, in local worker processes (one torch thread each) or on a Dask cluster; records
stream back as tasks finish.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from regulab.config import TrainConfig
from regulab.custom import image_shape_of, is_custom
from regulab.data import Splits
from regulab.data._splits import SplitArrays, split_arrays
from regulab.experiment._records import RunRecord, run_key, weight_summary
from regulab.solvers import exact_result, solvable
from regulab.tables import TablePreprocessor
from regulab.training import (
    Callback,
    FitResult,
    Member,
    evaluate,
    plan_stacks,
    resolve_device,
    train_many,
)

__all__ = [
    "RunSpec",
    "DataBundle",
    "TableFolds",
    "make_tasks",
    "custom_stacking_note",
    "run_task",
    "train_stack",
    "solved_exactly",
    "fresh_models",
    "record_from_result",
    "execute",
    "exit_with_parent",
]

#: How often a worker checks that the process that started it is still alive (seconds).
PARENT_CHECK_INTERVAL = 0.5


@dataclass(frozen=True, eq=False)
class TableFolds:
    """What folds of a table data set need to encode their rows themselves.

    Attributes
    ----------
    frame : pandas.DataFrame
        The raw feature rows of the bundle's training part then its validation part, in
        that order (the order :func:`~regulab.advise._search.cv_folds` concatenates the
        arrays in), index 0..n-1.
    layout : TablePreprocessor
        The data set's all-rows preprocessing: its output columns are the layout every fold
        keeps while it refits the statistics on its own training rows.
    fitted : TablePreprocessor, optional
        The preprocessing this bundle's arrays were encoded with (fitted on its training
        rows: the split's, or a fold's).
    leaks : tuple of (str, float)
        Columns that alone predict the target on the split's training rows, with scores.
    """

    frame: pd.DataFrame
    layout: TablePreprocessor
    fitted: TablePreprocessor | None = None
    leaks: tuple[tuple[str, float], ...] = ()

    def encode(
        self, train: np.ndarray, valid: np.ndarray
    ) -> tuple[TablePreprocessor, np.ndarray, np.ndarray]:
        """The layout refit on the rows ``train`` of :attr:`frame` (positions) only, and the
        rows ``train`` and ``valid`` encoded with it: a fold's own preprocessing."""
        fitted = self.layout.refit(self.frame.iloc[train])
        return (
            fitted,
            fitted.transform(self.frame.iloc[train]),
            fitted.transform(self.frame.iloc[valid]),
        )


@dataclass(frozen=True)
class DataBundle(SplitArrays):
    """The split arrays every run of an experiment uses, plus what records need to know.

    ``table`` is set for a table data set: the raw rows and preprocessing layout that let
    cross-validation folds refit the preprocessing on their own training rows.
    """

    task: str
    n_outputs: int
    feature_names: tuple[str, ...]
    fingerprint: str
    table: TableFolds | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_splits(
        cls,
        splits: Splits,
        task: str,
        n_outputs: int,
        feature_names: Sequence[str],
        table: TableFolds | None = None,
    ) -> DataBundle:
        """Bundle a :class:`~regulab.data.Splits` (``table``: see :class:`TableFolds`)."""
        return cls(
            **split_arrays(splits),
            task=task,
            n_outputs=n_outputs,
            feature_names=tuple(feature_names),
            fingerprint=splits.fingerprint(),
            table=table,
        )

    @property
    def column_groups(self) -> dict[str, list[int]] | None:
        """A table's original column -> its encoded columns (None for numeric data)."""
        return None if self.table is None else self.table.layout.groups_


@dataclass(frozen=True)
class RunSpec:
    """One config with one seed, in an experiment group (``compare``, ``path:l1``...)."""

    config_name: str
    config: TrainConfig
    seed: int
    group: str = "compare"
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self, fingerprint: str) -> str:
        """Identity of this run for resuming."""
        return run_key(
            self.config_name,
            {**self.config.to_dict(), "group": self.group, **self.extra},
            self.seed,
            fingerprint,
        )


#: Config fields a member of a stack may set on its own (penalties, early stopping, seed).
_PER_MEMBER = (
    "l1",
    "l2",
    "elastic_net",
    "weight_decay",
    "prox_l1",
    "early_stopping",
    "seed",
    "verbose",
    "feature_factors",
)


def _stack_key(spec: RunSpec) -> tuple[Any, ...]:
    c = spec.config
    if is_custom(c.model):  # one task per run unless _custom_stacks joins them
        return ("custom", spec.key(""))
    return (
        c.model,
        c.activation,
        c.batchnorm,
        c.optimizer,
        c.lr,
        c.epochs,
        c.batch_size,
        c.device,
        c.class_weight,
    )


def _custom_key(config: TrainConfig) -> str:
    """What configs of a custom model must share to train as one stack."""
    shared = {k: v for k, v in config.to_dict().items() if k not in _PER_MEMBER}
    return repr(sorted(shared.items()))


def _custom_plans(
    specs: Sequence[RunSpec], data: DataBundle
) -> list[tuple[list[RunSpec], bool, str]]:
    """Custom-model ``specs`` in groups, each with whether it trains as one torch.func
    stack and why: :func:`~regulab.training.plan_stacks` on the built models, as
    :func:`~regulab.training.train_many` will decide it in the task."""
    by_settings: dict[str, list[RunSpec]] = {}
    for spec in specs:
        by_settings.setdefault(_custom_key(spec.config), []).append(spec)
    sample = torch.as_tensor(data.X_train[:2], dtype=torch.float32)
    plans = []
    for group in by_settings.values():
        config = group[0].config
        plan = plan_stacks(
            fresh_models(group, data),
            resolve_device(config.device),
            "auto",
            sample,
            config.batch_size,
        )
        plans += [([group[i] for i in ids], stacked, why) for ids, stacked, why in plan.groups]
    return plans


def custom_stacking_note(specs: Sequence[RunSpec], data: DataBundle) -> str:
    """How the runs of a custom model train: which configs form torch.func stacks, and why.

    Examples
    --------
    >>> from regulab.experiment import prepare_data
    >>> data = prepare_data("iris")
    >>> specs = [RunSpec(n, TrainConfig(model="tests.user_models:make_mlp", l2=l2), 0)
    ...          for n, l2 in (("none", 0.0), ("l2", 1e-3))]
    >>> custom_stacking_note(specs, data)  # doctest: +SKIP
    "Runs of the custom model: none, l2: 2 Sequential members train together ..."
    """
    parts = []
    for group, _, why in _custom_plans(specs, data):
        names = ", ".join(dict.fromkeys(spec.config_name for spec in group))
        parts.append(f"{names}: {why}")
    return "Runs of the custom model: " + " | ".join(parts)


def stacking_note(configs: dict[str, TrainConfig]) -> str | None:
    """A sentence naming the groups of configs that train as separate stacks (None: one).

    Configs share a stack when they share the architecture (layer sizes, activation, batch
    norm) and the training settings; the others train one stack after the other.

    Examples
    --------
    >>> note = stacking_note({"none": TrainConfig(), "l2": TrainConfig(l2=1e-3),
    ...                       "batchnorm": TrainConfig(batchnorm=True)})
    >>> note.split(": ")[-1]
    'none, l2 | batchnorm.'
    """
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, config in configs.items():
        groups.setdefault(_stack_key(RunSpec(name, config, 0)), []).append(name)
    if len(groups) < 2:
        return None
    return (
        f"Configs train in {len(groups)} stacks, one after the other (a stack needs one "
        "architecture and one set of training settings): "
        + " | ".join(", ".join(names) for names in groups.values())
        + "."
    )


def make_tasks(
    specs: Sequence[RunSpec],
    *,
    max_stack: int = 16,
    min_tasks: int = 1,
    data: DataBundle | None = None,
) -> list[list[RunSpec]]:
    """Group compatible specs into stacks of at most ``max_stack``, at least ``min_tasks``.

    Runs of a custom model (``"cnn"`` or ``"module:factory"``) are tasks of their own, so
    they spread over workers; given ``data``, those that
    :func:`~regulab.training.plan_stacks` would train as one torch.func stack form one
    task instead (what ``compare`` and ``advise`` do).

    Examples
    --------
    >>> config = TrainConfig(model="4-8-3")
    >>> specs = [RunSpec("none", config, seed) for seed in range(5)]
    >>> [len(t) for t in make_tasks(specs, max_stack=2)]
    [2, 2, 1]
    """
    groups: dict[tuple[Any, ...], list[RunSpec]] = {}
    custom = [spec for spec in specs if is_custom(spec.config.model)]
    if data is not None and custom:
        for group, stacked, _ in _custom_plans(custom, data):
            if stacked:
                groups[("stack", group[0].key(""))] = group
    joined = {id(spec) for group in groups.values() for spec in group}
    for spec in specs:
        if id(spec) not in joined:
            groups.setdefault(_stack_key(spec), []).append(spec)
    total = sum(len(g) for g in groups.values())
    size = max(1, min(max_stack, -(-total // max(min_tasks, 1))))
    return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]


def solved_exactly(
    specs: Sequence[RunSpec], models: Sequence[nn.Module], callbacks: Sequence[Callback] = ()
) -> list[bool]:
    """Which runs :func:`train_stack` solves exactly instead of training them: a linear model
    without input dropout, penalized by L1, L2 or elastic net only, with no callback (no early
    stopping) to run and unweighted classes (:func:`regulab.solvers.solvable`)."""
    return [
        not callbacks
        and not spec.config.callbacks()
        and spec.config.class_weight is None
        and solvable(model, spec.config.penalties())
        for spec, model in zip(specs, models)
    ]


def train_stack(
    specs: Sequence[RunSpec],
    models: Sequence[nn.Module],
    data: DataBundle,
    *,
    callbacks: Sequence[Callback] = (),
) -> list[FitResult]:
    """Train ``models`` (their current weights are the start) as one stack, one per spec.

    ``callbacks`` follow every run's own (those of its config); one instance serves every
    run of the stack, so a callback that keeps state wants a stack of one. Runs that
    :func:`solved_exactly` names are fitted to the optimum of their convex problem on the
    training rows instead (:func:`regulab.solvers.exact_result`: one history record, the
    solver's iterations as ``epochs_run``).
    """
    exact = solved_exactly(specs, models, callbacks)
    results: dict[int, FitResult] = {}
    for index, (spec, model) in enumerate(zip(specs, models)):
        if exact[index]:
            results[index], _ = exact_result(
                model,  # type: ignore[arg-type]  # solvable(): a linear MLP
                spec.config.penalties(),
                data.X_train,
                data.y_train,
                data.X_val,
                data.y_val,
                seed=spec.seed,
                feature_names=list(data.feature_names),
                column_groups=data.column_groups,
                device=resolve_device(spec.config.device),
            )
    rest = [index for index in range(len(specs)) if not exact[index]]
    if rest:
        first = specs[rest[0]].config
        members = [
            Member(
                models[i],
                specs[i].config.penalties(),
                [*specs[i].config.callbacks(), *callbacks],
                specs[i].seed,
            )
            for i in rest
        ]
        trained = train_many(
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
            column_groups=data.column_groups,
            task=data.task,
            class_weight=first.class_weight,
        )
        results.update(zip(rest, trained))
    return [results[index] for index in range(len(specs))]


def fresh_models(specs: Sequence[RunSpec], data: DataBundle) -> list[nn.Module]:
    """The untrained model of every spec: its config built with its seed (Regulab's MLP, the
    CNN or a user's own module)."""
    image_shape = image_shape_of(data.feature_names)
    return [
        replace(spec.config, seed=spec.seed).build(
            data.X_train.shape[1], data.n_outputs, data.task, image_shape
        )
        for spec in specs
    ]


def run_task(task: Sequence[RunSpec], data: DataBundle, library_version: str) -> list[RunRecord]:
    """Train one stack of compatible runs from their initial weights; return their records."""
    models = fresh_models(task, data)
    exact = solved_exactly(task, models)
    results = train_stack(task, models, data)
    stacked = max(1, len(task) - sum(exact))  # the trained runs share their stack's time
    return [
        record_from_result(
            spec, result, data, library_version, seconds=result.seconds / (1 if alone else stacked)
        )
        for spec, result, alone in zip(task, results, exact)
    ]


def record_from_result(
    spec: RunSpec,
    result: FitResult,
    data: DataBundle,
    library_version: str,
    *,
    key: str | None = None,
    seconds: float | None = None,
) -> RunRecord:
    """The record of one finished run: test metrics, the returned epoch's validation
    metrics (those no epoch computes, e.g. balanced accuracy, scored on the returned
    weights), the generalization gap, history, sparsity and a weight summary.

    ``key`` defaults to ``spec.key(data.fingerprint)`` and ``seconds`` to the run's time.
    """
    test = evaluate(result.model, data.X_test, data.y_test)
    final = result.final_record
    metrics = {f"test_{name}": value for name, value in test.items()}
    metrics["train_loss"] = final["loss"]
    metrics.update({k: v for k, v in final.items() if k.startswith("val_")})
    if len(data.y_val) and "val_loss" in metrics:  # the metrics no epoch computes
        val = evaluate(result.model, data.X_val, data.y_val)
        metrics.update({f"val_{k}": v for k, v in val.items() if f"val_{k}" not in metrics})
    metrics.setdefault("val_loss", float("nan"))
    metrics["gap"] = metrics["val_loss"] - metrics["train_loss"]
    return RunRecord(
        run_key=key or spec.key(data.fingerprint),
        config_name=spec.config_name,
        config=replace(spec.config, seed=spec.seed).to_dict(),
        seed=spec.seed,
        data_fingerprint=data.fingerprint,
        library_version=library_version,
        history=result.history.to_list(),
        metrics=metrics,
        epochs_run=result.epochs_run,
        stop_reason=result.stop_reason.value,
        stop_message=result.stop_message,
        best_epoch=result.best_epoch,
        sparsity=result.sparsity.to_dict(),
        weights=weight_summary(result.model),
        seconds=result.seconds if seconds is None else seconds,
        group=spec.group,
        extra=dict(spec.extra),
    )


_WORKER_DATA: DataBundle | None = None


def exit_with_parent(parent: int, interval: float = PARENT_CHECK_INTERVAL) -> threading.Thread:
    """Make this worker process exit when its parent dies.

    A daemon thread compares ``os.getppid()`` with ``parent`` (the PID of the process that
    started the worker, taken there: a worker still importing when its parent died already
    has another parent) every ``interval`` seconds. A parent killed by SIGKILL or SIGTERM
    cannot shut its pool down, and its workers (hundreds of MB each) would otherwise live on,
    re-parented to PID 1. The worker then ends with ``os._exit`` (no cleanup is owed to a
    dead parent).

    Returns
    -------
    threading.Thread
        The watching thread (already started).

    Examples
    --------
    In a worker's initializer, with the PID its parent passed along:

    >>> exit_with_parent(parent_pid)  # doctest: +SKIP
    <Thread(regulab-parent-watch, started daemon ...)>
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="regulab-parent-watch", daemon=True)
    thread.start()
    return thread


def _init_worker(path: str, parent: int) -> None:
    global _WORKER_DATA
    exit_with_parent(parent)
    torch.set_num_threads(1)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = arrays.pop("meta").tolist()
    names = tuple(arrays.pop("feature_names").tolist())
    _WORKER_DATA = DataBundle(
        **arrays, task=meta[0], n_outputs=int(meta[1]), feature_names=names, fingerprint=meta[2]
    )


def _run_in_worker(task: Sequence[RunSpec], library_version: str) -> list[RunRecord]:
    assert _WORKER_DATA is not None
    return run_task(task, _WORKER_DATA, library_version)


def _save_bundle(data: DataBundle, folder: str) -> str:
    path = os.path.join(folder, "data.npz")
    arrays: dict[str, Any] = {
        **split_arrays(data),
        "meta": np.array([data.task, str(data.n_outputs), data.fingerprint]),
        "feature_names": np.array(data.feature_names),
    }
    np.savez(path, **arrays)
    return path


def execute(
    tasks: Sequence[Sequence[RunSpec]],
    data: DataBundle,
    library_version: str,
    *,
    jobs: int = 1,
) -> Iterator[list[RunRecord]]:
    """Run tasks here (``jobs=1``) or in ``jobs`` worker processes; yield records per task."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_task(task, data, library_version)
        return
    with tempfile.TemporaryDirectory(prefix="regulab-") as folder:
        path = _save_bundle(data, folder)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init_worker, initargs=(path, os.getpid())
        ) as pool:
            futures = [pool.submit(_run_in_worker, list(task), library_version) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
