"""The experiment: train the candidates within the budget, cross-validated on small data
or on one split with several seeds on larger data."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from regulab.advise._holdout import SCREEN_ROWS, holdout_search
from regulab.advise._metric import LOG_LOSS, Metric
from regulab.advise._plan import Plan
from regulab.advise._search import (
    CV_FEW_FOLDS,
    Runner,
    build_config,
    cv_folds,
    fine_search,
    patience_for,
    repeat_folds,
    search,
    simplicity_key,
    with_patience,
)
from regulab.config import TrainConfig
from regulab.experiment import RunRecord

_CV_SCREEN_SHARE = 0.4  # of the budget left, for the first pass over all candidates
_FINE_SHARE = 0.5  # of the time left after the screen, for the Optuna strength search
_LARGE_DATA_BATCH = 128


@dataclass
class Experiment:
    """The runs of the experiment, the configs they trained and the metric they were
    compared on."""

    records: list[RunRecord]
    configs: dict[str, TrainConfig]
    epochs: int
    selection: dict[str, Any]
    metric: Metric = LOG_LOSS


def cross_validated_experiment(plan: Plan, run: Runner, deadline: float, seed: int) -> Experiment:
    """Small data: screen every candidate on folds, tune the leaders' strengths, then add
    fold splits while the best and its ties are within noise."""
    bundle, base, shape, notes = plan.bundle, plan.base, plan.shape, plan.notes
    records, configs, epochs = search(
        cv_folds(bundle, 0, seed),
        plan.candidates,
        base,
        run,
        deadline,
        notes,
        shape=shape,
        share=_CV_SCREEN_SHARE,
        wide=True,
        fewer_folds=cv_folds(bundle, 0, seed, CV_FEW_FOLDS),
    )
    k = len({r.seed for r in records if r.config_name == "none"})
    simplicity = simplicity_key(records, configs, shape, run.metric)
    if k < 2:  # the budget ran out within the first fold: nothing to search or repeat on
        notes.append(
            "Only one fold finished within the budget, so no strength search and no repeated "
            "folds; a larger --budget gives cross-validated evidence."
        )
        selection = {"method": "cv", "folds": k, "repeats": 1, "seeds": 1}
        return Experiment(records, configs, epochs, selection, run.metric)
    epochs_of = next(iter(configs.values())).epochs

    def make(name: str) -> TrainConfig:
        config = replace(build_config(base, name, shape), epochs=epochs_of)
        return with_patience(config, patience_for(epochs_of))

    now = time.perf_counter()
    records, search_note = fine_search(
        records,
        configs,
        cv_folds(bundle, 0, seed, k),
        make,
        run,
        now + _FINE_SHARE * (deadline - now),
        seed,
        simplicity,
    )
    notes.append(search_note)
    simplicity = simplicity_key(records, configs, shape, run.metric)
    records, repeats, stop_note = repeat_folds(
        bundle, records, configs, run, deadline, seed, k, simplicity
    )
    notes.append(stop_note)
    selection = {"method": "cv", "folds": k, "repeats": repeats, "seeds": 1}
    return Experiment(records, configs, epochs, selection, run.metric)


def holdout_experiment(
    plan: Plan, run: Runner, started: float, deadline: float, seed: int, seeds: int
) -> Experiment:
    """Larger data: one split with ``seeds`` seeds (see :func:`holdout_search`)."""
    base = plan.base
    if plan.n_train > SCREEN_ROWS:
        base = replace(base, batch_size=_LARGE_DATA_BATCH)
    records, configs, epochs = holdout_search(
        plan.bundle,
        tuple(range(seed, seed + seeds)),
        plan.candidates,
        base,
        run,
        plan.notes,
        shape=plan.shape,
        seed=seed,
        started=started,
        deadline=deadline,
    )
    selection = {"method": "holdout", "folds": 1, "repeats": 1, "seeds": seeds}
    return Experiment(records, configs, epochs, selection, run.metric)
