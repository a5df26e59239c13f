"""The choice: the best configuration by validation loss, or the simplest within one
standard error of it, with notes on ties, divergence and rules the evidence overrules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from regulab.advise._experiment import Experiment
from regulab.advise._metric import Metric
from regulab.advise._plan import Plan
from regulab.advise._rules import Reason
from regulab.advise._search import simplicity_key, technique_total
from regulab.advise._select import one_se_choice, summary_rows
from regulab.config import TrainConfig

#: How the note listing the configs tied with the best begins (the terminal counts them).
TIED_NOTE = "Tied with the best (within one standard error)"


@dataclass
class Choice:
    """The recommended config and the evidence for it."""

    chosen: str
    config: TrainConfig
    refit_sizes: list[int]  # layer sizes of the recommended model; none for a custom model
    rows: list[dict[str, Any]]
    test_metric: str


def choose(plan: Plan, experiment: Experiment, test_metric: str) -> Choice:
    """The best config by the experiment's metric (validation loss by default), or the
    simplest within one standard error of it; the notes say why, and where the evidence
    overrules the rules. ``test_metric`` is the one reported."""
    records, configs, notes = experiment.records, experiment.configs, plan.notes
    metric = experiment.metric
    interpretable = any(reason.code == "interpretable" for reason in plan.reasons)
    simplicity = simplicity_key(records, configs, plan.shape, metric, linear_1se=interpretable)
    best, tied, chosen = one_se_choice(metric.values(records), simplicity)
    rows = summary_rows(
        records,
        metric.key,
        best,
        tied,
        chosen,
        technique_total,
        higher=metric.higher,
        also=["val_loss"],
    )
    best_mean = next(row for row in rows if row["best"])[f"{metric.key}_mean"]
    notes.append(f"Best {metric.key}: {best} ({best_mean:.4f}).")
    if tied:
        notes.append(f"{TIED_NOTE}: {', '.join(tied)}.")
    notes += _spare_avoided(rows, plan.reasons)
    chosen = next(row["config"] for row in rows if row["preferred"])
    diverged = [row["config"] for row in rows if row["diverged"]]
    if diverged:
        notes.append(f"Diverged (non-finite {metric.label}, never chosen): {', '.join(diverged)}.")
    if chosen != best:
        notes.append(
            f"{best} had the best {metric.label}, but {chosen} is within one "
            "standard error and simpler, sparser or more strongly regularized, so it is "
            "recommended."
        )
    notes += _overruled(plan.reasons, plan.scores, rows, chosen, metric)
    config = replace(configs[chosen], verbose=1)
    refit_sizes = (
        []
        if plan.custom
        else list(config.build_model(*plan.shape, plan.dataset.task).architecture.sizes)
    )
    return Choice(chosen, config, refit_sizes, rows, test_metric)


def _techniques_of(config: str) -> set[str]:
    return {part.split("=")[0] for part in config.split("+")}


def _spare_avoided(rows: list[dict[str, Any]], reasons: Sequence[Reason]) -> list[str]:
    """Move the tie-break off a config using a technique a rule argues against.

    Among the best config and its ties, ``summarize`` prefers the sparsest, which on
    correlated features is often pure L1: the technique the correlation rule avoids. When a
    contender without such a technique exists, the preference goes to the simplest/sparsest
    of those instead (the flags in ``rows`` are updated). Returns the note saying so.
    """
    avoided = {technique for reason in reasons for technique in reason.avoid}
    preferred = next(row for row in rows if row["preferred"])
    clash = avoided & _techniques_of(preferred["config"])
    if not clash:
        return []
    allowed = [
        row
        for row in rows
        if (row["best"] or row["tied"]) and not avoided & _techniques_of(row["config"])
    ]
    if not allowed:
        return []
    choice = min(
        allowed,
        key=lambda row: (-round(row["sparsity_mean"], 2), row["techniques"], row["seconds_mean"]),
    )
    preferred["preferred"], choice["preferred"] = False, True
    return [
        f"{preferred['config']} is tied, but the rules argue against "
        f"{', '.join(sorted(clash))} on this data, so the tied {choice['config']} is preferred."
    ]


def _overruled(
    reasons: Sequence[Reason],
    scores: dict[str, float],
    rows: list[dict[str, Any]],
    chosen: str,
    metric: Metric,
) -> list[str]:
    """Sentences where the experiment contradicts what the rules favoured."""
    if not reasons:
        return []
    favourite = max(scores, key=lambda t: scores[t])
    chosen_techniques = {part.split("=")[0] for part in chosen.split("+")}
    if favourite in chosen_techniques:
        return []
    by_config = {row["config"]: row for row in rows}
    tested = [c for c in by_config if favourite in {p.split("=")[0] for p in c.split("+")}]
    if not tested:
        return []
    sign = -1.0 if metric.higher else 1.0
    column = f"{metric.key}_mean"
    best_tested = min(tested, key=lambda c: sign * by_config[c][column])
    return [
        f"The rules favoured {favourite} (score {scores[favourite]:.2f}), but the evidence "
        f"overrules them: {chosen} reached {metric.label} "
        f"{by_config[chosen][column]:.4f} against "
        f"{by_config[best_tested][column]:.4f} for {best_tested}."
    ]
