"""``advise``: diagnose, apply the rules, then let a fair experiment decide."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from regulab import __version__
from regulab.advise._code import code_snippets
from regulab.advise._modules import module_candidates, module_code
from regulab.advise._rules import Reason, candidate_configs, reasons_from
from regulab.config import TrainConfig
from regulab.custom import ModelFactory, factory_reference, is_custom
from regulab.data import Dataset
from regulab.diagnose import DataDiagnostics, diagnose_data
from regulab.errors import InvalidParameterError, did_you_mean
from regulab.experiment import (
    RunRecord,
    RunSpec,
    apply_techniques,
    make_tasks,
    mean_ci,
    prepare_data,
    run_specs,
    run_task,
    summarize,
)
from regulab.experiment._runner import DataBundle

__all__ = ["Advice", "advise", "parse_budget", "ADVICE_SCHEMA_VERSION"]

ADVICE_SCHEMA_VERSION = 1
_SELECTION_METRIC = "val_loss"
_COMPARE_SHARE = 0.55  # of the time left, when strength tuning follows
_FINAL_SHARE = 0.85  # of the time left, for the last phase (nothing follows it)
_MAX_EPOCHS = 40  # for large data; small data may use up to _MAX_EPOCHS_SMALL
_MAX_EPOCHS_SMALL = 150
_SMALL_DATA_ROWS = 5000
_TUNED_LEADERS = 2
_SCREEN_ROWS = 20_000  # larger training sets are screened on a subsample first
_SCREEN_SHARE = 0.45
_FINALISTS = 2
_LARGE_DATA_BATCH = 128
_SELECTION_GAP = 2.0


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
        Expected test-metric gain over the unregularized baseline (mean, ci, per-seed).
    selected_features : list of str
        With an L1 or elastic-net answer (or ``interpretable``): the input features the
        recommended model relies on (see :func:`selected_features`).
    notes : list of str
        Ties, overruled rules, sampling, budget.
    code : dict
        ``regulab``, ``pytorch`` and ``keras`` snippets.
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
    selected_features: list[str]
    important_features: dict[str, bool]
    notes: list[str]
    code: dict[str, str]
    records: list[RunRecord] = field(repr=False, default_factory=list)
    seconds: float = 0.0
    image_shape: tuple[int, int] | None = None

    @property
    def techniques(self) -> list[str]:
        """The recommendation's techniques with their strengths."""
        return _described(self.config)

    def to_json(self) -> dict[str, Any]:
        """The versioned ``--json`` contract (see docs/json-schemas.md)."""
        return {
            "schema_version": ADVICE_SCHEMA_VERSION,
            "task": self.data["task"],
            "data": self.data,
            "diagnostics": self.diagnostics.to_dict(),
            "reasons": [r.to_dict() for r in self.reasons],
            "recommendation": {
                "config": self.recommendation,
                "techniques": self.techniques,
                "params": _params(self.config),
                "code": self.code,
            },
            "ranked": self.ranked,
            "expected_gain": self.gain,
            "selected_features": self.selected_features,
            "important_features": self.important_features,
            "evidence": self.evidence,
            "notes": self.notes,
            "seconds": self.seconds,
        }


def _params(config: TrainConfig) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("l1", "l2", "weight_decay", "input_dropout"):
        if getattr(config, key):
            params[key] = getattr(config, key)
    if config.elastic_net:
        params["elastic_net"] = {"alpha": config.elastic_net[0], "l1_ratio": config.elastic_net[1]}
    if config.dropout:
        params["dropout"] = list(config.dropout)
    if config.batchnorm:
        params["batchnorm"] = True
    if config.early_stopping:
        params["early_stopping"] = {
            "monitor": config.early_stopping[0],
            "patience": config.early_stopping[1],
        }
    if config.prox_l1:
        params["proximal_l1"] = True
    if config.model == "linear":
        params["model"] = "linear"
    params["epochs"] = config.epochs
    return params


def _described(config: TrainConfig) -> list[str]:
    parts = []
    if config.model == "linear":
        parts.append("linear_model")
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
    return parts or ["none"]


def _strength_variants(name: str) -> list[str]:
    """Neighbouring strengths of the tunable techniques in ``name`` (one at a time)."""
    parts = name.split("+")
    variants = []
    for index, part in enumerate(parts):
        technique = part.split("=")[0]
        options: list[str] = []
        if technique in ("l1", "l2"):
            options = [f"{technique}={s:g}" for s in (1e-4, 3e-4, 3e-3, 1e-2)]
        elif technique == "weight_decay":
            options = [f"weight_decay={s:g}" for s in (1e-3, 3e-3, 3e-2, 1e-1)]
        elif technique == "elastic_net":
            options = [f"elastic_net={a:g}:{r:g}" for a in (3e-4, 3e-3, 1e-2) for r in (0.2, 0.8)]
        elif technique == "dropout":
            options = [f"dropout={r:g}" for r in (0.2, 0.3)]
        for option in options:
            variants.append("+".join(parts[:index] + [option] + parts[index + 1 :]))
    return variants


def _estimate_epoch_seconds(bundle: DataBundle, specs: Sequence[RunSpec]) -> float:
    """Seconds for one epoch of all ``specs`` (stacked as the real run will be).

    Trains one epoch of the real stacks on a slice of the training rows and reads the
    epoch time each stack recorded (set-up and scoring excluded), scaled by the row count.
    """
    order = np.random.default_rng(0).permutation(len(bundle.X_train))
    rows = order[: min(len(order), 1000)]
    probe = replace(
        bundle,
        X_train=bundle.X_train[rows],
        y_train=bundle.y_train[rows],
        X_val=bundle.X_val[:200],
        y_val=bundle.y_val[:200],
        X_test=bundle.X_test[:10],
        y_test=bundle.y_test[:10],
    )
    one_epoch = [replace(spec, config=replace(spec.config, epochs=1)) for spec in specs]
    run_task(one_epoch[:1], probe, __version__)  # warm-up: first calls pay one-off costs
    seconds = sum(
        run_task(task, probe, __version__)[0].history[0]["seconds"]
        for task in make_tasks(one_epoch)
    )
    return seconds * len(bundle.X_train) / len(rows)


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

    Each seed's per-input first-layer weight mass is scaled by its maximum and averaged
    over seeds; inputs are sorted by it and cut at the largest ratio between neighbours,
    provided that ratio is at least ``gap`` (else every input with non-zero mass is kept).
    Exact zeros are never selected.

    Examples
    --------
    >>> selected_features([[3.0, 0.1, 2.5, 0.0]], ["a", "b", "c", "d"])
    ['a', 'c']
    """
    if not masses:
        return []
    scaled = np.array([np.asarray(m, float) / max(float(np.max(m)), 1e-12) for m in masses])
    mass = scaled.mean(axis=0)
    order = [i for i in np.argsort(-mass) if mass[i] > 0]
    cut = len(order)
    if len(order) > 1:
        ratios = [mass[order[k]] / mass[order[k + 1]] for k in range(len(order) - 1)]
        k = int(np.argmax(ratios))
        if ratios[k] >= gap:
            cut = k + 1
    keep = set(order[:cut])
    return [name for index, name in enumerate(names) if index in keep]


@dataclass
class _Runner:
    """How the advisor's runs are executed and stored."""

    store: Any
    experiment: str
    jobs: int
    verbose: int
    seed: int
    seeds: int

    def __call__(
        self, bundle: DataBundle, configs: dict[str, TrainConfig], names: Sequence[str]
    ) -> list[RunRecord]:
        specs = [
            RunSpec(name, configs[name], s)
            for name in names
            for s in range(self.seed, self.seed + self.seeds)
        ]
        records, _ = run_specs(
            specs,
            bundle,
            store=self.store,
            experiment=self.experiment,
            jobs=self.jobs,
            verbose=self.verbose,
        )
        return records


def _search(
    bundle: DataBundle,
    candidates: Sequence[str],
    base: TrainConfig,
    run: _Runner,
    deadline: float,
    notes: list[str],
    *,
    configs: dict[str, TrainConfig] | None = None,
    tune: bool = True,
) -> tuple[list[RunRecord], dict[str, TrainConfig], int]:
    """Train the candidates side by side, then (``tune``) the strengths of the two leaders.

    Epochs are set so that the candidates take about :data:`_COMPARE_SHARE` of the time left
    before ``deadline`` (:data:`_FINAL_SHARE` without tuning, as nothing follows then); the
    configs actually trained are returned with their records.
    """
    known = dict(configs or {})

    def configured(name: str, epochs: int, patience: int) -> TrainConfig:
        source = known.get(name) or apply_techniques(base, name)
        return _with_patience(replace(source, epochs=epochs), patience)

    probe = {name: configured(name, 1, 5) for name in candidates}
    specs = [
        RunSpec(name, probe[name], s)
        for name in candidates
        for s in range(run.seed, run.seed + run.seeds)
    ]
    epoch_seconds = _estimate_epoch_seconds(bundle, specs)
    remaining = deadline - time.perf_counter()
    cap = _MAX_EPOCHS_SMALL if len(bundle.X_train) <= _SMALL_DATA_ROWS else _MAX_EPOCHS
    share = _COMPARE_SHARE if tune else _FINAL_SHARE
    epochs = int(min(cap, max(2, share * remaining / max(epoch_seconds, 1e-3))))
    if epochs * epoch_seconds > remaining:
        notes.append(
            f"The budget is tight: {epochs} epochs take about "
            f"{epochs * epoch_seconds:.0f} s, more than the {remaining:.0f} s left."
        )
    # A third of the epochs (3 to 10): enough to ride out noisy epochs, and a stopped run
    # still saves most of its time. On MNIST, patience 10 instead of 5 gave +0.12 pt.
    patience = max(3, min(10, epochs // 3))
    trained = {name: configured(name, epochs, patience) for name in candidates}
    records = run(bundle, trained, candidates)
    if not tune:
        return records, trained, epochs
    rows, _ = summarize(records, _SELECTION_METRIC, higher_is_better=False)
    leaders = [row["config"] for row in rows if row["config"] != "none"][:_TUNED_LEADERS]
    for leader in leaders:
        variants = [v for v in _strength_variants(leader) if v not in trained]
        if not variants:
            continue
        remaining = deadline - time.perf_counter()
        cost = epoch_seconds * epochs * len(variants) / len(candidates)
        if cost > 0.9 * remaining:
            notes.append(
                f"No time left to tune the strengths of {leader} "
                f"(needs about {cost:.0f} s, {max(remaining, 0):.0f} s left)."
            )
            break
        trained.update({name: configured(name, epochs, patience) for name in variants})
        records += run(bundle, trained, variants)
        notes.append(f"Tuned the strengths of {leader}: {', '.join(variants)}.")
    return records, trained, epochs


def _subsample(bundle: DataBundle, rows: int, seed: int) -> DataBundle:
    """A bundle whose training part is a random subset of ``rows`` rows."""
    keep = np.sort(np.random.default_rng(seed).permutation(len(bundle.X_train))[:rows])
    return replace(
        bundle,
        X_train=bundle.X_train[keep],
        y_train=bundle.y_train[keep],
        fingerprint=f"{bundle.fingerprint}:rows{rows}",
    )


def _finalists(records: Sequence[RunRecord]) -> list[str]:
    """The baseline plus the best configs by validation loss (best and preferred)."""
    rows, _ = summarize(records, _SELECTION_METRIC, higher_is_better=False, tie_rule="se")
    ordered = [row["config"] for row in rows if row["config"] != "none"]
    preferred = next(row["config"] for row in rows if row["preferred"])
    chosen = list(dict.fromkeys([preferred, *ordered]))[:_FINALISTS]
    return ["none", *[c for c in chosen if c != "none"]]


def advise(
    data: str | Dataset = "digits",
    *,
    target: str | None = None,
    task: str | None = None,
    mnist_dir: str | None = None,
    model: str | ModelFactory | None = None,
    interpretable: bool = False,
    important_features: Sequence[str] = (),
    budget: str | float = "5m",
    seeds: int = 3,
    seed: int = 0,
    store: Any = None,
    jobs: int = 1,
    max_train: int | None = None,
    verbose: int = 1,
) -> Advice:
    """Diagnose the data, turn the guide's rules into candidates, and test them.

    The candidates (and an unregularized baseline) train side by side with the same seeds;
    then the strengths of the best candidate are tuned, all within ``budget``. The answer
    is the config with the best validation loss; configs within one standard error of it
    go to the simpler/sparser one. When the evidence contradicts the rules, the notes say
    so.

    Parameters
    ----------
    data : str or Dataset, default="digits"
    model : str or callable, optional
        Layer sizes (default ``inputs-128-64-outputs``), ``"cnn"``, an import path
        ``"package.module:factory"`` or the factory itself (see :mod:`regulab.custom`).
        For such models the candidates follow their layer types and parameter count.
    interpretable : bool, default=False
        Favour sparse and linear answers and list the kept features.
    important_features : sequence of str
        Features the L1/elastic-net penalty should spare (factor 0.25).
    budget : str or float, default="5m"
        Wall-clock budget for the whole call.
    seeds : int, default=3
        Seeds per config (>= 2 for standard errors).

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
    if model is not None and not isinstance(model, str):
        model = factory_reference(model)
    if seeds < 2:
        raise InvalidParameterError(
            f"The 'seeds' parameter of advise must be an int in the range [2, inf). Got {seeds} "
            "instead."
        )
    dataset, bundle = prepare_data(
        data, target=target, task=task, mnist_dir=mnist_dir, data_seed=seed, max_train=max_train
    )
    unknown = [f for f in important_features if f not in dataset.feature_names]
    if unknown:
        raise InvalidParameterError(
            f"Important feature '{unknown[0]}' is not a feature of {dataset.name} "
            f"({dataset.n_features} features, e.g. {', '.join(dataset.feature_names[:5])})."
            + did_you_mean(unknown[0], dataset.feature_names)
        )
    custom = is_custom(model)
    diagnostics = diagnose_data(dataset, model=None if custom else model, seed=seed)
    n_train = len(bundle.X_train)
    reasons = reasons_from(
        diagnostics,
        n_train=n_train,
        interpretable=interpretable,
        important_features=important_features,
        budget_seconds=budget_seconds,
    )
    base = TrainConfig(data=dataset.name, model=model, verbose=0, seed=seed)
    notes: list[str] = []
    if custom:  # a CNN or the user's own module: rules from its layers and size
        found = module_candidates(
            base,
            reasons,
            n_features=dataset.n_features,
            n_outputs=bundle.n_outputs,
            task=dataset.task,
            image_shape=dataset.image_shape,
            n_train=n_train,
        )
        reasons, candidates, scores = found.reasons, found.candidates, found.scores
        notes += found.notes
        sizes: list[int] = []
    else:
        sizes = list(
            base.build_model(dataset.n_features, bundle.n_outputs, dataset.task).architecture.sizes
        )
        candidates, scores = candidate_configs(reasons, has_hidden=len(sizes) > 2)
    if important_features:
        factors = [0.25 if name in important_features else 1.0 for name in dataset.feature_names]
        base = replace(base, feature_factors=factors)
    if diagnostics["irrelevant_features"].sampled:
        notes.append("Diagnostics used a sample of the rows (said per finding).")

    deadline = started + budget_seconds
    run = _Runner(store, f"advise-{dataset.name}", jobs, verbose, seed, seeds)
    screening = n_train > _SCREEN_ROWS
    if screening:
        base = replace(base, batch_size=_LARGE_DATA_BATCH)
        screen = _subsample(bundle, _SCREEN_ROWS, seed)
        screen_end = started + _SCREEN_SHARE * budget_seconds
        screened, configs, _ = _search(screen, candidates, base, run, screen_end, notes)
        finalists = _finalists(screened)
        notes.append(
            f"Screened {len({r.config_name for r in screened})} configs on {_SCREEN_ROWS} of the "
            f"{n_train} training rows; the finalists {', '.join(finalists)} then trained on "
            "all rows (the evidence below)."
        )
        records, configs, epochs = _search(
            bundle, finalists, base, run, deadline, notes, configs=configs, tune=False
        )
    else:
        records, configs, epochs = _search(bundle, candidates, base, run, deadline, notes)

    rows, tie_notes = summarize(records, _SELECTION_METRIC, higher_is_better=False, tie_rule="se")
    tie_notes += _spare_avoided(rows, reasons)
    test_metric = "test_accuracy" if dataset.task == "classification" else "test_r2"
    evidence = _evidence(rows, records, test_metric)
    chosen = next(row["config"] for row in rows if row["preferred"])
    best = next(row["config"] for row in rows if row["best"])
    notes += tie_notes
    if chosen != best:
        notes.append(
            f"{best} had the best validation loss, but {chosen} is within one "
            "standard error and simpler or sparser, so it is recommended."
        )
    notes += _overruled(reasons, scores, rows, chosen)
    config = replace(configs[chosen], verbose=1)
    masses = [r.weights["input_mass"] for r in records if r.config_name == chosen]
    selected = selected_features(masses, dataset.feature_names)
    important = {name: name in selected for name in important_features}
    uses_l1 = bool(config.l1 or config.elastic_net)
    if not uses_l1 and not interpretable:
        selected = []
    ranked = [
        {
            "config": row["config"],
            "val_loss": row[f"{_SELECTION_METRIC}_mean"],
            test_metric: _mean_of(records, row["config"], test_metric),
            "preferred": row["preferred"],
            "tied": row["tied"] or row["best"],
        }
        for row in sorted(rows, key=lambda r: (not r["preferred"], r[f"{_SELECTION_METRIC}_mean"]))
    ]
    gain = _paired_gain(records, chosen, test_metric)
    info = {
        "name": dataset.name,
        "task": dataset.task,
        "n_train": n_train,
        "n_val": len(bundle.X_val),
        "n_test": len(bundle.X_test),
        "n_features": dataset.n_features,
        "model": found.description if custom else "-".join(map(str, sizes)),
        "fingerprint": bundle.fingerprint,
        "budget_seconds": budget_seconds,
        "epochs": epochs,
        "seeds": seeds,
    }
    return Advice(
        data=info,
        diagnostics=diagnostics,
        reasons=reasons,
        candidates=candidates,
        recommendation=chosen,
        config=config,
        evidence=evidence,
        ranked=ranked,
        gain=gain,
        selected_features=selected,
        important_features=important,
        notes=notes,
        code=module_code(
            config,
            dataset.task,
            n_features=dataset.n_features,
            n_outputs=bundle.n_outputs,
            image_shape=dataset.image_shape,
        )
        if custom
        else code_snippets(config, sizes, dataset.task),
        records=records,
        seconds=time.perf_counter() - started,
        image_shape=None if custom else dataset.image_shape,
    )


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


def _with_patience(config: TrainConfig, patience: int) -> TrainConfig:
    if config.early_stopping is None:
        return config
    return replace(config, early_stopping=(config.early_stopping[0], patience))


def _mean_of(records: Sequence[RunRecord], config: str, metric: str) -> float:
    return float(np.mean([r.metrics[metric] for r in records if r.config_name == config]))


def _evidence(
    rows: list[dict[str, Any]], records: Sequence[RunRecord], test_metric: str
) -> list[dict[str, Any]]:
    evidence = []
    for row in rows:
        mean, ci, _ = mean_ci(
            [r.metrics[test_metric] for r in records if r.config_name == row["config"]]
        )
        evidence.append({**row, f"{test_metric}_mean": mean, f"{test_metric}_ci": ci})
    return evidence


def _overruled(
    reasons: Sequence[Reason], scores: dict[str, float], rows: list[dict[str, Any]], chosen: str
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
    best_tested = min(tested, key=lambda c: by_config[c][f"{_SELECTION_METRIC}_mean"])
    return [
        f"The rules favoured {favourite} (score {scores[favourite]:.2f}), but the evidence "
        f"overrules them: {chosen} reached validation loss "
        f"{by_config[chosen][f'{_SELECTION_METRIC}_mean']:.4f} against "
        f"{by_config[best_tested][f'{_SELECTION_METRIC}_mean']:.4f} for {best_tested}."
    ]
