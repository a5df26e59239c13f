"""Plot data: plain NamedTuples computed from run records, checked by tests without drawing.

Every figure of the report is drawn from one of these objects by :mod:`regulab.report._plots`.
The comparison table is computed here too, unless the caller passes a precomputed one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regulab.errors import InvalidParameterError
from regulab.experiment import summarize
from regulab.experiment._records import HISTOGRAM_EDGES
from regulab.stats import finite, higher_is_better, mean_ci, one_se_rule

if TYPE_CHECKING:
    from regulab.experiment._records import RunRecord

__all__ = [
    "ComparisonRow",
    "LearningCurve",
    "GapBar",
    "WeightHistogram",
    "DroppedFeatures",
    "SparsityData",
    "InputHeatmap",
    "PathPoint",
    "RegularizationPath",
    "CurvePoint",
    "ParameterCurve",
    "ReportData",
    "comparison_table",
    "headline_metric",
    "selection_metric_for",
    "build_report_data",
]

_METRIC_PREFERENCE = ("test_accuracy", "test_r2", "test_f1_macro", "test_roc_auc")


class ComparisonRow(NamedTuple):
    """One configuration of the comparison, aggregated over its seeds.

    ``metric_*`` describe the validation metric every mark is chosen on (mean, 95% t
    interval, standard error), ``test_*`` the test metric reported beside it; ``gap_*`` the
    generalization gap (validation minus training loss). ``diverged`` counts seeds whose
    validation metric is not finite (such a configuration is never marked). ``is_best``
    marks the best mean, ``is_tied`` a mean within one standard error of it, and
    ``is_preferred`` the sparsest, then simplest, configuration among the best and tied ones
    (the rule of :func:`regulab.experiment.summarize`, which computes these rows).
    """

    config_name: str
    n_seeds: int
    metric: str
    higher_is_better: bool
    metric_mean: float
    metric_low: float
    metric_high: float
    metric_se: float
    test_metric: str
    test_mean: float
    test_low: float
    test_high: float
    test_se: float
    gap_mean: float
    gap_low: float
    gap_high: float
    epochs_mean: float
    stop_reasons: dict[str, int]
    sparsity_mean: float
    weight_norm_mean: float
    seconds_mean: float
    techniques: int
    diverged: int
    is_best: bool
    is_tied: bool
    is_preferred: bool

    @classmethod
    def from_summary(
        cls, row: Mapping[str, Any], metric: str, higher: bool, test_metric: str
    ) -> ComparisonRow:
        """A row of :func:`regulab.experiment.summarize` as a ComparisonRow."""
        mean, half = row[f"{metric}_mean"], row[f"{metric}_ci"]
        test, test_half = row[f"{test_metric}_mean"], row[f"{test_metric}_ci"]
        return cls(
            config_name=row["config"],
            n_seeds=row["n_seeds"],
            metric=metric,
            higher_is_better=higher,
            metric_mean=mean,
            metric_low=mean - half,
            metric_high=mean + half,
            metric_se=row[f"{metric}_se"],
            test_metric=test_metric,
            test_mean=test,
            test_low=test - test_half,
            test_high=test + test_half,
            test_se=row[f"{test_metric}_se"],
            gap_mean=row["gap_mean"],
            gap_low=row["gap_mean"] - row["gap_ci"],
            gap_high=row["gap_mean"] + row["gap_ci"],
            epochs_mean=row["epochs_mean"],
            stop_reasons=dict(row["stop_reasons"]),
            sparsity_mean=row["sparsity_mean"],
            weight_norm_mean=row["weight_norm_mean"],
            seconds_mean=row["seconds_mean"],
            techniques=row["techniques"],
            diverged=row["diverged"],
            is_best=row["best"],
            is_tied=row["tied"],
            is_preferred=row["preferred"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The row in the compare engine's format (:func:`regulab.experiment.summarize`).

        Keys: ``config``, ``n_seeds``, ``diverged``, ``<metric>_mean``/``_ci`` (CI
        half-width)/``_se``, the same for ``<test_metric>``, ``gap_mean``/``gap_ci``,
        ``epochs_mean``, ``stop_reasons``, ``sparsity_mean``, ``weight_norm_mean``,
        ``seconds_mean``, ``techniques``, ``best``, ``tied``, ``preferred``; NaN becomes None.
        """
        m, t = self.metric, self.test_metric
        row: dict[str, Any] = {
            "config": self.config_name,
            "n_seeds": self.n_seeds,
            "diverged": self.diverged,
            f"{m}_mean": self.metric_mean,
            f"{m}_ci": self.metric_high - self.metric_mean,
            f"{m}_se": self.metric_se,
            f"{t}_mean": self.test_mean,
            f"{t}_ci": self.test_high - self.test_mean,
            f"{t}_se": self.test_se,
            "gap_mean": self.gap_mean,
            "gap_ci": self.gap_high - self.gap_mean,
            "epochs_mean": self.epochs_mean,
            "stop_reasons": dict(self.stop_reasons),
            "sparsity_mean": self.sparsity_mean,
            "weight_norm_mean": self.weight_norm_mean,
            "seconds_mean": self.seconds_mean,
            "techniques": self.techniques,
            "best": self.is_best,
            "tied": self.is_tied,
            "preferred": self.is_preferred,
        }
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()
        }


class LearningCurve(NamedTuple):
    """Training and validation loss per epoch, averaged over the seeds that reached it."""

    config_name: str
    epochs: list[int]
    train_loss: list[float]
    val_loss: list[float]
    n_seeds: list[int]
    best_epochs: list[int]
    stop_epochs: list[int]

    @property
    def best_epoch(self) -> float | None:
        """Median early-stopping point over seeds (None when no seed restored weights)."""
        return float(np.median(self.best_epochs)) if self.best_epochs else None


class GapBar(NamedTuple):
    """Generalization gap (validation loss minus training loss) of one configuration."""

    config_name: str
    mean: float
    low: float
    high: float
    n: int


class WeightHistogram(NamedTuple):
    """Share of all weights per histogram bin, with exact zeros counted apart."""

    config_name: str
    edges: list[float]
    shares: list[float]
    zero_share: float
    n_weights: float


class DroppedFeatures(NamedTuple):
    """Input features a configuration removed (all outgoing first-layer weights zero)."""

    config_name: str
    mean_count: float
    n_inputs: int
    features: list[tuple[str, float]]


class SparsityData(NamedTuple):
    """Share of exactly-zero weights per layer and configuration, plus dropped inputs."""

    configs: list[str]
    layers: list[str]
    shares: list[list[float]]
    totals: list[float]
    dropped: list[DroppedFeatures]


class InputHeatmap(NamedTuple):
    """Share of seeds that keep each input pixel, shaped like the image."""

    config_name: str
    kept_share: np.ndarray
    n_seeds: int


class PathPoint(NamedTuple):
    """One strength of a regularization path, aggregated over seeds."""

    strength: float
    metric_mean: float
    metric_se: float
    nonzero_mean: float
    kept_inputs_mean: float
    n: int


class RegularizationPath(NamedTuple):
    """Validation metric and non-zero weights against penalty strength."""

    penalty: str
    metric: str
    higher_is_better: bool
    points: list[PathPoint]
    lambda_min: float
    lambda_1se: float
    source: str


class CurvePoint(NamedTuple):
    """One value of a swept hyper-parameter (dropout rate, patience).

    ``mean``/``low``/``high`` describe the validation metric (95% t interval),
    ``test_mean`` the test metric reported beside it, ``diverged`` the seeds whose
    validation metric is not finite.
    """

    x: float
    mean: float
    low: float
    high: float
    gap_mean: float
    epochs_mean: float
    n: int
    test_mean: float
    diverged: int


class ParameterCurve(NamedTuple):
    """Validation metric and gap against one swept hyper-parameter, with the value that has
    the best mean validation metric and the one-standard-error choice (the smallest value
    within one SE of it; :func:`regulab.stats.one_se_rule`)."""

    group: str
    parameter: str
    metric: str
    higher_is_better: bool
    points: list[CurvePoint]
    best: float
    one_se: float


@dataclass
class ReportData:
    """Everything the report draws, computed from the records.

    Attributes
    ----------
    metric : str
        Validation metric every mark is chosen on (``val_accuracy``, ``val_r2``...).
    higher_is_better : bool
    table : list of dict
        Comparison rows to display, precomputed by the caller or :func:`comparison_table`.
    table_computed : bool
        True when ``table`` was computed here.
    test_metric : str
        Test metric reported beside (``test_accuracy``, ``test_r2``...), never used to
        choose.
    """

    metric: str
    higher_is_better: bool
    table: list[dict[str, Any]]
    table_computed: bool
    configs: list[str]
    seeds: list[int]
    n_runs: int
    dataset: str | None
    learning_curves: list[LearningCurve] = field(default_factory=list)
    gaps: list[GapBar] = field(default_factory=list)
    histograms: list[WeightHistogram] = field(default_factory=list)
    sparsity: SparsityData | None = None
    heatmaps: list[InputHeatmap] = field(default_factory=list)
    paths: list[RegularizationPath] = field(default_factory=list)
    dropout_curve: ParameterCurve | None = None
    patience_curve: ParameterCurve | None = None
    test_metric: str = ""


def headline_metric(records: Sequence[RunRecord]) -> tuple[str, bool]:
    """Pick the main test metric present in the records and its direction.

    ``test_accuracy`` for classification, ``test_r2`` for regression, else another
    ``test_*`` metric (a loss only as a last resort).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> headline_metric([SimpleNamespace(metrics={"test_loss": 0.3, "test_r2": 0.8})])
    ('test_r2', True)
    """
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record.metrics if k.startswith("test_") and k not in keys)
    for name in _METRIC_PREFERENCE:
        if name in keys:
            return name, True
    for name in keys:
        if higher_is_better(name):
            return name, True
    if keys:
        return keys[0], False
    return "val_loss", False


def selection_metric_for(records: Sequence[RunRecord], test_metric: str) -> tuple[str, bool]:
    """The validation twin of ``test_metric`` when the records have it, else ``val_loss``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> run = SimpleNamespace(metrics={"val_r2": 0.7, "test_r2": 0.8}, history=[])
    >>> selection_metric_for([run], "test_r2"), selection_metric_for([run], "test_mae")
    (('val_r2', True), ('val_loss', False))
    """
    candidate = "val_" + test_metric.removeprefix("test_")
    for record in records:
        if candidate in record.metrics or any(candidate in e for e in record.history):
            return candidate, higher_is_better(candidate)
    return "val_loss", False


def _by_config(records: Sequence[RunRecord]) -> dict[str, dict[int, RunRecord]]:
    groups: dict[str, dict[int, RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config_name, {}).setdefault(record.seed, record)
    return groups


def comparison_table(
    records: Sequence[RunRecord],
    *,
    metric: str | None = None,
    tie_rule: str = "se",
    margin: float | None = None,
) -> list[ComparisonRow]:
    """Aggregate runs per configuration and mark the best, tied and preferred ones.

    The marks are chosen on the validation twin of the test metric
    (:func:`selection_metric_for`) by :func:`regulab.experiment.summarize`; the test metric
    is reported beside.

    Parameters
    ----------
    records : sequence of RunRecord
        Runs of the ``compare`` group (other groups should be filtered out first); one run
        per configuration and seed is used.
    metric : str, optional
        Test metric to report; default :func:`headline_metric`.
    tie_rule : {"se", "tost"}, default="se"
        Ties within one standard error of the best, or by a paired equivalence test.
    margin : float, optional
        Equivalence margin for ``tie_rule="tost"``.

    Returns
    -------
    list of ComparisonRow
        Best first, diverged configurations last.
    """
    if not records:
        return []
    test_metric = metric or headline_metric(records)[0]
    chosen_on, higher = selection_metric_for(records, test_metric)
    runs = [run for per_seed in _by_config(records).values() for run in per_seed.values()]
    rows, _ = summarize(
        runs, chosen_on, higher, test_metric=test_metric, tie_rule=tie_rule, margin=margin
    )
    return [ComparisonRow.from_summary(row, chosen_on, higher, test_metric) for row in rows]


def _nanmean(columns: list[list[float]]) -> list[float]:
    return [mean_ci(c).mean for c in columns]


def learning_curve(config: str, runs: Sequence[RunRecord]) -> LearningCurve:
    """Mean training and validation loss per epoch over the seeds of one configuration."""
    by_epoch: dict[int, tuple[list[float], list[float]]] = {}
    for run in runs:
        for epoch in run.history:
            train, val = by_epoch.setdefault(int(epoch["epoch"]), ([], []))
            train.append(math.nan if epoch.get("loss") is None else float(epoch["loss"]))
            val.append(math.nan if epoch.get("val_loss") is None else float(epoch["val_loss"]))
    epochs = sorted(by_epoch)
    return LearningCurve(
        config_name=config,
        epochs=epochs,
        train_loss=_nanmean([by_epoch[e][0] for e in epochs]),
        val_loss=_nanmean([by_epoch[e][1] for e in epochs]),
        n_seeds=[len(by_epoch[e][0]) for e in epochs],
        best_epochs=[int(r.best_epoch) for r in runs if r.best_epoch is not None],
        stop_epochs=[int(r.epochs_run) for r in runs],
    )


def weight_histogram(config: str, runs: Sequence[RunRecord]) -> WeightHistogram:
    """Pool the weight histograms of a configuration's seeds into shares of all weights."""
    counts = np.sum([np.asarray(r.weights["histogram"], dtype=np.float64) for r in runs], axis=0)
    zeros = float(sum(r.weights.get("exact_zeros", 0) for r in runs))
    total = float(counts.sum()) + zeros
    return WeightHistogram(
        config_name=config,
        edges=list(HISTOGRAM_EDGES),
        shares=(counts / total).tolist() if total else [0.0] * len(counts),
        zero_share=zeros / total if total else 0.0,
        n_weights=total / len(runs),
    )


def sparsity_data(groups: Mapping[str, Sequence[RunRecord]]) -> SparsityData:
    """Mean share of zero weights per layer and the input features each config dropped."""
    layers: list[str] = []
    for runs in groups.values():
        for run in runs:
            layers.extend(k for k in run.sparsity.get("per_layer", {}) if k not in layers)
    shares, totals, dropped = [], [], []
    for config, runs in groups.items():
        shares.append(
            [
                mean_ci(r.sparsity.get("per_layer", {}).get(layer) for r in runs).mean
                for layer in layers
            ]
        )
        totals.append(mean_ci(r.sparsity.get("total") for r in runs).mean)
        counts: dict[str, int] = {}
        for run in runs:
            for name in run.sparsity.get("dropped_features", []):
                counts[str(name)] = counts.get(str(name), 0) + 1
        features = sorted(((n, c / len(runs)) for n, c in counts.items()), key=lambda f: -f[1])
        dropped.append(
            DroppedFeatures(
                config_name=config,
                mean_count=sum(counts.values()) / len(runs),
                n_inputs=max((_n_inputs(r) for r in runs), default=0),
                features=features,
            )
        )
    return SparsityData(list(groups), layers, shares, totals, dropped)


def _n_inputs(run: RunRecord) -> int:
    """The inputs a run's dropped features are counted among: a table's original columns
    when its sparsity names them, else the first layer's inputs."""
    return int(run.sparsity.get("n_columns") or len(run.weights.get("kept_inputs", [])))


def input_heatmaps(
    groups: Mapping[str, Sequence[RunRecord]], image_shape: tuple[int, int]
) -> list[InputHeatmap]:
    """Share of seeds keeping each pixel, for configurations that dropped any input.

    Raises
    ------
    InvalidParameterError
        When ``image_shape`` does not match the number of inputs.
    """
    size = int(np.prod(image_shape))
    maps = []
    for config, runs in groups.items():
        kept = [np.asarray(r.weights.get("kept_inputs", []), dtype=bool) for r in runs]
        kept = [k for k in kept if k.size]
        if not kept or all(k.all() for k in kept):
            continue
        if any(k.size != size for k in kept):
            raise InvalidParameterError(
                f"The 'image_shape' parameter of write_report must match the number of inputs "
                f"({kept[0].size}). Got {tuple(image_shape)!r} ({size} pixels) instead."
            )
        share = np.mean(np.stack(kept).astype(np.float64), axis=0).reshape(image_shape)
        maps.append(InputHeatmap(config, share, len(kept)))
    return maps


def _summary_for(
    penalty: str, summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    if not summaries:
        return None
    if isinstance(summaries, Mapping):
        found = summaries.get(penalty) or summaries.get(f"path:{penalty}")
        if found is None and "lambda_min" in summaries:
            found = summaries
        return found if isinstance(found, Mapping) else None
    for item in summaries:
        name = str(item.get("penalty", item.get("kind", item.get("group", ""))))
        if name.removeprefix("path:") == penalty:
            return item
    return None


def regularization_paths(
    records: Sequence[RunRecord],
    metric: str,
    summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[RegularizationPath]:
    """One path per ``path:<penalty>`` group: validation metric and non-zeros per strength.

    ``lambda_min``/``lambda_1se`` come from the matching entry of ``summaries`` when given,
    else from :func:`regulab.stats.one_se_rule` (the rule of
    :func:`~regulab.experiment.regularization_path`) on the validation metric; a strength
    where any seed diverged is never chosen.
    """
    by_penalty: dict[str, list[RunRecord]] = {}
    for record in records:
        if record.group.startswith("path:"):
            by_penalty.setdefault(record.group.removeprefix("path:"), []).append(record)
    paths = []
    for penalty, runs in by_penalty.items():
        val_name, higher = selection_metric_for(runs, metric)
        by_strength: dict[float, list[RunRecord]] = {}
        for run in runs:
            by_strength.setdefault(float(run.extra.get("strength", math.nan)), []).append(run)
        points, choice_means = [], []
        for strength in sorted(s for s in by_strength if math.isfinite(s)):
            group = by_strength[strength]
            values = [r.choice_metric(val_name) for r in group]
            ci = mean_ci(values)
            choice_means.append(ci.mean if len(finite(values)) == len(values) else math.nan)
            points.append(
                PathPoint(
                    strength=strength,
                    metric_mean=ci.mean,
                    metric_se=ci.se,
                    nonzero_mean=mean_ci(sum(r.weights.get("histogram", [])) for r in group).mean,
                    kept_inputs_mean=mean_ci(
                        sum(bool(k) for k in r.weights.get("kept_inputs", [])) for r in group
                    ).mean,
                    n=len(finite(values)),
                )
            )
        given = _summary_for(penalty, summaries)
        if given is not None and given.get("lambda_min") is not None:
            lam_min = float(given["lambda_min"])
            lam_1se = float(given.get("lambda_1se", lam_min))
            source = "given"
        else:
            lam_min, lam_1se = one_se_rule(
                [p.strength for p in points],
                choice_means,
                [p.metric_se for p in points],
                higher_is_better=higher,
            )
            source = "computed"
        paths.append(
            RegularizationPath(penalty, val_name, higher, points, lam_min, lam_1se, source)
        )
    return paths


def parameter_curve(
    records: Sequence[RunRecord], group: str, parameter: str, test_metric: str
) -> ParameterCurve | None:
    """Validation metric (mean and 95% CI), test metric, gap and epochs per value of a swept
    parameter, with the best and one-SE values chosen on validation (the rule of
    :func:`~regulab.experiment.dropout_curve`)."""
    by_x: dict[float, list[RunRecord]] = {}
    for record in records:
        if record.group == group and record.extra.get(parameter) is not None:
            by_x.setdefault(float(record.extra[parameter]), []).append(record)
    if not by_x:
        return None
    runs = [r for x in by_x.values() for r in x]
    val_name, higher = selection_metric_for(runs, test_metric)
    points, choice_means, ses = [], [], []
    for x in sorted(by_x):
        values = [r.choice_metric(val_name) for r in by_x[x]]
        ci = mean_ci(values)
        diverged = len(values) - len(finite(values))
        choice_means.append(math.nan if diverged else ci.mean)
        ses.append(ci.se)
        points.append(
            CurvePoint(
                x=x,
                mean=ci.mean,
                low=ci.low,
                high=ci.high,
                gap_mean=mean_ci(r.metrics.get("gap") for r in by_x[x]).mean,
                epochs_mean=mean_ci(r.epochs_run for r in by_x[x]).mean,
                n=len(values) - diverged,
                test_mean=mean_ci(r.metric(test_metric) for r in by_x[x]).mean,
                diverged=diverged,
            )
        )
    best, one_se = one_se_rule(
        sorted(by_x), choice_means, ses, higher_is_better=higher, prefer="smallest"
    )
    return ParameterCurve(group, parameter, val_name, higher, points, best, one_se)


def _gap_bar(config: str, runs: Sequence[RunRecord]) -> GapBar:
    gaps = finite(r.metrics.get("gap") for r in runs)
    ci = mean_ci(gaps)
    return GapBar(config, ci.mean, ci.low, ci.high, len(gaps))


def _dataset_name(records: Sequence[RunRecord]) -> str | None:
    for record in records:
        data = record.config.get("data") if isinstance(record.config, Mapping) else None
        if data:
            return str(data).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return None


def build_report_data(
    records: Sequence[RunRecord],
    *,
    image_shape: tuple[int, int] | None = None,
    table: Sequence[Mapping[str, Any]] | None = None,
    path_summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> ReportData:
    """Compute every figure's data (and the comparison table unless given) from records.

    Parameters
    ----------
    records : sequence of RunRecord
        Finished runs; the ``compare`` group feeds the table, curves, weights and sparsity,
        ``path:*``, ``dropout_curve`` and ``patience_curve`` feed their own figures.
    image_shape : tuple of int, optional
        ``(height, width)`` of image inputs, e.g. ``(8, 8)``: adds input heat maps.
    table : list of dict, optional
        Precomputed comparison rows (e.g. from the compare engine); computed when None.
    path_summaries : dict or list of dict, optional
        ``lambda_min``/``lambda_1se`` per penalty (``{"l1": {"lambda_min": ...}}`` or a list
        of dicts with a ``penalty`` key); computed from the path records when missing.

    Returns
    -------
    ReportData
    """
    compare = [r for r in records if r.group == "compare"]
    test_metric, _ = headline_metric(compare or records)
    metric, higher = selection_metric_for(compare or records, test_metric)
    groups = {c: list(runs.values()) for c, runs in _by_config(compare).items()}
    if table is None:
        rows = [r.to_dict() for r in comparison_table(compare, metric=test_metric)]
    else:
        rows = [dict(r) for r in table]
    return ReportData(
        metric=metric,
        higher_is_better=higher,
        test_metric=test_metric,
        table=rows,
        table_computed=table is None,
        configs=list(groups),
        seeds=sorted({r.seed for r in compare}),
        n_runs=len(records),
        dataset=_dataset_name(records),
        learning_curves=[learning_curve(c, runs) for c, runs in groups.items()],
        gaps=[_gap_bar(c, runs) for c, runs in groups.items()],
        histograms=[
            weight_histogram(c, runs)
            for c, runs in groups.items()
            if all(r.weights.get("histogram") for r in runs)
        ],
        sparsity=sparsity_data(groups) if groups else None,
        heatmaps=input_heatmaps(groups, image_shape) if image_shape else [],
        paths=regularization_paths(records, test_metric, path_summaries),
        dropout_curve=parameter_curve(records, "dropout_curve", "rate", test_metric),
        patience_curve=parameter_curve(records, "patience_curve", "patience", test_metric),
    )
