"""``advise``: diagnose, apply the rules, then let a fair experiment decide."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regulab._files import json_safe
from regulab.advise._baseline import MAJORITY_NOTE, baseline_block
from regulab.advise._choice import Choice, choose
from regulab.advise._code import code_snippets
from regulab.advise._experiment import Experiment, cross_validated_experiment, holdout_experiment
from regulab.advise._metric import Metric, headline_metric, selection_metric
from regulab.advise._modules import module_code
from regulab.advise._plan import Plan, check_important_features, input_columns, plan_candidates
from regulab.advise._refit import estimator_spec, refit_pipeline, train_command
from regulab.advise._rules import Reason
from regulab.advise._search import Runner
from regulab.config import TrainConfig
from regulab.custom import ModelFactory, factory_reference, is_custom
from regulab.data import Dataset
from regulab.data._table import leak_note
from regulab.diagnose import DataDiagnostics
from regulab.errors import InvalidParameterError, check_range
from regulab.experiment import RunRecord, mean_ci, prepare_data
from regulab.models import parse_sizes

__all__ = ["Advice", "advise", "parse_budget", "ADVICE_SCHEMA_VERSION"]

ADVICE_SCHEMA_VERSION = 2
# Cross-validated selection below this many non-test rows. A single 10% validation part of
# 5,000 rows has 500 rows, where the standard error of an accuracy near 90% is 1.3 points:
# already larger than the gaps between sensible regularizers. Five folds validate on every
# row (SE / sqrt(5)) at about 4x the training cost, which small data can afford; above the
# threshold one split is precise enough and the cost is not.
_CV_ROWS = 5000
_SELECTION_GAP = 2.0
_MASS_FLOOR = 0.01


def parse_budget(budget: str | float | int) -> float:
    """Seconds from ``"90s"``, ``"5m"``, ``"1.5h"`` or a number of seconds.

    Examples
    --------
    >>> parse_budget("5m"), parse_budget("90s"), parse_budget(30)
    (300.0, 90.0, 30.0)
    """
    text = str(budget).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?", text)
    seconds = None
    if match:
        unit = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}.get(match.group(2) or "s", 1)
        seconds = float(match.group(1)) * unit
    if seconds is None or seconds <= 0:
        raise InvalidParameterError(
            f"The budget must be a positive duration such as 90s, 5m or 1h. Got {budget!r}."
        )
    return seconds


@dataclass
class Advice:
    """What :func:`advise` found and recommends.

    Attributes
    ----------
    recommendation : str
        The chosen configuration, e.g. ``"dropout+l2=1e-3+early_stopping"``.
    config : TrainConfig
        The same as settings.
    reasons : list of Reason
        Rules that fired, each with the measured number behind it.
    diagnostics : DataDiagnostics
    evidence : list of dict
        Every tested config: validation loss (selection) and test metric, mean and CI.
    ranked : list of dict
        Configs in the order they are recommended, with a sentence each.
    gain : dict
        Expected test-metric gain over the unregularized network (mean, ci, per-seed), in
        the headline metric; ``beats_majority`` says whether the chosen config beats the
        majority-class baseline (when it does not, no gain is claimed).
    baseline : dict
        The majority-class baseline (``DummyClassifier(strategy="prior")`` or
        ``DummyRegressor``) on the same folds: its metrics and whether the choice beats it.
    metrics : dict
        ``selection`` (the scorer name that drove the choice, and its record key) and
        ``headline`` (the test metric the gain is reported in).
    selected_features : list of str
        With an L1 or elastic-net answer (or ``interpretable``): the input features the
        recommended model relies on (see :func:`selected_features`); on a table, the
        original columns (each column's encoded inputs' weight mass summed).
    important_features : dict of str to bool
        Each ``important_features`` name (a table's original column) -> whether the
        recommended model kept it.
    notes : list of str
        Ties, overruled rules, sampling, budget, why the search stopped.
    code : dict
        ``regulab``, ``pytorch`` and ``keras`` snippets.
    refit_epochs : int
        Epochs for a refit on every row (the folds' median early-stopping epoch under
        cross-validation).
    dataset : Dataset, optional
        The data set the advice was made on (what ``advise --save`` refits on).

    Examples
    --------
    >>> advice = advise("iris", budget="20s", verbose=0)  # doctest: +SKIP
    >>> model = advice.refit(X, y)  # doctest: +SKIP
    >>> model.predict(X_new)  # doctest: +SKIP
    """

    data: dict[str, Any]
    diagnostics: DataDiagnostics
    reasons: list[Reason]
    candidates: list[str]
    recommendation: str
    config: TrainConfig
    evidence: list[dict[str, Any]]
    ranked: list[dict[str, Any]]
    gain: dict[str, Any]
    baseline: dict[str, Any]
    metrics: dict[str, Any]
    selected_features: list[str]
    important_features: dict[str, bool]
    notes: list[str]
    code: dict[str, str]
    records: list[RunRecord] = field(repr=False, default_factory=list)
    seconds: float = 0.0
    image_shape: tuple[int, int] | None = None
    refit_epochs: int | None = None
    dataset: Dataset | None = field(default=None, repr=False, compare=False)

    @property
    def techniques(self) -> list[str]:
        """The recommendation's techniques with their strengths."""
        return _described(self.config)

    @property
    def cross_validated(self) -> bool:
        """Whether the choice was made by cross-validation (small data)."""
        return bool(self.data.get("selection", {}).get("method") == "cv")

    def estimator_spec(self) -> tuple[str, dict[str, Any]]:
        """The estimator class name and its keyword arguments (``recommendation.params``)."""
        if is_custom(self.config.model):
            raise InvalidParameterError(
                f"The advice is for the model {self.config.model}, which Regulab's "
                "scikit-learn estimators cannot build; train it with regulab.train (or "
                "`regulab train --model ...`, the recommendation's train_command)."
            )
        return estimator_spec(
            self.config,
            list(self.data["refit_model"]),
            self.data["task"],
            self.refit_epochs or self.config.epochs,
            self.cross_validated,
        )

    def estimator(self) -> Any:
        """The recommended model as an unfitted Regulab scikit-learn estimator.

        It expects features scaled as the advisor trained (standardized columns, or pixels
        in [0, 1]); :meth:`refit` adds that scaling.
        """
        from regulab.estimators import ESTIMATORS

        name, params = self.estimator_spec()
        return ESTIMATORS[name](**params)

    def refit(self, X: Any, y: Any) -> Any:
        """Fit the recommendation on ``(X, y)`` (all your training rows) behind the scaling
        the advisor used; returns the fitted scikit-learn pipeline."""
        image = self.image_shape is not None
        return refit_pipeline(self.estimator(), image).fit(X, y)

    def to_json(self) -> dict[str, Any]:
        """The versioned ``--json`` contract (see docs/json-schemas.md): standard JSON, so
        a score that could not be computed (one run, no interval) is ``None``, never NaN."""
        custom = is_custom(self.config.model)
        estimator, params = (None, None) if custom else self.estimator_spec()
        return json_safe(
            {
                "schema_version": ADVICE_SCHEMA_VERSION,
                "task": self.data["task"],
                "data": self.data,
                "diagnostics": self.diagnostics.to_dict(),
                "reasons": [r.to_dict() for r in self.reasons],
                "recommendation": {
                    "config": self.recommendation,
                    "techniques": self.techniques,
                    "model": self.config.model
                    if custom
                    else ("linear" if self.config.model == "linear" else "mlp"),
                    "sizes": [] if custom else list(self.data["refit_model"]),
                    "estimator": estimator,
                    "params": params,
                    "refit_epochs": self.refit_epochs or self.config.epochs,
                    "train_command": train_command(
                        self.config,
                        [] if custom else list(self.data["refit_model"]),
                        self.data,
                        self.refit_epochs or self.config.epochs,
                        self.cross_validated,
                    ),
                    "code": self.code,
                },
                "ranked": self.ranked,
                "expected_gain": self.gain,
                "baseline": self.baseline,
                "metrics": self.metrics,
                "selected_features": self.selected_features,
                "important_features": self.important_features,
                "evidence": self.evidence,
                "notes": self.notes,
                "seconds": self.seconds,
            }
        )


def _described(config: TrainConfig) -> list[str]:
    parts = []
    if config.model == "linear":
        parts.append("linear_model")
    elif is_custom(config.model):
        parts.append(f"model({config.model})")
    elif config.model:
        hidden = parse_sizes(config.model)[1:-1]
        parts.append(f"mlp(hidden={'-'.join(map(str, hidden))})")
    if config.l1:
        parts.append(f"l1(l1={config.l1:.3g}{', proximal' if config.prox_l1 else ''})")
    if config.l2:
        parts.append(f"l2(l2={config.l2:.3g})")
    if config.elastic_net:
        parts.append(
            f"elastic_net(alpha={config.elastic_net[0]:.3g}, l1_ratio={config.elastic_net[1]:.3g})"
        )
    if config.weight_decay:
        parts.append(f"weight_decay({config.weight_decay:.3g})")
    if config.dropout and any(config.dropout):
        parts.append(f"dropout({'/'.join(f'{r:g}' for r in config.dropout)})")
    if config.input_dropout:
        parts.append(f"input_dropout({config.input_dropout:g})")
    if config.batchnorm:
        parts.append("batchnorm")
    if config.early_stopping:
        parts.append(
            f"early_stopping({config.early_stopping[0]}, patience={config.early_stopping[1]})"
        )
    if config.class_weight:
        parts.append(f"class_weight({config.class_weight})")
    return parts or ["none"]


def _paired_gain(records: Sequence[RunRecord], chosen: str, metric: str) -> dict[str, Any]:
    chosen_runs = {r.seed: r.metrics[metric] for r in records if r.config_name == chosen}
    baseline = {r.seed: r.metrics[metric] for r in records if r.config_name == "none"}
    seeds = sorted(set(chosen_runs) & set(baseline))
    differences = [chosen_runs[s] - baseline[s] for s in seeds]
    mean, ci, _ = mean_ci(differences) if differences else (0.0, 0.0, 0.0)
    return {
        "metric": metric,
        "mean": mean,
        "ci": ci,
        "per_seed": differences,
        "baseline_mean": float(np.mean([baseline[s] for s in seeds])) if seeds else None,
        "recommended_mean": float(np.mean([chosen_runs[s] for s in seeds])) if seeds else None,
    }


def selected_features(
    masses: Sequence[Sequence[float]], names: Sequence[str], gap: float = _SELECTION_GAP
) -> list[str]:
    """Features an L1 model relies on: those before the largest drop in weight mass.

    Each seed's (or fold's) per-input first-layer weight mass is scaled by its maximum and
    averaged; inputs are sorted by it and cut at the largest ratio between neighbours,
    provided that ratio is at least ``gap`` (else every input above the floor is kept).
    Inputs below :data:`_MASS_FLOOR` of the largest mass (what a finite number of shrinking
    steps leaves of a dropped input, and exact zeros) are never selected, and their tiny
    ratios never decide the cut.

    Examples
    --------
    >>> selected_features([[3.0, 0.1, 2.5, 0.0]], ["a", "b", "c", "d"])
    ['a', 'c']
    """
    if not masses:
        return []
    scaled = np.array([np.asarray(m, float) / max(float(np.max(m)), 1e-12) for m in masses])
    mass = scaled.mean(axis=0)
    order = [i for i in np.argsort(-mass) if mass[i] > 0 and mass[i] >= _MASS_FLOOR * mass.max()]
    cut = len(order)
    if len(order) > 1:
        ratios = [mass[order[k]] / mass[order[k + 1]] for k in range(len(order) - 1)]
        k = int(np.argmax(ratios))
        if ratios[k] >= gap:
            cut = k + 1
    keep = set(order[:cut])
    return [name for index, name in enumerate(names) if index in keep]


def advise(
    data: str | Dataset | pd.DataFrame = "digits",
    *,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
    model: str | ModelFactory | None = None,
    interpretable: bool = False,
    important_features: Sequence[str] = (),
    budget: str | float = "5m",
    metric: str | None = None,
    seeds: int = 3,
    seed: int = 0,
    store: Any = None,
    jobs: int = 1,
    max_train: int | None = None,
    verbose: int = 1,
) -> Advice:
    """Diagnose the data, turn the guide's rules into candidates, and test them.

    The diagnostics see the training and validation rows only. The candidates (and an
    unregularized baseline) train side by side; then the strengths of the leaders are
    tuned, all within ``budget``. The answer is the config with the best validation loss,
    or the simplest within one standard error of it; a diverged config never wins. The
    internal test part is only reported. When the evidence contradicts the rules, the notes
    say so.

    Small data (at most :data:`_CV_ROWS` training + validation rows) is cross-validated:
    stratified 5-fold (3 when 5 would leave under :data:`_MIN_CV_EPOCHS` epochs), one seed
    per fold; linear models and a one-hidden-layer network join the candidates when rows
    per feature are few or the network is large for the data; a grid then an Optuna search
    refine the leaders' strengths; new fold splits are added while the best and its ties
    are within noise. Each step stops when the budget is spent or more work cannot change
    the answer, and says so in the notes. Larger data keeps one split with ``seeds`` seeds
    (screened on a subsample, then finalists on every row, epochs from measured times; see
    :func:`~regulab.advise._holdout.holdout_search`); when the comparison ends early with
    the chosen config still improving, the time left retrains it with more epochs (kept
    only if its validation loss is lower). No run starts that would end after the budget.

    A table as users hold it (a CSV/Parquet path or a pandas DataFrame with ``target``;
    text, Yes/No or category columns, empty cells) is accepted raw: its column kinds are
    printed once, ID, constant and mostly empty columns are dropped with a note, and the
    imputation, scaling and one-hot encoding are fitted on the training rows of every fold
    and split only. A column that alone predicts the target on the training rows is kept
    and flagged as a possible leak in the notes and in ``data["columns"]``.

    Parameters
    ----------
    data : str, Dataset or pandas.DataFrame, default="digits"
        A built-in name (``"penguins"`` is a mixed table), a file path, a DataFrame (give
        ``target``) or a :class:`~regulab.data.Dataset`.
    categorical, numeric, drop : sequence of str
        Column kinds of a table that override the inferred ones (see
        :func:`~regulab.data.load`).
    model : str or callable, optional
        Layer sizes (default ``inputs-128-64-outputs``), ``"cnn"``, an import path
        ``"package.module:factory"`` or the factory itself (see :mod:`regulab.custom`).
        For such models the candidates follow their layer types and parameter count.
    interpretable : bool, default=False
        Favour sparse and linear answers and list the kept features.
    important_features : sequence of str
        Features the L1/elastic-net penalty should spare (factor 0.25); on a table, original
        column names (each spares all of its encoded inputs). An unknown name is refused
        with the valid ones listed.
    budget : str or float, default="5m"
        Wall-clock budget for the whole call.
    metric : str, optional
        A scikit-learn scorer name that drives the choice and the reported gain:
        ``log_loss`` (or ``neg_log_loss``), ``roc_auc``, ``balanced_accuracy``,
        ``accuracy``, ``f1_macro`` for classification; ``r2``, ``neg_mean_squared_error``,
        ``neg_mean_absolute_error`` for regression. Default: the validation loss selects,
        and the gain is reported in accuracy (R² for regression), or in ROC AUC when the
        minority class has under 20% of the rows.
    seeds : int, default=3
        Seeds per config on the single split of large data (>= 2 for standard errors).
    jobs : int, default=1
        Worker processes (one torch thread each); runs train side by side and the budget
        counts them so (e.g. ``jobs=2`` on 2 cores for the CNN).

    Returns
    -------
    Advice

    Examples
    --------
    >>> advice = advise("iris", budget="20s", verbose=0)  # doctest: +SKIP
    >>> advice.recommendation  # doctest: +SKIP
    'dropout+early_stopping'
    """
    started = time.perf_counter()
    budget_seconds = parse_budget(budget)
    model = _check_arguments(model, seeds, jobs)
    dataset, bundle = prepare_data(
        data,
        target=target,
        task=task,
        mnist_dir=mnist_dir,
        data_seed=seed,
        max_train=max_train,
        categorical=categorical,
        numeric=numeric,
        drop=drop,
    )
    check_important_features(dataset, important_features)
    selection = selection_metric(metric, dataset.task)
    cross_validate = len(bundle.X_train) + len(bundle.X_val) <= _CV_ROWS
    plan = plan_candidates(
        dataset,
        bundle,
        model,
        interpretable,
        important_features,
        budget_seconds,
        seed,
        cross_validate,
    )
    if bundle.table is not None:
        plan.notes += [leak_note(name, score, dataset) for name, score in bundle.table.leaks]
    deadline = started + budget_seconds
    run = Runner(store, f"advise-{dataset.name}", jobs, verbose, selection)
    if plan.cross_validate:
        experiment = cross_validated_experiment(plan, run, deadline, seed)
    else:
        experiment = holdout_experiment(plan, run, started, deadline, seed, seeds)
    plan.notes += run.notes  # runs skipped at the deadline
    rare = bool(plan.diagnostics.get("class_balance") and _rare(plan))
    headline = headline_metric(selection, dataset.task, rare, named=metric is not None)
    if rare and metric is None:
        plan.notes.append(_RARE_NOTE.format(share=_rare_share(plan)))
    choice = choose(plan, experiment, headline)
    info = _data_info(plan, experiment, choice, budget_seconds, seeds, target, data)
    baseline = baseline_block(
        experiment.records, run.baselines, choice.chosen, selection, headline, dataset.task
    )
    if not baseline["beaten"]:
        plan.notes.append(_majority_note(baseline, selection))
    metrics = {
        "selection": selection.name,
        "selection_key": selection.key,
        "selection_label": selection.label,
        "higher_is_better": selection.higher,
        "headline": headline,
    }
    advice = _advice(
        plan,
        experiment,
        choice,
        info,
        (interpretable, important_features),
        (baseline, metrics),
        started,
    )
    advice.dataset = dataset
    return advice


_RARE_NOTE = (
    "A class is rare ({share:.1%} of the rows): the gain is reported in ROC AUC, not accuracy "
    "(predicting the majority class alone has high accuracy and ROC AUC 0.5); accuracy is "
    "still in the evidence. --metric names another."
)


def _rare(plan: Plan) -> bool:
    return bool(plan.diagnostics["class_balance"].details.get("rare"))


def _rare_share(plan: Plan) -> float:
    return float(plan.diagnostics["class_balance"].details["minority_share"])


def _majority_note(baseline: dict[str, Any], selection: Metric) -> str:
    value = baseline["metrics"].get(selection.key)
    shown = "n/a" if value is None else f"{value:.4f}"
    return (
        f"{MAJORITY_NOTE}: the recommended config does not beat the majority-class baseline "
        f"({selection.label} {shown}) by more than one standard error, so no gain is claimed."
    )


def _with_baseline(row: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """An evidence row with the baseline's value beside each of its metrics."""
    beside = {
        f"baseline_{key}": value
        for key, value in baseline["metrics"].items()
        if f"{key}_mean" in row
    }
    return {**row, **beside}


def _check_arguments(model: str | ModelFactory | None, seeds: int, jobs: int) -> str | None:
    """Check ``seeds`` and ``jobs``; a factory model becomes its import path."""
    if model is not None and not isinstance(model, str):
        model = factory_reference(model)
    if seeds < 2:
        raise InvalidParameterError(
            f"The 'seeds' parameter of advise must be an int in the range [2, inf). Got {seeds} "
            "instead."
        )
    check_range("jobs", jobs, low=1, integer=True, owner="advise")
    return model


def _data_info(
    plan: Plan,
    experiment: Experiment,
    choice: Choice,
    budget_seconds: float,
    seeds: int,
    target: str | None,
    data: str | Dataset | pd.DataFrame,
) -> dict[str, Any]:
    """The ``data`` block of the advice: the data, the split, the model and the search
    (plus ``columns`` for a table: kinds, dropped columns, possible leaks)."""
    dataset, bundle = plan.dataset, plan.bundle
    columns = {}
    if dataset.table is not None and bundle.table is not None:
        columns = {"columns": dataset.table.columns_json(bundle.table.leaks)}
    return {
        "name": dataset.name,
        "task": dataset.task,
        "n_train": plan.n_train,
        "n_val": len(bundle.X_val),
        "n_test": len(bundle.X_test),
        "n_features": dataset.n_features,
        "model": plan.model_description,
        "fingerprint": bundle.fingerprint,
        "budget_seconds": budget_seconds,
        "epochs": experiment.epochs,
        "seeds": seeds,
        "selection": experiment.selection,
        "target": target,
        "refit_model": plan.model_description if plan.custom else choice.refit_sizes,
        "source": data if isinstance(data, str) else None,
        **columns,
    }


def _advice(
    plan: Plan,
    experiment: Experiment,
    choice: Choice,
    info: dict[str, Any],
    features: tuple[bool, Sequence[str]],
    judged: tuple[dict[str, Any], dict[str, Any]],
    started: float,
) -> Advice:
    """Assemble the :class:`Advice`: evidence (with the majority-class ``baseline`` beside
    each score), ranking, gain, kept features and code. ``features`` is ``(interpretable,
    important_features)``, ``judged`` the ``(baseline, metrics)`` blocks."""
    interpretable, important_features = features
    baseline, metrics = judged
    dataset, records, chosen, config = (
        plan.dataset,
        experiment.records,
        choice.chosen,
        choice.config,
    )
    test_metric = choice.test_metric
    masses = [r.weights["input_mass"] for r in records if r.config_name == chosen]
    names = list(dataset.feature_names)
    if dataset.table is not None and all(len(m) == len(names) for m in masses):
        columns = input_columns(dataset)  # a table's original columns: their inputs' mass summed
        masses = [[sum(m[i] for i in inputs) for inputs in columns.values()] for m in masses]
        names = list(columns)
    selected = selected_features(masses, names)
    important = {name: name in selected for name in important_features}
    if not (config.l1 or config.elastic_net) and not interpretable:
        selected = []
    ranked = [
        {
            "config": row["config"],
            "val_loss": _finite(row["val_loss_mean"]),
            experiment.metric.key: _finite(row[f"{experiment.metric.key}_mean"]),
            test_metric: _finite(_mean_of(records, row["config"], test_metric)),
            "preferred": row["preferred"],
            "tied": row["tied"] or row["best"],
        }
        for row in sorted(choice.rows, key=lambda r: (not r["preferred"], r["diverged"]))
    ]
    if plan.custom:
        code = module_code(
            config,
            dataset.task,
            n_features=dataset.n_features,
            n_outputs=plan.bundle.n_outputs,
            image_shape=dataset.image_shape,
        )
    else:
        groups = None if dataset.table is None else dataset.table.groups
        code = code_snippets(config, choice.refit_sizes, dataset.task, groups)
    return Advice(
        data=info,
        diagnostics=plan.diagnostics,
        reasons=plan.reasons,
        candidates=plan.candidates,
        recommendation=chosen,
        config=config,
        evidence=[
            _with_baseline(row, baseline) for row in _evidence(choice.rows, records, test_metric)
        ],
        ranked=ranked,
        gain={**_paired_gain(records, chosen, test_metric), "beats_majority": baseline["beaten"]},
        baseline=baseline,
        metrics=metrics,
        selected_features=selected,
        important_features=important,
        notes=plan.notes,
        code=code,
        records=records,
        seconds=time.perf_counter() - started,
        image_shape=None if plan.custom else dataset.image_shape,
        refit_epochs=_refit_epochs(records, chosen, config, plan.cross_validate),
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _refit_epochs(
    records: Sequence[RunRecord], chosen: str, config: TrainConfig, cross_validated: bool
) -> int:
    """Epochs for a refit on every row: with early stopping under cross-validation, the
    median epoch the folds stopped at (no validation part is left to stop on); else the
    configured epochs."""
    if not (cross_validated and config.early_stopping):
        return config.epochs
    stops = [r.best_epoch or r.epochs_run for r in records if r.config_name == chosen]
    return max(1, int(round(float(np.median(stops)))))


def _mean_of(records: Sequence[RunRecord], config: str, metric: str) -> float:
    return float(np.mean([r.metrics[metric] for r in records if r.config_name == config]))


def _evidence(
    rows: list[dict[str, Any]], records: Sequence[RunRecord], test_metric: str
) -> list[dict[str, Any]]:
    """The evidence rows with the test metric's mean and CI (and accuracy's, when the
    headline metric is another one)."""
    evidence = []
    extra = ["test_accuracy"] if "test_accuracy" in records[0].metrics else []
    for row in rows:
        runs = [r for r in records if r.config_name == row["config"]]
        for key in dict.fromkeys([test_metric, *extra]):
            mean, ci, _ = mean_ci([r.metrics.get(key, float("nan")) for r in runs])
            row = {**row, f"{key}_mean": mean, f"{key}_ci": ci}
        evidence.append(row)
    return evidence
