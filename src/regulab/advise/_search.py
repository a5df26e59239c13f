"""How the advisor searches: folds, candidates trained side by side, strength tuning, and
repeated folds while the leaders are within noise."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from regulab._version import __version__
from regulab.advise._baseline import majority_metrics
from regulab.advise._metric import LOG_LOSS, Metric
from regulab.advise._select import one_se_choice
from regulab.advise._strengths import search_space, strength_search
from regulab.config import TrainConfig
from regulab.custom import is_custom
from regulab.diagnose import count_parameters
from regulab.experiment import (
    RunRecord,
    RunSpec,
    apply_techniques,
    make_tasks,
    mean_ci,
    run_specs,
    run_task,
)
from regulab.experiment._runner import DataBundle, fresh_models, solved_exactly

__all__ = [
    "Fold",
    "Runner",
    "build_config",
    "cv_folds",
    "search",
    "fine_search",
    "repeat_folds",
    "pick_finalists",
    "simplicity_key",
    "subsample",
    "technique_total",
    "with_patience",
    "patience_for",
]
CV_FOLDS = 5
CV_FEW_FOLDS = 3  # when 5 folds would leave fewer than _MIN_CV_EPOCHS epochs
# Fewer epochs leave the 128-64 network undertrained at lr 1e-3 and batch 32 (under ~500
# Adam steps on a few hundred rows), which biases the comparison towards small models more
# than the extra noise of 3 folds does.
_MIN_CV_EPOCHS = 30
_CV_MAX_REPEATS = 4  # repeated k-fold: at most 20 folds per contender
_LINEAR_LR = 1e-2  # linear candidates: convex, few weights, a larger step converges in budget
_COMPARE_SHARE = 0.55  # of the time left, when strength tuning follows
_FINAL_SHARE = 0.85  # of the time left, for the last phase (nothing follows it)
_MAX_EPOCHS = 40  # for large data; small data may use up to _MAX_EPOCHS_SMALL
_MAX_EPOCHS_SMALL = 150
_SMALL_DATA_ROWS = 5000
_TUNED_LEADERS = 2
_FINALISTS = 2


_GRIDS = {
    "l1": (1e-4, 3e-4, 3e-3, 1e-2),
    "l2": (1e-4, 3e-4, 3e-3, 1e-2),
    "weight_decay": (1e-3, 3e-3, 3e-2, 1e-1),
}
_WIDE_GRIDS = {"l1": (1e-4, 3e-4, 3e-3, 1e-2, 3e-2), "l2": (1e-4, 3e-4, 3e-3, 1e-2, 3e-2, 1e-1)}
# An exact linear fit costs one solve per fold, so its strength is searched like glmnet's path:
# half-decade steps over four decades (an L1 strength above lambda_max only zeroes every weight).
_LINEAR_STEPS = tuple(float(f"{s:.1g}") for s in np.logspace(-4, 0, 9))
_LINEAR_GRIDS = {"l1": _LINEAR_STEPS, "l2": _LINEAR_STEPS}


def _strength_variants(name: str, wide: bool = False) -> list[str]:
    """Neighbouring strengths of the tunable techniques in ``name`` (one at a time).

    ``wide`` uses wider L1/L2 grids (a linear model on small data may need a penalty 100x
    the default: glmnet's path spans 1e-4 of lambda_max) and halves/doubles a hidden width.

    Examples
    --------
    >>> _strength_variants("hidden=16+early_stopping", wide=True)
    ['hidden=8+early_stopping', 'hidden=32+early_stopping']
    """
    parts = name.split("+")
    variants = []
    for index, part in enumerate(parts):
        technique = part.split("=")[0]
        options: list[str] = []
        grid = {**_GRIDS, **(_WIDE_GRIDS if wide else {})}
        if name.startswith("linear+") and technique in ("l1", "l2"):
            grid = _LINEAR_GRIDS
        if technique in grid:
            options = [f"{technique}={s:g}" for s in grid[technique]]
        elif technique == "elastic_net":
            options = [f"elastic_net={a:g}:{r:g}" for a in (3e-4, 3e-3, 1e-2) for r in (0.2, 0.8)]
        elif technique == "dropout":
            options = [f"dropout={r:g}" for r in (0.2, 0.3)]
        elif technique == "hidden" and wide:
            width = int(part.split("=")[1])
            options = [f"hidden={w}" for w in (width // 2, width * 2) if 4 <= w <= 256]
        for option in options:
            variants.append("+".join(parts[:index] + [option] + parts[index + 1 :]))
    return variants


def _probe_seconds(bundle: DataBundle, specs: Sequence[RunSpec]) -> tuple[float, float]:
    """``(epoch, once)``: seconds for one epoch of the ``specs`` that train (stacked as the
    real run will be), and seconds of those solved exactly (linear candidates, see
    :func:`~regulab.experiment._runner.solved_exactly`), which take their time once, however
    many epochs the others train.

    Runs the real stacks for one epoch on a slice of the training rows and reads the epoch
    time each stack recorded (set-up and scoring excluded), scaled by the row count.
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
    seeds = sorted({spec.seed for spec in specs})
    repeat = 1
    if is_custom(specs[0].config.model):  # one run per task: one seed stands for every seed
        one_epoch, repeat = [s for s in one_epoch if s.seed == seeds[0]], len(seeds)
    run_task(one_epoch[:1], probe, __version__)  # warm-up: first calls pay one-off costs
    epoch = once = 0.0
    for task in make_tasks(one_epoch, data=probe):
        exact = solved_exactly(task, fresh_models(task, probe))
        records = run_task(task, probe, __version__)
        seconds = [r.history[0]["seconds"] for r in records]
        epoch += next((t for t, e in zip(seconds, exact) if not e), 0.0)  # the stack's epoch
        once += sum(t for t, e in zip(seconds, exact) if e)
    scale = repeat * len(bundle.X_train) / len(rows)
    return epoch * scale, once * scale


def _estimate_epoch_seconds(bundle: DataBundle, specs: Sequence[RunSpec]) -> float:
    """Seconds for one epoch of the ``specs`` that train; exact solves are left out (see
    :func:`_probe_seconds`)."""
    return _probe_seconds(bundle, specs)[0]


Fold = tuple[DataBundle, tuple[int, ...]]
"""A training/validation split of the non-test rows and the seeds trained on it."""


@dataclass
class Runner:
    """How the advisor's runs are executed and stored.

    Called with a ``deadline``, it trains stack by stack (one run at a time for models that
    do not stack; ``jobs`` stacks at once with workers) and starts one only when the time it
    is expected to take, by the runs already trained, fits before the deadline; :attr:`notes`
    say what was skipped. :attr:`overhead` is the measured time per run outside training
    (building, scoring, storing), for the callers' budgets. :attr:`metric` is what every
    step of the search compares runs on; :attr:`baselines` holds the majority-class
    baseline's metrics on every data part trained on, by its fingerprint.
    """

    store: Any
    experiment: str
    jobs: int
    verbose: int
    metric: Metric = LOG_LOSS
    notes: list[str] = field(default_factory=list)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    wall: float = 0.0
    trained: float = 0.0
    runs: int = 0

    @property
    def overhead(self) -> float:
        """Mean seconds per run spent outside its training loop so far (0 before any run)."""
        return max(0.0, self.wall - self.trained) / max(self.runs, 1)

    def parallel(self, runs: int) -> int:
        """How many of ``runs`` train at the same time (one per worker process)."""
        return max(1, min(self.jobs, runs))

    def __call__(
        self,
        folds: Sequence[Fold],
        configs: dict[str, TrainConfig],
        names: Sequence[str],
        deadline: float | None = None,
    ) -> list[RunRecord]:
        records: list[RunRecord] = []
        for position, (bundle, seeds) in enumerate(folds):
            if deadline is None:
                specs = [RunSpec(name, configs[name], s) for name in names for s in seeds]
                records += self._run(specs, bundle)
                continue
            # seed by seed, so that a cut leaves every config with the same seeds
            specs = [RunSpec(name, configs[name], s) for s in seeds for name in names]
            tasks = make_tasks(specs)
            step = max(1, self.jobs)
            chunks = [
                [spec for task in tasks[i : i + step] for spec in task]
                for i in range(0, len(tasks), step)
            ]
            this_fold: list[RunRecord] = []
            for index, chunk in enumerate(chunks):
                expected = self._expected(records + this_fold, len(chunk))
                if (records or this_fold) and time.perf_counter() + expected > deadline:
                    skipped = sum(len(c) for c in chunks[index:])
                    skipped += len(specs) * (len(folds) - position - 1)
                    note = (
                        f"Skipped {skipped} of {len(specs) * len(folds)} runs that would have "
                        f"ended after the deadline (about {expected:.0f} s each stack)"
                    )
                    if records and this_fold:  # earlier folds are whole: keep them equal
                        note += (
                            f"; set aside the {len(this_fold)} runs of a fold that not every "
                            "config finished, so that every config has the same folds"
                        )
                        this_fold = []
                    self.notes.append(note + ".")
                    return records + this_fold
                this_fold += self._run(chunk, bundle)
            records += this_fold
        return records

    def _expected(self, records: Sequence[RunRecord], size: int) -> float:
        if not records:
            return 0.0
        per_run = float(np.mean([r.seconds for r in records])) + self.overhead
        return per_run * size / self.parallel(size)

    def _run(self, specs: Sequence[RunSpec], bundle: DataBundle) -> list[RunRecord]:
        if bundle.fingerprint not in self.baselines:
            self.baselines[bundle.fingerprint] = majority_metrics(bundle)
        started = time.perf_counter()
        done, _ = run_specs(
            specs,
            bundle,
            store=self.store,
            experiment=self.experiment,
            jobs=self.jobs,
            verbose=self.verbose,
        )
        self.wall += time.perf_counter() - started
        self.trained += sum(r.seconds for r in done)
        self.runs += len(done)
        return done


def _parts(name: str) -> list[str]:
    return [part for part in name.split("+") if part and part != "none"]


def technique_total(name: str) -> int:
    """Techniques in a config name; ``hidden=W`` (a smaller network) counts as one."""
    return len(_parts(name))


def build_config(base: TrainConfig, name: str, shape: tuple[int, int]) -> TrainConfig:
    """The config of ``name``: Regulab's techniques plus ``hidden=W`` (one hidden layer)."""
    hidden = [part for part in _parts(name) if part.startswith("hidden=")]
    rest = [part for part in _parts(name) if not part.startswith("hidden=")]
    config = apply_techniques(base, "+".join(rest) or "none")
    if hidden:
        width = int(hidden[0].split("=")[1])
        config = replace(config, model=f"{shape[0]}-{width}-{shape[1]}")
    if config.model == "linear":
        config = replace(config, lr=_LINEAR_LR)
    return config


def _parameters(config: TrainConfig, shape: tuple[int, int]) -> int:
    if is_custom(config.model):  # one architecture for every candidate: not a tie-breaker
        return 0
    sizes = config.build_model(shape[0], shape[1], "classification").architecture.sizes
    return count_parameters(list(sizes))


def _strength(config: TrainConfig) -> float:
    alpha = config.elastic_net[0] if config.elastic_net else 0.0
    return config.l1 + config.l2 + alpha + config.weight_decay


def family(name: str) -> str:
    """The techniques of a config name without their strengths (its family).

    Examples
    --------
    >>> family("dropout=0.3+batchnorm+early_stopping"), family("none")
    ('batchnorm+dropout+early_stopping', 'none')
    """
    return "+".join(sorted({part.split("=")[0] for part in _parts(name)})) or "none"


def simplicity_key(
    records: Sequence[RunRecord],
    configs: dict[str, TrainConfig],
    shape: tuple[int, int],
    metric: Metric = LOG_LOSS,
    *,
    linear_1se: bool = False,
) -> Any:
    """Order of preference among tied configs.

    Fewer parameters first (a linear model, then a smaller network), then sparser. Among
    configs equal on both, the family (:func:`family`) whose best config has the better mean
    ``metric`` (validation loss by default), and inside it the stronger regularization: a
    larger penalty (glmnet's ``lambda.1se``), then a higher dropout rate; then faster. The
    number of techniques is no measure of simplicity: each one regularizes, so fewer of
    them is not the simpler model.

    Linear models are the exception: among tied ones the best family, then the best mean
    ``metric`` (glmnet's ``lambda.min``, the prediction default of ``regulab path``), unless
    ``linear_1se`` (an interpretable answer), which keeps sparser, then stronger
    (``lambda.1se``). A linear model still comes before any tied network.
    """
    sparsity: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for record in records:
        sparsity.setdefault(record.config_name, []).append(record.sparsity["total"])
        seconds.setdefault(record.config_name, []).append(record.seconds)
    family_loss: dict[str, float] = {}
    own_loss: dict[str, float] = {}
    for name, values in metric.values(records).items():
        losses = list(values.values())
        own_loss[name] = float(np.mean(losses)) if np.all(np.isfinite(losses)) else np.inf
        family_loss[family(name)] = min(own_loss[name], family_loss.get(family(name), np.inf))

    def key(name: str) -> tuple[Any, ...]:
        config = configs[name]
        if config.model == "linear" and not linear_1se:
            return (
                _parameters(config, shape),
                0.0,
                family_loss.get(family(name), np.inf),
                own_loss.get(name, np.inf),
                0.0,
                float(np.mean(seconds.get(name, [0.0]))),
            )
        return (
            _parameters(config, shape),
            -round(float(np.mean(sparsity.get(name, [0.0]))), 2),
            family_loss.get(family(name), np.inf),
            -_strength(config),
            -float(np.mean(config.dropout or (0.0,))),
            float(np.mean(seconds.get(name, [0.0]))),
        )

    return key


def cv_folds(bundle: DataBundle, repeat: int, seed: int, k: int = CV_FOLDS) -> list[Fold]:
    """Stratified (classification) k-fold splits of the training and validation rows; the
    test part is kept aside, for the report only. Each fold trains one seed: its index.

    A table bundle (``bundle.table`` set) encodes each fold itself: its preprocessing is
    the layout refit on the fold's training rows only (medians, scales, frequent levels),
    which encodes both its parts and rides along as the fold's ``table.fitted``.
    """
    X = np.concatenate([bundle.X_train, bundle.X_val])
    y = np.concatenate([bundle.y_train, bundle.y_val])
    counts = np.bincount(y) if bundle.task == "classification" else np.array([len(y)])
    folds = int(min(k, max(2, counts[counts > 0].min())))
    splitter: StratifiedKFold | KFold = (
        StratifiedKFold(folds, shuffle=True, random_state=seed + repeat)
        if bundle.task == "classification" and counts[counts > 0].min() >= folds
        else KFold(folds, shuffle=True, random_state=seed + repeat)
    )
    result: list[Fold] = []
    for index, (train, val) in enumerate(splitter.split(X, y)):
        fold_id = repeat * k + index
        X_train, X_val, table = X[train], X[val], bundle.table
        if table is not None:
            fitted, X_train, X_val = table.encode(train, val)
            table = replace(table, fitted=fitted)
        part = replace(
            bundle,
            X_train=X_train,
            y_train=y[train],
            X_val=X_val,
            y_val=y[val],
            fingerprint=f"{bundle.fingerprint}:cv{fold_id}",
            table=table,
        )
        result.append((part, (seed + fold_id,)))
    return result


def search(
    folds: Sequence[Fold],
    candidates: Sequence[str],
    base: TrainConfig,
    run: Runner,
    deadline: float,
    notes: list[str],
    *,
    shape: tuple[int, int],
    configs: dict[str, TrainConfig] | None = None,
    tune: bool = True,
    share: float | None = None,
    wide: bool = False,
    fewer_folds: Sequence[Fold] = (),
    epoch_seconds: float | None = None,
) -> tuple[list[RunRecord], dict[str, TrainConfig], int]:
    """Train the candidates side by side on every fold, then (``tune``) the strengths of the
    two leaders by the runner's metric (validation loss by default).

    Epochs are set so that the candidates take about ``share`` of the time left before
    ``deadline`` (default :data:`_COMPARE_SHARE`, :data:`_FINAL_SHARE` without tuning); the
    configs actually trained are returned with their records. ``wide`` searches strengths
    over a wider grid (cross-validated small data, where linear models need strong penalties).
    ``fewer_folds`` replace ``folds`` when these would leave under :data:`_MIN_CV_EPOCHS`.
    ``epoch_seconds`` (one epoch of every candidate on one fold, e.g. from measured runs)
    replaces the speed probe. No run starts that would end after ``deadline`` (see
    :class:`Runner`).
    """
    known = dict(configs or {})

    def configured(name: str, epochs: int, patience: int) -> TrainConfig:
        source = known.get(name) or build_config(base, name, shape)
        return with_patience(replace(source, epochs=epochs), patience)

    probe = {name: configured(name, 1, 5) for name in candidates}
    first, seeds = folds[0]
    specs = [RunSpec(name, probe[name], s) for name in candidates for s in seeds]
    once = 0.0  # exact solves: their time counts once per fold, not per epoch
    if epoch_seconds is None:
        epoch_seconds, once = _probe_seconds(first, specs)
    per_fold = epoch_seconds / run.parallel(len(specs))
    remaining = deadline - time.perf_counter() - once * len(folds) / run.parallel(len(specs))
    cap = _MAX_EPOCHS_SMALL if len(first.X_train) <= _SMALL_DATA_ROWS else _MAX_EPOCHS
    share = share if share is not None else (_COMPARE_SHARE if tune else _FINAL_SHARE)
    epochs = int(min(cap, max(2, share * remaining / max(per_fold * len(folds), 1e-3))))
    if fewer_folds and epochs < min(cap, _MIN_CV_EPOCHS):
        notes.append(
            f"{len(folds)} folds would leave {epochs} epochs in the budget: cross-validating "
            f"with {len(fewer_folds)} folds instead."
        )
        folds = fewer_folds
        epochs = int(min(cap, max(2, share * remaining / max(per_fold * len(folds), 1e-3))))
    every_fold = per_fold * len(folds)
    if epochs * every_fold > remaining:
        notes.append(
            f"The budget is tight: {epochs} epochs take about "
            f"{epochs * every_fold:.0f} s, more than the {remaining:.0f} s left."
        )
    patience = patience_for(epochs)
    trained = {name: configured(name, epochs, patience) for name in candidates}
    records = run(folds, trained, candidates, deadline)
    if not tune:
        return records, trained, epochs
    means = {
        name: float(np.mean(list(values.values())))
        for name, values in run.metric.values(records).items()
        if name != "none" and all(np.isfinite(list(values.values())))
    }
    ranked = sorted(means, key=lambda name: means[name])
    leaders = ranked[:_TUNED_LEADERS]
    # the best linear model of each family (L1, L2, elastic net) too: solved exactly, its
    # strengths cost one solve per fold, and the choice compares well-fit linear models with
    # the networks
    best_linear: dict[str, str] = {}
    for name in ranked:
        if trained[name].model == "linear":
            best_linear.setdefault(family(name), name)
    leaders += list(best_linear.values())
    for leader in dict.fromkeys(leaders):
        variants = [v for v in _strength_variants(leader, wide) if v not in trained]
        if not variants:
            continue
        remaining = deadline - time.perf_counter()
        own = [r.seconds for r in records if r.config_name == leader]
        per_run = float(np.mean(own or [r.seconds for r in records])) + run.overhead
        runs = len(variants) * sum(len(seeds) for _, seeds in folds)
        cost = per_run * runs / run.parallel(runs)
        if cost > 0.9 * remaining:
            notes.append(
                f"No time left to tune the strengths of {leader} "
                f"(needs about {cost:.0f} s, {max(remaining, 0):.0f} s left)."
            )
            continue  # a cheaper leader (an exact linear fit) may still fit
        trained.update({name: configured(name, epochs, patience) for name in variants})
        records += run(folds, trained, variants, deadline)
        notes.append(f"Tuned the strengths of {leader}: {', '.join(variants)}.")
    return records, trained, epochs


def patience_for(epochs: int) -> int:
    """A third of the epochs (3 to 10): enough to ride out noisy epochs, and a stopped run
    still saves most of its time. On MNIST, patience 10 instead of 5 gave +0.12 pt."""
    return max(3, min(10, epochs // 3))


def fine_search(
    records: list[RunRecord],
    configs: dict[str, TrainConfig],
    folds: Sequence[Fold],
    make: Any,
    run: Runner,
    deadline: float,
    seed: int,
    simplicity: Any,
) -> tuple[list[RunRecord], str]:
    """Optuna on the strengths of the best regularized config, on the same folds, until
    ``deadline`` or convergence; ``make(name)`` builds a config. Returns every record and
    the note."""
    values = run.metric.values(records)
    finite = {
        n: v for n, v in values.items() if n != "none" and np.isfinite(list(v.values())).all()
    }
    if not finite:
        return records, "No regularized config finished, so no strength search."
    leader = min(finite, key=lambda n: (float(np.mean(list(finite[n].values()))), simplicity(n)))
    if not search_space(leader):
        return records, f"The leader {leader} has no strength to search."
    best, _, _ = one_se_choice(values, simplicity)
    mean, _, se = mean_ci(list(values[best].values()))

    def train(fold: Fold, names: Sequence[str]) -> list[RunRecord]:
        configs.update({name: make(name) for name in names})
        return run([fold], configs, names)

    found, note = strength_search(
        leader, folds, train, (mean, se), deadline, seed, known=set(configs), score=run.metric.score
    )
    return records + found, note


def repeat_folds(
    bundle: DataBundle,
    records: list[RunRecord],
    configs: dict[str, TrainConfig],
    run: Runner,
    deadline: float,
    seed: int,
    k: int,
    simplicity: Any,
) -> tuple[list[RunRecord], int, str]:
    """Repeated k-fold: new fold splits for the best config and its ties while they are
    within noise of each other and the budget allows; returns the records, the repeats
    done and a sentence on why it stopped."""
    repeats = 1
    while True:
        best, tied, _ = one_se_choice(run.metric.values(records), simplicity)
        if not tied:
            return (
                records,
                repeats,
                (
                    f"Stopped after {repeats} x {k}-fold cross-validation: {best} is more "
                    "than one standard error ahead of every other candidate, so more folds would "
                    "not change the answer."
                ),
            )
        if repeats >= 1 + _CV_MAX_REPEATS:
            return (
                records,
                repeats,
                (
                    f"Stopped after {repeats} x {k}-fold cross-validation (the most the "
                    f"advisor runs); {best} and {', '.join(tied)} stay within one standard error."
                ),
            )
        contenders = [best, *tied]
        per_run = [r.seconds for r in records if r.config_name in contenders]
        cost = float(np.sum(per_run)) / repeats * 1.2
        if cost > deadline - time.perf_counter():
            return (
                records,
                repeats,
                (
                    f"Stopped after {repeats} x {k}-fold cross-validation: the budget is "
                    f"spent; {best} and {', '.join(tied)} are within one standard error."
                ),
            )
        folds = cv_folds(bundle, repeats, seed, k)
        records = records + run(folds, configs, contenders)
        repeats += 1


def subsample(bundle: DataBundle, rows: int, seed: int) -> DataBundle:
    """A bundle whose training part is a random subset of ``rows`` rows."""
    n_train = len(bundle.X_train)
    keep = np.sort(np.random.default_rng(seed).permutation(n_train)[:rows])
    table = bundle.table
    if table is not None:  # the raw rows stay aligned: the kept training rows, then val
        rows_kept = np.concatenate([keep, np.arange(n_train, len(table.frame))])
        table = replace(table, frame=table.frame.iloc[rows_kept].reset_index(drop=True))
    return replace(
        bundle,
        X_train=bundle.X_train[keep],
        y_train=bundle.y_train[keep],
        fingerprint=f"{bundle.fingerprint}:rows{rows}",
        table=table,
    )


def pick_finalists(
    records: Sequence[RunRecord], simplicity: Any, metric: Metric = LOG_LOSS
) -> list[str]:
    """The baseline plus the best configs by ``metric`` (the chosen one first)."""
    values = metric.values(records)
    best, tied, chosen = one_se_choice(values, simplicity)
    finite = [n for n, v in values.items() if all(np.isfinite(list(v.values())))]
    ordered = sorted(finite, key=lambda n: float(np.mean(list(values[n].values()))))
    picked = [n for n in dict.fromkeys([chosen, *ordered]) if n != "none"][:_FINALISTS]
    return ["none", *picked]


def with_patience(config: TrainConfig, patience: int) -> TrainConfig:
    if config.early_stopping is None:
        return config
    return replace(config, early_stopping=(config.early_stopping[0], patience))
