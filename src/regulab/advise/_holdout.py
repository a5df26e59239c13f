"""Large data: one split, a screen on a subsample, finalists on every row, then the leader
trained longer, all within the deadline.

The phases share the budget by measured times, not by one probe: the screen's subsample is
sized from a speed probe so that every candidate gets at least :data:`_MIN_SCREEN_EPOCHS`
epochs (an expensive model such as a CNN is screened on fewer rows); the finalists' epochs
come from the seconds per epoch and row their own screen runs took; the finalists take
:data:`_FINALIST_SHARE` of the time left, so that most of it goes to the leader's longer
training (:func:`~regulab.advise._extend.train_longer`). No run starts that would end after
the deadline (:class:`~regulab.advise._search.Runner`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from regulab.advise import _extend, _search
from regulab.advise._extend import longer_is_worth, train_longer
from regulab.advise._search import (
    Fold,
    Runner,
    build_config,
    patience_for,
    pick_finalists,
    search,
    simplicity_key,
    subsample,
)
from regulab.advise._select import one_se_choice
from regulab.config import TrainConfig
from regulab.experiment import RunRecord, RunSpec
from regulab.experiment._runner import DataBundle

__all__ = ["holdout_search", "seconds_per_row_epoch", "screen_rows"]

SCREEN_ROWS = 20_000  # larger training sets are screened on a subsample first
_MIN_SCREEN_ROWS = 5_000
_MIN_SCREEN_EPOCHS = 5
_SCREEN_SHARE = 0.45  # of the budget, for the screen and its strength tuning
_FINALIST_SHARE = 0.4  # of the time left after the screen; the leader's longer runs get the rest
_MIN_FINAL_EPOCHS = 3  # fewer with two finalists: only the best one goes on
_EVAL_COST = 1 / 3  # a validation row's cost against a training row's (forward only)
_SCREEN_TEST_ROWS = 10  # the screen's runs are never reported: their test part is a stub


def _rows(train: int, val: int) -> float:
    """Training-row equivalents of one epoch: its training rows plus the validation rows
    scored after it (a forward pass, about a third of a training step's cost)."""
    return train + _EVAL_COST * val


def seconds_per_row_epoch(records: Sequence[RunRecord], rows: float) -> dict[str, float]:
    """Measured seconds per epoch and training row of one run of each config (its mean over
    seeds), from runs whose epochs cost ``rows`` training-row equivalents (see
    :func:`_rows`). A run's seconds are its training loop with validation; stacked runs
    record their share of the stack's time.

    Examples
    --------
    >>> from regulab.experiment import RunRecord
    >>> def run(name, seconds, epochs):
    ...     return RunRecord("k", name, {}, 0, "fp", "0", [], {}, epochs, "max_epochs", "",
    ...                      None, {}, {}, seconds)
    >>> seconds_per_row_epoch([run("l2", 10.0, 5), run("l2", 15.0, 5)], rows=1000)
    {'l2': 0.0025}
    """
    per_run: dict[str, list[float]] = {}
    for record in records:
        per_epoch = record.seconds / max(record.epochs_run, 1)
        per_run.setdefault(record.config_name, []).append(per_epoch / rows)
    return {name: float(np.mean(values)) for name, values in per_run.items()}


def screen_rows(
    per_row: float, seconds: float, n_train: int, n_val: int, limit: int = SCREEN_ROWS
) -> int:
    """Rows of the screen's subsample: as many as give every candidate
    :data:`_MIN_SCREEN_EPOCHS` epochs in ``seconds`` (validation included), between
    :data:`_MIN_SCREEN_ROWS` and ``limit`` (``per_row``: seconds for one epoch of every
    screened run per training row).

    Examples
    --------
    >>> screen_rows(1e-5, 100.0, 54000, 0), screen_rows(2e-3, 100.0, 54000, 6000)
    (20000, 8000)
    """
    fits = int(seconds / max(_MIN_SCREEN_EPOCHS * per_row, 1e-12) - _EVAL_COST * n_val)
    return int(min(limit, n_train, max(_MIN_SCREEN_ROWS, fits)))


def _screen(
    bundle: DataBundle,
    seeds: tuple[int, ...],
    candidates: Sequence[str],
    base: TrainConfig,
    run: Runner,
    end: float,
    notes: list[str],
    shape: tuple[int, int],
    seed: int,
) -> tuple[list[RunRecord], dict[str, TrainConfig], int]:
    """The candidates (and their strength variants) on a subsample; returns the records,
    the configs and the subsample's rows."""
    n_train = len(bundle.X_train)
    specs = [
        RunSpec(name, replace(build_config(base, name, shape), epochs=1), s)
        for name in candidates
        for s in seeds
    ]
    n_val = len(bundle.X_val)
    per_row = _search._estimate_epoch_seconds(bundle, specs) / n_train
    compare = _search._COMPARE_SHARE * (end - time.perf_counter()) * run.parallel(len(specs))
    rows = screen_rows(per_row, compare, n_train, n_val)
    part = subsample(bundle, rows, seed)
    part = replace(
        part,
        X_test=part.X_test[:_SCREEN_TEST_ROWS],
        y_test=part.y_test[:_SCREEN_TEST_ROWS],
        fingerprint=f"{part.fingerprint}:screen",
    )
    screened, configs, epochs = search(
        [(part, seeds)],
        candidates,
        base,
        run,
        end,
        notes,
        shape=shape,
        epoch_seconds=per_row * _rows(rows, n_val),
    )
    notes.append(
        f"Screened {len({r.config_name for r in screened})} configs on {rows} of the "
        f"{n_train} training rows for {epochs} epochs (the subsample is sized to give every "
        f"candidate {_MIN_SCREEN_EPOCHS} epochs in its share of the budget, with "
        f"{_MIN_SCREEN_ROWS} to {SCREEN_ROWS} rows)."
    )
    return screened, configs, rows


def _finals(
    fold: Fold,
    screened: list[RunRecord],
    configs: dict[str, TrainConfig],
    rows: int,
    base: TrainConfig,
    run: Runner,
    deadline: float,
    notes: list[str],
    shape: tuple[int, int],
) -> tuple[list[RunRecord], dict[str, TrainConfig], int]:
    """The finalists on every row, their epochs from their measured screen times."""
    bundle, seeds = fold
    n_train = len(bundle.X_train)
    simplicity = simplicity_key(screened, configs, shape, run.metric)
    finalists = pick_finalists(screened, simplicity, run.metric)
    n_val = len(bundle.X_val)
    per_row = seconds_per_row_epoch(screened, _rows(rows, n_val))
    left = deadline - time.perf_counter()

    def epoch_seconds(names: Sequence[str]) -> float:
        return sum(per_row[name] for name in names) * len(seeds) * _rows(n_train, n_val)

    def affordable(names: Sequence[str], share: float) -> float:
        at_once = run.parallel(len(seeds) * len(names))
        return share * left * at_once / max(epoch_seconds(names), 1e-9)

    if affordable(finalists, _FINALIST_SHARE) < _MIN_FINAL_EPOCHS and len(finalists) > 2:
        dropped = finalists[2:]
        finalists = finalists[:2]
        notes.append(
            f"One epoch of every finalist on all rows takes about "
            f"{epoch_seconds([*finalists, *dropped]):.0f} s: only the screen's best, "
            f"{finalists[1]}, goes on against the baseline ({', '.join(dropped)} dropped)."
        )
    share = _FINALIST_SHARE
    first = int(min(_search._MAX_EPOCHS, max(2, affordable(finalists, share))))
    longer = affordable(finalists[1:2], 1 - share) / _extend._SAFETY
    if affordable(finalists, _search._FINAL_SHARE) >= _search._MAX_EPOCHS:
        share = _search._FINAL_SHARE  # the cap binds, not the time: what is left still extends
    elif not longer_is_worth(first, longer, patience_for(first)):
        share = _search._FINAL_SHARE
        notes.append(
            f"The time left after the finals would retrain {finalists[1]} for about "
            f"{longer:.0f} epochs against their {first}, too few to be worth it: the "
            f"finalists take {share:.0%} of the time left instead."
        )
    records, configs, epochs = search(
        [fold],
        finalists,
        base,
        run,
        deadline,
        notes,
        shape=shape,
        configs=configs,
        tune=False,
        share=share,
        epoch_seconds=epoch_seconds(finalists),
    )
    notes.append(
        f"The finalists {', '.join(finalists)} then trained on all rows for {epochs} epochs "
        f"(from their measured screen times, up to {share:.0%} of the time left; the "
        "evidence below)."
    )
    return records, configs, epochs


def holdout_search(
    bundle: DataBundle,
    seeds: tuple[int, ...],
    candidates: Sequence[str],
    base: TrainConfig,
    run: Runner,
    notes: list[str],
    *,
    shape: tuple[int, int],
    seed: int,
    started: float,
    deadline: float,
) -> tuple[list[RunRecord], dict[str, TrainConfig], int]:
    """Choose among ``candidates`` on one split of large data within ``deadline``.

    Up to :data:`SCREEN_ROWS` training rows the candidates train side by side and the
    leaders' strengths are tuned; above it they are screened on a subsample first (for
    :data:`_SCREEN_SHARE` of the budget) and the finalists train on every row. The time
    left then retrains the leader with more epochs when it was still improving. Returns
    the records, the configs and the epochs of the comparison on every row; the notes say
    what each phase did and why the search stopped.
    """
    fold: Fold = (bundle, seeds)
    if len(bundle.X_train) > SCREEN_ROWS:
        end = started + _SCREEN_SHARE * (deadline - started)
        screened, configs, rows = _screen(
            bundle, seeds, candidates, base, run, end, notes, shape, seed
        )
        records, configs, epochs = _finals(
            fold, screened, configs, rows, base, run, deadline, notes, shape
        )
    else:
        records, configs, epochs = search(
            [fold], candidates, base, run, deadline, notes, shape=shape
        )
    _, _, leader = one_se_choice(
        run.metric.values(records), simplicity_key(records, configs, shape, run.metric)
    )
    records, longer_note = train_longer(fold, records, configs, leader, run, deadline)
    notes.append(longer_note)
    return records, configs, epochs
