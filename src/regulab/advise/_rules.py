"""The regularization guide's rules, each tied to the measured number that triggers it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from regulab.diagnose import DataDiagnostics
from regulab.diagnose._data import format_ratio

__all__ = ["Reason", "reasons_from", "candidate_configs", "capacity_candidates"]

_SMALL_DATA = 1000
_IRRELEVANT_SHARE = 0.2
_NOISY_LABELS = 0.2
_OUTLIERS = 0.02
_HIGH_CAPACITY = 1.0
_LINEAR_GRID = (1e-3, 1e-2, 1e-1)
_FEW_ROWS_PER_FEATURE = 50  # below this, a linear model is a serious candidate


@dataclass(frozen=True)
class Reason:
    """A rule that fired: a code, the techniques it favours, a score and a sentence.

    ``score`` in (0, 1] says how strongly the measured number points to the techniques;
    ``avoid`` lists techniques the rule argues against (pure L1 on correlated groups).
    """

    code: str
    techniques: tuple[str, ...]
    score: float
    sentence: str
    avoid: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {**asdict(self), "techniques": list(self.techniques), "avoid": list(self.avoid)}


def reasons_from(
    diagnostics: DataDiagnostics,
    *,
    n_train: int,
    interpretable: bool = False,
    important_features: Sequence[str] = (),
    budget_seconds: float | None = None,
) -> list[Reason]:
    """Apply the rules to the diagnostics; strongest reasons first."""
    reasons: list[Reason] = []
    irrelevant = diagnostics["irrelevant_features"]
    share = float(irrelevant.details.get("share", 0.0))
    by_column = irrelevant.details.get("column_p_values")  # a table: its original columns
    n_features = len(by_column) if by_column else int(diagnostics["features"].value)
    unit = "columns" if by_column else "features"
    if share > _IRRELEVANT_SHARE:
        reasons.append(
            Reason(
                "irrelevant_features",
                ("l1", "elastic_net"),
                min(1.0, share + 0.2),
                f"{int(irrelevant.value)} of {n_features} {unit} look irrelevant (no signal "
                "alone or together) → L1 or elastic net zeroes them.",
            )
        )
    correlation = diagnostics["correlation"]
    groups = int(correlation.details.get("n_groups", 0))
    condition = correlation.details.get("condition_number")
    ill_conditioned = bool(correlation.details.get("ill_conditioned", False))
    if groups or ill_conditioned:
        covered = correlation.details.get("features_in_groups", 0)
        why = (
            f"{groups} group(s) of highly correlated {unit} ({covered} {unit}, largest "
            f"|r| {correlation.value:.2f})"
            if groups
            else f"an ill-conditioned design (condition number {condition or float('inf'):.3g})"
        )
        reasons.append(
            Reason(
                "correlated_features",
                ("l2", "elastic_net"),
                0.7 if groups else 0.5,
                f"{why[0].upper()}{why[1:]} → L2 or elastic net; pure L1 would keep one feature "
                "of each group arbitrarily.",
                avoid=("l1",),
            )
        )
    if share > _IRRELEVANT_SHARE and (groups or ill_conditioned):
        reasons.append(
            Reason(
                "irrelevant_and_correlated",
                ("elastic_net",),
                0.9,
                "Both irrelevant and correlated features → elastic net gets L1's selection and "
                "L2's grouping.",
            )
        )
    capacity = diagnostics["parameters_per_sample"]
    if capacity.value > _HIGH_CAPACITY:
        reasons.append(
            Reason(
                "high_capacity",
                ("dropout", "early_stopping", "batchnorm"),
                min(1.0, 0.4 + 0.1 * capacity.value**0.5),
                f"The model has {format_ratio(capacity.value)} parameters per training sample → "
                "dropout, batch norm or early stopping rather than ever stronger penalties, "
                "which underfit.",
            )
        )
    if n_train < _SMALL_DATA:
        reasons.append(
            Reason(
                "small_data",
                ("dropout", "l2", "early_stopping"),
                0.8,
                f"Only {n_train} training samples → dropout or L2, with early stopping.",
            )
        )
    noise = diagnostics["label_noise"]
    if diagnostics["samples"].value and noise.value == noise.value and noise.value > _NOISY_LABELS:
        reasons.append(
            Reason(
                "label_noise",
                ("early_stopping", "dropout", "l2"),
                min(1.0, 0.5 + noise.value),
                f"A cross-validated model disagrees with {noise.value:.0%} of the labels → "
                "early stopping before the network memorizes the noise, plus dropout or L2.",
            )
        )
    outliers = diagnostics["outliers"]
    if outliers.value > _OUTLIERS:
        reasons.append(
            Reason(
                "outliers",
                ("early_stopping", "l2"),
                0.4,
                f"{outliers.value:.1%} of rows are far outliers → early stopping and moderate L2.",
            )
        )
    if interpretable:
        reasons.append(
            Reason(
                "interpretable",
                ("l1", "linear"),
                1.0,
                "Interpretability was asked for → L1 (exact zeros, a short list of kept features), "
                "on a linear model when it holds up.",
            )
        )
    if important_features:
        reasons.append(
            Reason(
                "domain_knowledge",
                ("l1", "elastic_net"),
                0.3,
                f"{len(important_features)} feature(s) marked important → their penalty factor is "
                "lowered so the penalty spares them.",
            )
        )
    if budget_seconds is not None and budget_seconds < 120:
        reasons.append(
            Reason(
                "small_budget",
                ("dropout", "early_stopping"),
                0.3,
                f"A {budget_seconds:.0f} s budget → dropout and early stopping cost almost "
                "nothing extra (early stopping even saves time).",
            )
        )
    return sorted(reasons, key=lambda r: -r.score)


def _scores(reasons: Sequence[Reason]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for reason in reasons:
        for technique in reason.techniques:
            scores[technique] = scores.get(technique, 0.0) + reason.score
        for technique in reason.avoid:
            scores[technique] = scores.get(technique, 0.0) - reason.score
    return scores


def candidate_configs(
    reasons: Sequence[Reason], *, has_hidden: bool, limit: int = 6
) -> tuple[list[str], dict[str, float]]:
    """Configs to test (baseline ``none`` first) and the techniques' rule scores.

    Up to ``limit`` single techniques in score order (each with early stopping when that is
    advised), then up to two combinations: the top penalty with dropout, and batch norm
    with light dropout (0.2).
    """
    scores = _scores(reasons)
    ranked = [t for t, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s > 0]
    if not has_hidden:
        ranked = [t for t in ranked if t not in ("dropout", "batchnorm")]
    if not ranked:
        ranked = ["l2", "dropout", "early_stopping"] if has_hidden else ["l2", "early_stopping"]
    penalties = [t for t in ranked if t in ("l1", "l2", "elastic_net", "weight_decay")]
    stop = "+early_stopping" if "early_stopping" in ranked else ""
    singles = [
        (technique if technique != "linear" else "linear+l1") + stop
        for technique in ranked
        if technique != "early_stopping"
    ]
    if stop:
        singles.append("early_stopping")
    combos = []
    if has_hidden and penalties and "dropout" in ranked:
        combos.append(f"dropout+{penalties[0]}{stop}")
    if has_hidden and "dropout" in ranked and "batchnorm" in ranked:
        # Batch norm already regularizes a little, so it goes with lighter dropout.
        combos.append(f"batchnorm+dropout=0.2{stop}")
    singles = list(dict.fromkeys(singles))[:limit]
    return ["none", *singles, *combos], scores


def hidden_width(n_train: int, n_features: int, n_outputs: int) -> int:
    """Width of the one-hidden-layer candidate: about one parameter per training row,
    as a power of two in [8, 64].

    Examples
    --------
    >>> hidden_width(400, 30, 2), hidden_width(100, 30, 2), hidden_width(100_000, 20, 2)
    (16, 8, 64)
    """
    width = n_train / max(n_features + n_outputs + 2, 1)
    return int(min(64, max(8, 2 ** round(np.log2(max(width, 1.0))))))


def capacity_candidates(
    diagnostics: DataDiagnostics,
    reasons: Sequence[Reason],
    *,
    n_train: int,
    n_outputs: int,
    early_stopping: bool,
) -> tuple[list[str], Reason | None]:
    """Smaller models to test beside the rules' candidates, and the reason naming why.

    A linear model (L2, plus L1 when irrelevant features or interpretability were found,
    elastic net when correlated groups were, each at strengths 1e-3, 1e-2 and 1e-1)
    whenever rows per feature are below :data:`_FEW_ROWS_PER_FEATURE` or the network has
    more than one parameter per training row; a one-hidden-layer network
    (:func:`hidden_width`) in the same cases. Whether they stay is for the cross-validated
    evidence to say.
    """
    n_features = int(diagnostics["features"].value)
    per_feature = n_train / max(n_features, 1)
    per_sample = float(diagnostics["parameters_per_sample"].value)
    if per_feature >= _FEW_ROWS_PER_FEATURE and per_sample <= _HIGH_CAPACITY:
        return [], None
    codes = {reason.code for reason in reasons}
    # A linear model's best strength spans decades (l2 = 1 / (2 C n) for scikit-learn's C),
    # and linear candidates are cheap (one stack), so each comes as a short grid.
    linear = [f"linear+l2={s:g}" for s in _LINEAR_GRID]
    if codes & {"irrelevant_features", "interpretable", "domain_knowledge"}:
        linear += [f"linear+l1={s:g}" for s in _LINEAR_GRID]
    if codes & {"correlated_features", "irrelevant_and_correlated"}:
        linear += [f"linear+elastic_net={s:g}:0.5" for s in _LINEAR_GRID]
    width = hidden_width(n_train, n_features, n_outputs)
    small = f"hidden={width}" + ("+early_stopping" if early_stopping else "")
    reason = Reason(
        "capacity",
        ("linear", "hidden"),
        0.6,
        f"{per_feature:.1f} training rows per feature and {per_sample:.1f} network parameters "
        f"per row → smaller models are candidates too: a linear model and one hidden layer of "
        f"{width}.",
    )
    return [*linear, small], reason
