"""``tune``: search regularization settings with Optuna, pruning hopeless trials early.

A study samples settings with the TPE sampler and trains one model per trial on the same
split. After every epoch the trial reports its validation metric (``val_accuracy`` for
classification, ``val_r2`` for regression); the median pruner stops a trial whose best value
so far is below the median of earlier trials at the same epoch. Pruning is early stopping
across configurations, as early stopping is within one.

Search space (only the techniques asked for are searched):

==================  ==================================  ========================================
technique           parameter(s)                        distribution
==================  ==================================  ========================================
``l1``              ``l1`` (proximal)                   log-uniform [1e-5, 1e-1]
``l2``              ``l2``                              log-uniform [1e-6, 1e-1]
``elastic_net``     ``elastic_net_alpha``,              log-uniform [1e-5, 1e-1],
                    ``elastic_net_l1_ratio``            uniform [0, 1] (proximal)
``weight_decay``    ``weight_decay``                    log-uniform [1e-4, 1]
``dropout``         ``dropout`` (every hidden layer)    uniform [0, 0.7]
``input_dropout``   ``input_dropout``                   uniform [0, 0.5]
``batchnorm``       ``batchnorm``                       categorical {False, True}
``early_stopping``  ``patience`` (on ``val_loss``)      integer [1, 10]
==================  ==================================  ========================================

Each trial trains exactly :func:`~regulab.experiment.apply_techniques` of its config string,
in which strengths are rounded to 3 significant digits, so the best config string reproduces
the best trial in :func:`~regulab.experiment.compare`.

Examples
--------
>>> from regulab.experiment._tune import tune
>>> result = tune("iris", n_trials=2, techniques="l2,dropout", model="4-16-3", epochs=2,
...               verbose=0)
>>> sorted(result.best_params)
['dropout', 'l2']
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Unpack

import optuna

from regulab._version import __version__
from regulab.custom import refuse_custom
from regulab.data import Dataset
from regulab.errors import InvalidParameterError, check_range, did_you_mean
from regulab.experiment._compare import data_info, prepare_experiment
from regulab.experiment._records import RunRecord, run_key
from regulab.experiment._runner import RunSpec, fresh_models, record_from_result, train_stack
from regulab.experiment._setup import RunOptions, run_options, setup_arguments, shared_options
from regulab.experiment._sweep import require_hidden_layer
from regulab.experiment._techniques import apply_techniques
from regulab.stats import main_metric, selection_metric
from regulab.training import Callback, Run

__all__ = ["tune", "TuneResult", "SEARCH_SPACE", "TUNE_SCHEMA_VERSION", "config_string"]

TUNE_SCHEMA_VERSION = 1

#: technique -> {parameter: (kind, low, high)}; kind is "log", "float", "int" or "bool".
SEARCH_SPACE: dict[str, dict[str, tuple[str, float, float]]] = {
    "l1": {"l1": ("log", 1e-5, 1e-1)},
    "l2": {"l2": ("log", 1e-6, 1e-1)},
    "elastic_net": {
        "elastic_net_alpha": ("log", 1e-5, 1e-1),
        "elastic_net_l1_ratio": ("float", 0.0, 1.0),
    },
    "weight_decay": {"weight_decay": ("log", 1e-4, 1.0)},
    "dropout": {"dropout": ("float", 0.0, 0.7)},
    "input_dropout": {"input_dropout": ("float", 0.0, 0.5)},
    "batchnorm": {"batchnorm": ("bool", 0, 1)},
    "early_stopping": {"patience": ("int", 1, 10)},
}
DEFAULT_TUNE_TECHNIQUES = ("l1", "l2", "dropout", "early_stopping")


def _strength(value: float) -> str:
    return f"{value:.2e}"


def _rate(value: float) -> str:
    return f"{value:.3g}"


def config_string(params: dict[str, Any], techniques: Sequence[str]) -> str:
    """The ``compare`` config string for trial parameters (``"none"`` when nothing is on).

    Strengths keep 3 significant digits; the string round-trips through
    :func:`~regulab.experiment.apply_techniques`.

    Examples
    --------
    >>> config_string({"l2": 3.17e-4, "dropout": 0.3125, "patience": 4},
    ...               ["l2", "dropout", "early_stopping"])
    'l2=3.17e-04+dropout=0.312+early_stopping=val_loss:4'
    """
    parts = []
    for technique in techniques:
        if technique in ("l1", "l2", "weight_decay"):
            parts.append(f"{technique}={_strength(params[technique])}")
        elif technique == "elastic_net":
            alpha, ratio = params["elastic_net_alpha"], params["elastic_net_l1_ratio"]
            parts.append(f"elastic_net={_strength(alpha)}:{_rate(ratio)}")
        elif technique in ("dropout", "input_dropout"):
            parts.append(f"{technique}={_rate(params[technique])}")
        elif technique == "batchnorm":
            if params["batchnorm"]:
                parts.append("batchnorm")
        else:
            parts.append(f"early_stopping=val_loss:{int(params['patience'])}")
    return "+".join(parts) or "none"


def _suggest(trial: optuna.Trial, techniques: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for technique in techniques:
        for name, (kind, low, high) in SEARCH_SPACE[technique].items():
            if kind == "log":
                params[name] = trial.suggest_float(name, low, high, log=True)
            elif kind == "float":
                params[name] = trial.suggest_float(name, low, high)
            elif kind == "int":
                params[name] = trial.suggest_int(name, int(low), int(high))
            else:
                params[name] = trial.suggest_categorical(name, [False, True])
    return params


class _PruningCallback(Callback):
    """Report the validation metric each epoch; stop the run when Optuna says prune."""

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, run: Run, **kwargs: Any) -> None:
        record = run.history[-1]
        value = record.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        epoch = int(record["epoch"])
        self.trial.report(float(value), epoch)
        if self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = epoch
            run.stop_training = True


def _parse_techniques(techniques: str | Sequence[str]) -> list[str]:
    items = techniques.split(",") if isinstance(techniques, str) else list(techniques)
    names = [item.strip().lower().replace("-", "_") for item in items if item.strip()]
    if not names:
        raise InvalidParameterError(
            f"The 'techniques' parameter of tune needs at least one of {', '.join(SEARCH_SPACE)}."
        )
    for name in names:
        if name not in SEARCH_SPACE:
            raise InvalidParameterError(
                f"The 'techniques' parameter of tune takes techniques from "
                f"{', '.join(SEARCH_SPACE)}. Got {name!r} instead."
                + did_you_mean(name, SEARCH_SPACE)
            )
    if len(set(names)) != len(names):
        raise InvalidParameterError("The 'techniques' parameter of tune lists a technique twice.")
    return names


@dataclass
class TuneResult:
    """The outcome of :func:`tune`.

    Attributes
    ----------
    best_params : dict
        Optuna's parameters of the best trial (unrounded).
    best_value : float
        Its validation metric (higher is better).
    best_config : str
        The config string trained by the best trial; pass it to
        :func:`~regulab.experiment.compare` or :func:`~regulab.experiment.apply_techniques`.
    best_trial : int
        Trial number of the best trial.
    best_test_value : float
        The best trial's test metric (reported, never used to choose).
    metric, test_metric : str
        ``val_accuracy``/``test_accuracy`` or ``val_r2``/``test_r2``.
    techniques : list of str
    trials : list of dict
        ``number``, ``params``, ``value``, ``state`` (COMPLETE, PRUNED, FAIL), ``config``,
        ``epochs_run`` and ``test_value`` per trial.
    records : list of RunRecord
        One per finished (complete or pruned) trial, group ``tune``.
    data : dict
    experiment : str
        Store experiment name.
    resumed : int
        Trials replayed from the store instead of trained.
    """

    best_params: dict[str, Any]
    best_value: float
    best_config: str
    best_trial: int
    best_test_value: float
    metric: str
    test_metric: str
    techniques: list[str]
    trials: list[dict[str, Any]]
    records: list[RunRecord] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict)
    experiment: str = ""
    resumed: int = 0

    @property
    def n_pruned(self) -> int:
        """Trials stopped by the pruner."""
        return sum(1 for t in self.trials if t["state"] == "PRUNED")

    @property
    def n_complete(self) -> int:
        """Trials that ran to the end (or to early stopping)."""
        return sum(1 for t in self.trials if t["state"] == "COMPLETE")

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary: ``schema_version``, ``metric``, ``test_metric``,
        ``techniques``, ``search_space``, ``best_params``, ``best_value``, ``best_config``,
        ``best_trial``, ``best_test_value``, ``n_complete``, ``n_pruned``, ``trials``,
        ``data``, ``experiment`` and ``resumed``."""
        return {
            "schema_version": TUNE_SCHEMA_VERSION,
            "metric": self.metric,
            "test_metric": self.test_metric,
            "higher_is_better": True,
            "techniques": self.techniques,
            "search_space": {
                t: {name: list(spec) for name, spec in SEARCH_SPACE[t].items()}
                for t in self.techniques
            },
            "best_params": self.best_params,
            "best_value": self.best_value,
            "best_config": self.best_config,
            "best_trial": self.best_trial,
            "best_test_value": self.best_test_value,
            "n_complete": self.n_complete,
            "n_pruned": self.n_pruned,
            "trials": self.trials,
            "data": self.data,
            "experiment": self.experiment,
            "resumed": self.resumed,
        }


@shared_options(RunOptions)
def tune(
    data: str | Dataset,
    *,
    n_trials: int | None = 20,
    timeout: float | None = None,
    techniques: str | Sequence[str] = DEFAULT_TUNE_TECHNIQUES,
    model: str | None = None,
    epochs: int = 20,
    optimizer: str = "adam",
    seed: int = 0,
    n_startup_trials: int = 5,
    n_warmup_steps: int | None = None,
    pruning: bool = True,
    **options: Unpack[RunOptions],
) -> TuneResult:
    """Search regularization settings with Optuna (TPE sampler, median pruner).

    Parameters
    ----------
    data : str or Dataset
    n_trials : int or None, default=20
        Trials to run (>= 1); None for no limit (then ``timeout`` is required).
    timeout : float, optional
        Seconds after which no new trial starts (> 0).
    techniques : str or sequence of str
        Which techniques to search (see the module's table), e.g. ``"l2,dropout"``.
    model : str, optional
        Layer sizes; default ``inputs-128-64-outputs``.
    epochs : int, default=20
        Maximum epochs per trial.
    batch_size, lr, optimizer
        Shared training settings.
    seed : int, default=0
        Seeds the sampler and every trial's initialization, shuffling and dropout: the same
        seed gives the same trials and the same best parameters (sequential study, trial
        budget).
    n_startup_trials : int, default=5
        Trials that are never pruned (the median needs references), >= 0.
    n_warmup_steps : int, optional
        The median pruner's warm-up: epochs are reported as steps 1, 2, ... and a trial can
        be pruned from epoch ``n_warmup_steps`` on (>= 0); default ``epochs // 4``.
    pruning : bool, default=True
        False runs every trial to its end (or to early stopping).
    store : ResultsStore, optional
        Each finished trial (complete or pruned) is saved as a run of group ``tune`` with
        ``extra`` holding ``trial``, ``params`` and ``state``. A rerun with the same settings
        resumes the study: the sampler proposes the same trials again (same seed, same
        history) and a trial already in the store is replayed from it (its value, its
        per-epoch validation metric for the pruner, its state) instead of trained, so an
        interrupted study ends exactly as an uninterrupted one would. ``n_trials`` counts
        replayed trials too: a larger ``n_trials`` extends a finished study.
    verbose : int, default=1
        0 silences Optuna's log.
    target, task, mnist_dir, max_train, data_seed, device
        How the data is loaded and where training runs.

    Returns
    -------
    TuneResult

    Raises
    ------
    InvalidParameterError
        A budget of 0 or less, no budget at all, an unknown technique, or no trial finished.

    Examples
    --------
    >>> result = tune("iris", n_trials=3, techniques="l2", model="4-16-3", epochs=3,
    ...               verbose=0)
    >>> result.best_config.startswith("l2=")
    True
    """
    owner = "tune"
    settings = run_options(owner, RunOptions, options)
    store, verbose = settings["store"], settings["verbose"]
    if n_trials is None and timeout is None:
        raise InvalidParameterError(
            "tune needs a budget: n_trials (an int >= 1) or timeout (seconds > 0)."
        )
    if n_trials is not None:
        check_range("n_trials", n_trials, low=1, integer=True, owner=owner)
    if timeout is not None:
        check_range("timeout", timeout, low=0.0, low_open=True, owner=owner)
    check_range("epochs", epochs, low=1, integer=True, owner=owner)
    check_range("seed", seed, low=0, integer=True, owner=owner)
    check_range("n_startup_trials", n_startup_trials, low=0, integer=True, owner=owner)
    warmup = epochs // 4 if n_warmup_steps is None else n_warmup_steps
    check_range("n_warmup_steps", warmup, low=0, integer=True, owner=owner)
    names = _parse_techniques(techniques)
    refuse_custom(model, owner)
    dataset, bundle, base = prepare_experiment(data, **setup_arguments({**locals(), **settings}))
    largest = {n: spec[2] for t in names for n, spec in SEARCH_SPACE[t].items()}
    largest.update({"batchnorm": True, "patience": 1})
    # fail fast on a model that cannot take the searched techniques (e.g. dropout, no hidden)
    apply_techniques(base, config_string(largest, names)).build_model(
        bundle.X_train.shape[1], bundle.n_outputs, bundle.task
    )
    if "dropout" in names:
        require_hidden_layer(base, bundle, owner)
    val_name, _ = selection_metric(bundle.task)
    test_name, _ = main_metric(bundle.task)
    payload = [bundle.fingerprint, names, base.to_dict(), n_startup_trials, warmup]
    if not pruning:  # appended only when off, so stored studies keep their names
        payload.append("no-pruning")
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    experiment = f"tune-{digest}"
    records: dict[int, RunRecord] = {}
    stored = (
        {r.run_key: r for r in store.records(experiment, group="tune")} if store is not None else {}
    )
    replayed: list[int] = []

    def replay(trial: optuna.Trial, record: RunRecord) -> float:
        """Give Optuna what the stored trial reported when it was trained."""
        for epoch in record.history:
            value = epoch.get(val_name)
            if value is not None and math.isfinite(value):
                trial.report(float(value), int(epoch["epoch"]))
        records[trial.number] = record
        replayed.append(trial.number)
        trial.set_user_attr("config", record.config_name)
        trial.set_user_attr("epochs_run", record.epochs_run)
        trial.set_user_attr("test_value", float(record.metrics.get(test_name, math.nan)))
        if record.extra.get("state") == "PRUNED":
            raise optuna.TrialPruned("pruned (replayed from the store)")
        return float(record.metrics.get(val_name, math.nan))

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, names)
        name = config_string(params, names)
        config = apply_techniques(base, name)
        key = run_key(
            name,
            {**config.to_dict(), "group": "tune", "trial": trial.number, "study": experiment},
            seed,
            bundle.fingerprint,
        )
        if key in stored:
            return replay(trial, stored[key])
        spec = RunSpec(name, config, seed, "tune", {"trial": trial.number, "params": params})
        pruning = _PruningCallback(trial, val_name)
        result = train_stack([spec], fresh_models([spec], bundle), bundle, callbacks=[pruning])[0]
        state = "COMPLETE" if pruning.pruned_at is None else "PRUNED"
        spec = replace(spec, extra={**spec.extra, "state": state})
        record = record_from_result(spec, result, bundle, __version__, key=key)
        if pruning.pruned_at is not None:
            record.stop_reason = "pruned"
            record.stop_message = f"pruned by Optuna's median pruner at epoch {pruning.pruned_at}"
        records[trial.number] = record
        if store is not None:
            store.add(record, experiment)
        value = float(result.final_record.get(val_name, math.nan))
        trial.set_user_attr("config", name)
        trial.set_user_attr("epochs_run", result.epochs_run)
        trial.set_user_attr("test_value", float(record.metrics.get(test_name, math.nan)))
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at epoch {pruning.pruned_at}")
        return value

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=n_startup_trials, n_warmup_steps=warmup
            )
            if pruning
            else optuna.pruners.NopPruner(),
            study_name=experiment,
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout)
    finally:
        optuna.logging.set_verbosity(previous)
    trials = [
        {
            "number": t.number,
            "params": dict(t.params),
            "value": t.value,
            "state": t.state.name,
            "config": t.user_attrs.get("config"),
            "epochs_run": t.user_attrs.get("epochs_run"),
            "test_value": t.user_attrs.get("test_value"),
        }
        for t in study.trials
    ]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise InvalidParameterError(
            f"No trial of tune completed ({len(study.trials)} started within the budget); "
            "raise n_trials or timeout."
        )
    best = study.best_trial
    return TuneResult(
        best_params=dict(best.params),
        best_value=float(best.value if best.value is not None else math.nan),
        best_config=str(best.user_attrs["config"]),
        best_trial=best.number,
        best_test_value=float(best.user_attrs.get("test_value", math.nan)),
        metric=val_name,
        test_metric=test_name,
        techniques=names,
        trials=trials,
        records=[records[n] for n in sorted(records)],
        data=data_info(dataset, bundle, base),
        experiment=experiment,
        resumed=len(replayed),
    )
