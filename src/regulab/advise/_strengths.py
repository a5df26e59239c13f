"""A finer strength search on the leading family: Optuna's TPE, pruned on fold losses.

Trials come in small batches so that each batch trains as stacks, one fold at a time; after
every fold each trial reports its running mean validation loss, and Optuna's median pruner
stops those already worse than the median of finished trials at that fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna

from regulab.experiment import RunRecord

__all__ = ["search_space", "strength_search"]

_BATCH = 4  # trials per batch: one stack per fold and architecture
_PATIENCE = 2  # batches without a clear improvement before the search counts as converged


def search_space(name: str) -> list[tuple[int, str]]:
    """The tunable parts of a config name: ``(position, technique)``.

    Examples
    --------
    >>> search_space("linear+l1=0.01")
    [(1, 'l1')]
    >>> search_space("hidden=16+dropout+l2=0.001+early_stopping")
    [(0, 'hidden'), (1, 'dropout'), (2, 'l2')]
    """
    tunable = ("l1", "l2", "weight_decay", "elastic_net", "dropout", "hidden")
    return [
        (index, part.split("=")[0])
        for index, part in enumerate(name.split("+"))
        if part.split("=")[0] in tunable
    ]


def _suggest(trial: optuna.Trial, leader: str) -> str:
    parts = leader.split("+")
    for index, technique in search_space(leader):
        if technique == "elastic_net":
            alpha = trial.suggest_float("alpha", 1e-5, 1e-1, log=True)
            ratio = trial.suggest_float("l1_ratio", 0.05, 0.95)
            parts[index] = f"elastic_net={alpha:.2g}:{ratio:.2g}"
        elif technique == "dropout":
            parts[index] = f"dropout={trial.suggest_float('dropout', 0.05, 0.7):.2g}"
        elif technique == "hidden":
            parts[index] = f"hidden={trial.suggest_int('hidden', 4, 256, log=True)}"
        else:
            parts[index] = f"{technique}={trial.suggest_float(technique, 1e-5, 1e-1, log=True):.2g}"
    return "+".join(parts)


def strength_search(
    leader: str,
    folds: Sequence[Any],
    train: Callable[[Any, Sequence[str]], list[RunRecord]],
    best: tuple[float, float],
    deadline: float,
    seed: int,
    known: set[str],
    score: Callable[[RunRecord], float] = lambda record: float(record.metrics["val_loss"]),
) -> tuple[list[RunRecord], str]:
    """Search the strengths of ``leader`` until ``deadline`` or convergence.

    ``train(fold, names)`` trains configs on one fold; ``best`` is the mean and standard
    error of the best ``score`` so far (lower is better; default the validation loss).
    Returns the records of the finished trials (pruned ones trained on fewer folds and are
    left out) and a sentence for the notes; ``known`` (config names already trained, never
    retried) gains the finished ones.
    Converged means :data:`_PATIENCE` batches in a row found nothing better than the best
    by more than its standard error.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=_BATCH, n_warmup_steps=0),
    )
    records: list[RunRecord] = []
    finished, pruned, quiet = 0, 0, 0
    mean, se = best
    batch_seconds = 0.0
    while True:
        if time.perf_counter() + batch_seconds > deadline:
            reason = "the budget is spent"
            break
        if quiet >= _PATIENCE:
            reason = (
                f"converged: {_PATIENCE} batches found nothing better than the best by more "
                "than one standard error"
            )
            break
        started = time.perf_counter()
        asked: dict[int, tuple[optuna.Trial, str]] = {}
        for _ in range(_BATCH):
            trial = study.ask()
            name = _suggest(trial, leader)
            if name in known or name in {n for _, n in asked.values()}:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            asked[trial.number] = (trial, name)
        alive = dict(asked)
        losses: dict[int, list[float]] = {number: [] for number in asked}
        batch: list[RunRecord] = []
        for step, fold in enumerate(folds):
            if not alive:
                break
            done = train(fold, [name for _, name in alive.values()])
            batch += done
            loss = {r.config_name: score(r) for r in done}
            for number, (trial, name) in list(alive.items()):
                losses[number].append(loss[name])
                running = float(np.mean(losses[number]))
                if np.isfinite(running):
                    trial.report(running, step)
                if not np.isfinite(running) or trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    del alive[number]
        improved = False
        for trial, name in alive.values():
            value = float(np.mean(losses[trial.number]))
            study.tell(trial, value)
            records += [r for r in batch if r.config_name == name]
            known.add(name)
            improved |= value < mean - se
        finished += len(alive)
        pruned += len(asked) - len(alive)
        quiet = 0 if improved else quiet + 1
        batch_seconds = time.perf_counter() - started
    return records, (
        f"Searched the strengths of {leader} with Optuna (TPE, median pruning on fold losses): "
        f"{finished} finished, {pruned} pruned; stopped because {reason}."
    )
