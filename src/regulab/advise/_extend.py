"""Large data: spend the budget left after the comparison on training the chosen config longer.

The comparison trains every candidate for the same number of epochs, set from a speed probe
before it starts; on large data it often ends well before the deadline with the chosen config
still improving. :func:`train_longer` then retrains that config from scratch on the same split
and seeds with as many epochs as the time left allows (measured epoch times, not the probe
alone; its own early stopping, if any, on validation loss with the best weights restored), and
keeps the longer runs only when their validation loss is lower. The test part is never looked at.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from regulab.advise import _search
from regulab.advise._search import Fold, Runner, patience_for, with_patience
from regulab.config import TrainConfig
from regulab.experiment import RunRecord, RunSpec
from regulab.experiment._runner import DataBundle

__all__ = ["longer_is_worth", "more_epochs_can_help", "train_longer"]

_MAX_EPOCHS = 120  # the longest run the advisor trains on large data
_GROWTH = 4  # at most this many times the epochs of the comparison
_MIN_GROWTH = 1.25  # fewer extra epochs than this factor are not worth a retraining
_SAFETY = 1.15  # epoch-time estimates are inflated by this factor
_RESERVE = 2.0  # seconds kept for scoring and writing the advice after the last run


def _best_epoch(record: RunRecord) -> int | None:
    """The epoch of the lowest finite validation loss (the restored one under early stopping)."""
    if record.best_epoch is not None:
        return int(record.best_epoch)
    epochs = [
        (float(e["val_loss"]), int(e["epoch"]))
        for e in record.history
        if e.get("val_loss") is not None and np.isfinite(e["val_loss"])
    ]
    return min(epochs)[1] if epochs else None


def more_epochs_can_help(records: Sequence[RunRecord], patience: int) -> bool:
    """Whether any run was still lowering its validation loss when its epochs ran out.

    A run stopped by early stopping, or whose best epoch lies ``patience`` or more epochs
    before its last, has stopped improving; a diverged run does not count.

    Examples
    --------
    >>> from regulab.experiment import RunRecord
    >>> def run(best, last, reason="max_epochs"):
    ...     return RunRecord("k", "l2", {}, 0, "fp", "0", [], {"val_loss": 0.3}, last,
    ...                      reason, "", best, {}, {}, 1.0)
    >>> more_epochs_can_help([run(8, 20, "patience_exhausted")], patience=5)
    False
    >>> more_epochs_can_help([run(10, 20), run(18, 20)], patience=5)
    True
    """
    for record in records:
        if record.diverged or record.stop_reason != "max_epochs":
            continue
        best = _best_epoch(record)
        if best is None or best > record.epochs_run - patience:
            return True
    return False


def longer_is_worth(epochs: int, longer: float, patience: int) -> bool:
    """Whether retraining for ``longer`` epochs a config trained for ``epochs`` is worth
    it: at least :data:`_MIN_GROWTH` times as many, and ``patience`` more.

    Examples
    --------
    >>> longer_is_worth(10, 13, patience=3), longer_is_worth(10, 12, patience=3)
    (True, False)
    """
    return longer >= max(_MIN_GROWTH * epochs, epochs + patience)


def _mean_loss(records: Sequence[RunRecord]) -> float:
    return float(np.mean([r.choice_metric("val_loss") for r in records]))


def train_longer(
    fold: Fold,
    records: list[RunRecord],
    configs: dict[str, TrainConfig],
    chosen: str,
    run: Runner,
    deadline: float,
    epoch_seconds: Callable[[DataBundle, Sequence[RunSpec]], float] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[RunRecord], str]:
    """Retrain ``chosen`` with more epochs in the time left before ``deadline``.

    The epochs come from the larger of two estimates of one epoch of the chosen config's
    seeds: the seconds its runs took per epoch in the comparison, and ``epoch_seconds``
    (default: a probe of the stack as it will run). With early stopping in the config, the
    longer runs stop on validation loss and restore their best weights. They replace the
    chosen config's records, and ``configs[chosen]`` its config (so the recommendation's
    epochs are the ones trained), only when their mean validation loss is lower. Returns
    the records and a sentence for the notes saying what was done or why nothing more was.
    ``run`` starts no seed that would end after ``deadline`` (by the seeds already run).
    """
    config = configs[chosen]
    mine = [r for r in records if r.config_name == chosen]
    patience = config.early_stopping[1] if config.early_stopping else patience_for(config.epochs)
    if not more_epochs_can_help(mine, patience):
        return records, (
            f"Stopped: {chosen} had stopped lowering its validation loss before its "
            f"{config.epochs} epochs ran out, so more epochs cannot change the answer."
        )
    bundle, seeds = fold
    specs = [RunSpec(chosen, config, seed) for seed in seeds]
    measured = sum(r.seconds / max(r.epochs_run, 1) for r in mine)
    probe = (epoch_seconds or _search._estimate_epoch_seconds)(bundle, specs)
    at_once = run.parallel(len(seeds))
    per_epoch = _SAFETY * max(measured, probe) / at_once
    left = deadline - clock() - _RESERVE - len(seeds) * run.overhead / at_once
    limit = min(_MAX_EPOCHS, _GROWTH * config.epochs)
    epochs = int(min(limit, max(0.0, left) / max(per_epoch, 1e-6)))
    if not longer_is_worth(config.epochs, epochs, patience):
        reason = (
            f"the {max(left, 0):.0f} s left allow about {epochs}"
            if epochs < limit
            else f"the advisor trains at most {limit}"
        )
        return records, (
            f"Stopped with {chosen} at {config.epochs} epochs: {reason} epochs, too few to "
            "be worth retraining it longer."
        )
    longer = with_patience(replace(config, epochs=epochs), patience_for(epochs))
    found = run([fold], {chosen: longer}, [chosen], deadline)
    if len(found) < len(mine):
        return records, (
            f"Retraining {chosen} for up to {epochs} epochs was cut at the deadline after "
            f"{len(found)} of {len(mine)} seeds, so the {config.epochs}-epoch runs stand."
        )
    before, after = _mean_loss(mine), _mean_loss(found)
    if not after < before:
        return records, (
            f"Retrained {chosen} for up to {epochs} epochs: its validation "
            f"loss did not improve ({before:.4f} -> {after:.4f}), so the {config.epochs}-epoch "
            "runs stand."
        )
    configs[chosen] = longer
    stopped = all(r.stop_reason == "patience_exhausted" for r in found)
    why = (
        "early stopping ended every seed, so more epochs cannot help"
        if stopped
        else "the budget is spent"
    )
    best_epochs = ", ".join(str(_best_epoch(r)) for r in found)
    return [r for r in records if r.config_name != chosen] + found, (
        f"Used the time left to retrain {chosen} for up to {epochs} epochs (best "
        f"validation epochs {best_epochs}): validation loss {before:.4f} -> "
        f"{after:.4f}; {why}."
    )
