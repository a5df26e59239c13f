"""How the advisor picks: the one-standard-error rule over folds (or seeds), finite only,
through the shared statistics module (:func:`regulab.stats.choose`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from regulab.errors import DataError
from regulab.experiment import RunRecord
from regulab.stats import choose, mean_ci

__all__ = ["one_se_choice", "summary_rows"]


def one_se_choice(
    values: dict[str, dict[int, float]], simplicity: Callable[[str], tuple[Any, ...]]
) -> tuple[str, list[str], str]:
    """``(best, tied, chosen)`` by the one-standard-error rule on a lower-is-better metric.

    The best config has the lowest mean over its folds; a config is tied when its mean is
    within one standard error (over the best's folds) of the best's; the chosen one is the
    simplest of the best and its ties by ``simplicity`` (glmnet's ``lambda.1se``, applied
    across model families). A config with any non-finite fold value (a diverged run) is
    never best, tied or chosen.

    Examples
    --------
    >>> values = {"none": {0: float("nan"), 1: 0.2}, "big": {0: 0.50, 1: 0.54},
    ...           "small": {0: 0.52, 1: 0.53}}
    >>> one_se_choice(values, simplicity=lambda name: (name != "small",))
    ('big', ['small'], 'small')
    """
    choice = choose(values, higher_is_better=False, simplicity=simplicity)
    if choice.best is None or choice.preferred is None:
        raise DataError(
            "Every candidate diverged (non-finite validation loss); check the data for huge "
            "values or lower the learning rate."
        )
    return str(choice.best), [str(name) for name in choice.tied], str(choice.preferred)


def summary_rows(
    records: Sequence[RunRecord],
    metric: str,
    best: str,
    tied: Sequence[str],
    chosen: str,
    techniques: Callable[[str], int],
    *,
    higher: bool = False,
    also: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One row per config (the evidence table), best mean ``metric`` first (the lowest, or
    the highest when ``higher``), non-finite last.

    Keys as :func:`regulab.experiment.summarize` writes them, plus ``diverged``, plus the
    mean, CI and standard error of each metric in ``also``.
    """
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config_name, []).append(record)
    rows = []
    for name, runs in groups.items():
        values = [float(r.metrics.get(metric, float("nan"))) for r in runs]
        extra: dict[str, float] = {}
        for key in dict.fromkeys([metric, *also]):
            mean, ci, se = mean_ci([float(r.metrics.get(key, float("nan"))) for r in runs])
            extra.update({f"{key}_mean": mean, f"{key}_ci": ci, f"{key}_se": se})
        gap_mean, gap_ci, _ = mean_ci([r.metrics.get("gap", float("nan")) for r in runs])
        rows.append(
            {
                "config": name,
                "n_seeds": len(runs),
                **extra,
                "gap_mean": gap_mean,
                "gap_ci": gap_ci,
                "epochs_mean": float(np.mean([r.epochs_run for r in runs])),
                "stop_reasons": dict(Counter(r.stop_reason for r in runs)),
                "sparsity_mean": float(np.mean([r.sparsity["total"] for r in runs])),
                "weight_norm_mean": float(np.mean([r.weights["weight_norm"] for r in runs])),
                "seconds_mean": float(np.mean([r.seconds for r in runs])),
                "techniques": techniques(name),
                "diverged": not all(math.isfinite(v) for v in values),
                "best": name == best,
                "tied": name in tied,
                "preferred": name == chosen,
            }
        )
    sign = -1.0 if higher else 1.0
    return sorted(
        rows,
        key=lambda row: (
            row["diverged"],
            sign * row[f"{metric}_mean"] if not row["diverged"] else 0.0,
        ),
    )
