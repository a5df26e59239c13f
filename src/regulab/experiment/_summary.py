"""The comparison table: one row per config over its seeds, best, tied and preferred marked.

The marks come from :func:`regulab.stats.choose` on the *validation* metric; the test metric
is summarized beside it and never used to choose.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from regulab.errors import InvalidParameterError
from regulab.experiment._records import RunRecord
from regulab.experiment._techniques import technique_count
from regulab.stats import choose, finite, mean_ci

__all__ = ["summarize"]


def _techniques(config: str) -> int:
    """Techniques in a config name; a name the parser does not know counts its parts."""
    try:
        return technique_count(config)
    except InvalidParameterError:
        parts = [p.strip().lower() for p in config.split("+") if p.strip()]
        return sum(1 for p in parts if p != "none")


def _columns(name: str, values: Sequence[float]) -> dict[str, float]:
    ci = mean_ci(values)
    return {f"{name}_mean": ci.mean, f"{name}_ci": ci.half_width, f"{name}_se": ci.se}


def _test_columns(test_metric: str | None, runs: Sequence[RunRecord]) -> dict[str, float]:
    return _columns(test_metric, [r.metric(test_metric) for r in runs]) if test_metric else {}


def summarize(
    records: Sequence[RunRecord],
    metric: str,
    higher_is_better: bool,
    *,
    test_metric: str | None = None,
    tie_rule: str = "se",
    margin: float | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per config, best and tied configs marked; plus notes explaining the choice.

    Parameters
    ----------
    records : sequence of RunRecord
    metric : str
        The validation metric to choose on (``val_accuracy``, ``val_r2``, ``val_loss``), read
        at the weights each run returned (:meth:`RunRecord.metric`).
    higher_is_better : bool
        Direction of ``metric``.
    test_metric : str, optional
        A test metric summarized beside (``test_accuracy``); never used to choose.
    tie_rule : {"se", "tost"}, default="se"
        ``"se"``: tied when the mean is within one standard error of the best mean (glmnet's
        ``lambda.1se``). ``"tost"``: tied when a paired equivalence test over shared seeds
        shows the difference within ``margin`` (p < 0.05). See :func:`regulab.stats.choose`.
    margin : float, optional
        Equivalence margin, in ``metric`` units, for ``tie_rule="tost"``.

    Returns
    -------
    rows : list of dict
        Best first, diverged configs last. Keys: ``config``, ``n_seeds``, ``diverged``
        (seeds that diverged: a non-finite ``metric``, or training stopped on a non-finite
        loss, see :attr:`RunRecord.diverged`; their ``metric`` is left out of the means),
        ``<metric>_mean``/``_ci`` (95% t half-width, NaN with one seed)/``_se``, the same
        for ``test_metric``, ``gap_mean``/``gap_ci`` (validation minus training loss at the
        returned epoch), ``epochs_mean``, ``stop_reasons``, ``sparsity_mean``,
        ``weight_norm_mean``, ``seconds_mean``, ``techniques``, and the marks ``best``,
        ``tied`` and ``preferred`` (the sparsest, then simplest, then fastest among the best
        and its ties). A config with a diverged seed is never marked.
    notes : list of str

    Examples
    --------
    >>> from regulab.experiment import RunRecord
    >>> def run(config, seed, val):
    ...     return RunRecord("k", config, {}, seed, "fp", "0", [], {"val_accuracy": val,
    ...         "gap": 0.1}, 5, "max_epochs", "", None, {"total": 0.0}, {"weight_norm": 1.0}, 1.0)
    >>> rows, notes = summarize([run("none", 0, 0.8), run("none", 1, 0.82),
    ...                          run("l2", 0, 0.9), run("l2", 1, 0.91)], "val_accuracy", True)
    >>> [(row["config"], row["best"]) for row in rows], notes[0]
    ([('l2', True), ('none', False)], 'Best val_accuracy: l2 (0.9050).')
    """
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config_name, []).append(record)
    rows: dict[str, dict[str, Any]] = {}
    for name, runs in groups.items():
        values = [r.choice_metric(metric) for r in runs]
        gap = mean_ci(r.metrics.get("gap") for r in runs)
        rows[name] = {
            "config": name,
            "n_seeds": len(runs),
            "diverged": len(values) - len(finite(values)),
            **_columns(metric, values),
            **_test_columns(test_metric, runs),
            "gap_mean": gap.mean,
            "gap_ci": gap.half_width,
            "epochs_mean": mean_ci(r.epochs_run for r in runs).mean,
            "stop_reasons": dict(Counter(r.stop_reason for r in runs)),
            "sparsity_mean": mean_ci(r.sparsity.get("total") for r in runs).mean,
            "weight_norm_mean": mean_ci(r.weights.get("weight_norm") for r in runs).mean,
            "seconds_mean": mean_ci(r.seconds for r in runs).mean,
            "techniques": _techniques(name),
            "best": False,
            "tied": False,
            "preferred": False,
        }
    if not rows:
        return [], []

    def simplicity(name: Any) -> tuple[float, int, float]:
        row = rows[name]
        return (-round(row["sparsity_mean"], 2), row["techniques"], row["seconds_mean"])

    choice = choose(
        {name: {r.seed: r.choice_metric(metric) for r in runs} for name, runs in groups.items()},
        higher_is_better=higher_is_better,
        simplicity=simplicity,
        tie_rule=tie_rule,
        margin=margin,
    )
    notes = []
    if choice.best is not None:
        best = rows[str(choice.best)]
        best["best"] = True
        notes.append(f"Best {metric}: {best['config']} ({best[f'{metric}_mean']:.4f}).")
    for tied in choice.tied:
        rows[str(tied)]["tied"] = True
    if choice.tied:
        rule = (
            "within one standard error of its mean"
            if tie_rule == "se"
            else f"equivalent within ±{margin:g} by a paired TOST, p < 0.05"
        )
        notes.append(f"Tied with the best ({rule}): {', '.join(map(str, choice.tied))}.")
    if choice.preferred is not None:
        preferred = rows[str(choice.preferred)]
        preferred["preferred"] = True
        if preferred is not rows[str(choice.best)]:
            notes.append(
                f"Preferred: {preferred['config']}, the simpler/sparser of the tied configs "
                f"({preferred['sparsity_mean']:.0%} exact zeros, {preferred['techniques']} "
                "technique(s))."
            )
    if choice.diverged:
        notes.append(
            f"Diverged (a non-finite loss or {metric}; never chosen): "
            f"{', '.join(map(str, choice.diverged))}."
        )
    sign = 1.0 if higher_is_better else -1.0

    def rank(row: dict[str, Any]) -> tuple[bool, bool, float]:
        mean = row[f"{metric}_mean"]
        return (row["diverged"] > 0, not row["best"], -sign * mean if mean == mean else math.inf)

    return sorted(rows.values(), key=rank), notes
