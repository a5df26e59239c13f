"""Summaries over seeds: means, 95% confidence intervals, the best config and its ties."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from regulab.experiment._records import RunRecord
from regulab.experiment._techniques import technique_count

__all__ = ["main_metric", "mean_ci", "summarize"]

_TIE_P_VALUE = 0.05


def main_metric(task: str) -> tuple[str, bool]:
    """The headline test metric and whether higher is better.

    Examples
    --------
    >>> main_metric("classification")
    ('test_accuracy', True)
    """
    return ("test_accuracy", True) if task == "classification" else ("test_r2", True)


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, half-width of the 95% t-interval, and standard error (0 for one value).

    Examples
    --------
    >>> [round(v, 3) for v in mean_ci([1.0, 2.0, 3.0])]
    [2.0, 2.484, 0.577]
    """
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if len(array) < 2:
        return mean, 0.0, 0.0
    se = float(array.std(ddof=1) / math.sqrt(len(array)))
    return mean, float(stats.t.ppf(0.975, len(array) - 1) * se), se


def _by_seed(records: Sequence[RunRecord], metric: str) -> dict[int, float]:
    return {r.seed: float(r.metrics[metric]) for r in records if metric in r.metrics}


def _tied(best: dict[int, float], other: dict[int, float], best_se: float, se_only: bool) -> bool:
    """Tied when within one SE of the best, or (unless ``se_only``) when a paired t-test
    over shared seeds finds no difference."""
    gap = np.mean(list(best.values())) - np.mean(list(other.values()))
    if abs(gap) <= best_se:
        return True
    if se_only:
        return False
    shared = sorted(set(best) & set(other))
    if len(shared) < 2:
        return False
    differences = np.array([best[s] - other[s] for s in shared])
    if np.allclose(differences, differences[0]):
        return bool(differences[0] == 0)
    p_value = stats.ttest_rel([best[s] for s in shared], [other[s] for s in shared]).pvalue
    return bool(p_value > _TIE_P_VALUE)


def summarize(
    records: Sequence[RunRecord],
    metric: str,
    higher_is_better: bool,
    *,
    tie_rule: str = "paired_or_se",
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per config, best and tied configs marked; plus notes explaining the choice.

    Each row has ``config``, ``n_seeds``, ``<metric>_mean``/``_ci``/``_se``, ``gap_mean``/
    ``gap_ci`` (validation minus training loss at the returned epoch), ``epochs_mean``,
    ``stop_reasons``, ``sparsity_mean``, ``weight_norm_mean``, ``seconds_mean``, and marks
    ``best``, ``tied`` (statistically indistinguishable from the best) and ``preferred``
    (the simplest and sparsest among the best and its ties).

    ``tie_rule="paired_or_se"`` ties a config when a paired t-test over shared seeds finds no
    difference (p > 0.05) or its mean is within one standard error of the best;
    ``tie_rule="se"`` uses only the one-standard-error rule (glmnet's ``lambda.1se``).
    """
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config_name, []).append(record)
    rows: list[dict[str, Any]] = []
    for name, runs in groups.items():
        mean, ci, se = mean_ci([r.metrics[metric] for r in runs])
        gap_mean, gap_ci, _ = mean_ci([r.metrics["gap"] for r in runs])
        rows.append(
            {
                "config": name,
                "n_seeds": len(runs),
                f"{metric}_mean": mean,
                f"{metric}_ci": ci,
                f"{metric}_se": se,
                "gap_mean": gap_mean,
                "gap_ci": gap_ci,
                "epochs_mean": float(np.mean([r.epochs_run for r in runs])),
                "stop_reasons": dict(Counter(r.stop_reason for r in runs)),
                "sparsity_mean": float(np.mean([r.sparsity["total"] for r in runs])),
                "weight_norm_mean": float(np.mean([r.weights["weight_norm"] for r in runs])),
                "seconds_mean": float(np.mean([r.seconds for r in runs])),
                "techniques": technique_count(name),
                "best": False,
                "tied": False,
                "preferred": False,
            }
        )
    if not rows:
        return rows, []
    sign = 1.0 if higher_is_better else -1.0
    best = max(rows, key=lambda row: sign * row[f"{metric}_mean"])
    best["best"] = True
    best_values = _by_seed(groups[best["config"]], metric)
    for row in rows:
        if row is not best:
            other = _by_seed(groups[row["config"]], metric)
            row["tied"] = _tied(best_values, other, best[f"{metric}_se"], tie_rule == "se")
    contenders = [row for row in rows if row["best"] or row["tied"]]
    preferred = min(
        contenders,
        key=lambda row: (-round(row["sparsity_mean"], 2), row["techniques"], row["seconds_mean"]),
    )
    preferred["preferred"] = True
    notes = [f"Best {metric}: {best['config']} ({best[f'{metric}_mean']:.4f})."]
    tied = [row["config"] for row in rows if row["tied"]]
    if tied:
        rule = (
            "within one standard error"
            if tie_rule == "se"
            else (f"paired t-test p > {_TIE_P_VALUE} or within one standard error")
        )
        notes.append(f"Tied with the best ({rule}): {', '.join(tied)}.")
    if preferred is not best:
        notes.append(
            f"Preferred: {preferred['config']}, the simpler/sparser of the tied configs "
            f"({preferred['sparsity_mean']:.0%} exact zeros, {preferred['techniques']} "
            "technique(s))."
        )
    sign_rows = sorted(rows, key=lambda row: -sign * row[f"{metric}_mean"])
    return sign_rows, notes
