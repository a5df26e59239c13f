"""The plan before the experiment: diagnose the non-test rows, apply the rules, and turn
them into candidate configurations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from regulab.advise._modules import module_candidates
from regulab.advise._rules import Reason, candidate_configs, capacity_candidates, reasons_from
from regulab.advise._search import CV_FOLDS
from regulab.config import TrainConfig, table_groups
from regulab.custom import is_custom
from regulab.data import Dataset
from regulab.diagnose import DataDiagnostics, diagnose_data
from regulab.diagnose._columns import units
from regulab.errors import InvalidParameterError, did_you_mean
from regulab.experiment._runner import DataBundle


@dataclass
class Plan:
    """What the steps before the experiment decided: the data, what the diagnostics and the
    rules made of it, and the candidates to test."""

    dataset: Dataset
    bundle: DataBundle
    diagnostics: DataDiagnostics
    reasons: list[Reason]
    candidates: list[str]
    scores: dict[str, float]
    base: TrainConfig
    model_description: str  # a custom model's description, else its layer sizes
    custom: bool
    cross_validate: bool
    notes: list[str]

    @property
    def shape(self) -> tuple[int, int]:
        """Inputs and outputs of the models."""
        return (self.dataset.n_features, self.bundle.n_outputs)

    @property
    def n_train(self) -> int:
        return len(self.bundle.X_train)


def training_rows(dataset: Dataset, bundle: DataBundle) -> Dataset:
    """The non-test rows (training and validation parts) as a data set: what the
    diagnostics may see when they steer a choice."""
    return Dataset(
        np.concatenate([bundle.X_train, bundle.X_val]),
        np.concatenate([bundle.y_train, bundle.y_val]),
        dataset.task,
        list(dataset.feature_names),
        dataset.name,
        classes=dataset.classes,
        image_shape=dataset.image_shape,
    )


def input_columns(dataset: Dataset) -> dict[str, list[int]]:
    """The columns a user names: a table's original columns with their encoded inputs, else
    every input feature alone.

    Examples
    --------
    >>> from regulab.data import load
    >>> input_columns(load("penguins"))["island"]
    [0, 1, 2]
    """
    return units(dataset.feature_names, None if dataset.table is None else dataset.table.groups)


def check_important_features(dataset: Dataset, important_features: Sequence[str]) -> None:
    """Refuse an ``important_features`` name that is not one of :func:`input_columns`, in
    one line that names the valid ones (a table's original columns, all of them up to 30).

    Examples
    --------
    >>> from regulab.data import load
    >>> check_important_features(load("penguins"), ["sex_male"])
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: Important feature 'sex_male' is not a column of \
penguins (7 columns: island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, \
sex, year). Did you mean 'sex'?
    """
    columns = input_columns(dataset)
    unknown = [name for name in important_features if name not in columns]
    if not unknown:
        return
    valid = list(columns)
    if dataset.table is None:
        listed = f"{len(valid)} features, e.g. {', '.join(valid[:5])}"
    else:
        more = f", … and {len(valid) - 30} more" if len(valid) > 30 else ""
        listed = f"{len(valid)} columns: {', '.join(valid[:30])}{more}"
    kind = "feature" if dataset.table is None else "column"
    raise InvalidParameterError(
        f"Important feature '{unknown[0]}' is not a {kind} of {dataset.name} ({listed})."
        + did_you_mean(unknown[0], valid)
    )


def important_factors(dataset: Dataset, important_features: Sequence[str]) -> list[float]:
    """The first layer's penalty factor per input: 0.25 for the encoded inputs of each
    ``important_features`` column (a table's original column names), 1 elsewhere.

    Examples
    --------
    >>> from regulab.data import load
    >>> important_factors(load("penguins"), ["sex"])[-4:]
    [0.25, 0.25, 0.25, 1.0]
    """
    check_important_features(dataset, important_features)
    columns = input_columns(dataset)
    spared = {i for name in important_features for i in columns[name]}
    return [0.25 if i in spared else 1.0 for i in range(dataset.n_features)]


def balanced_candidates(candidates: Sequence[str]) -> list[str]:
    """Class weighting for a rare class (minority share under
    :data:`~regulab.diagnose._data.RARE_CLASS_SHARE`): balanced weights alone (with early
    stopping when a candidate stops early) and on the rules' first regularized candidate.

    Examples
    --------
    >>> balanced_candidates(["none", "l2+early_stopping", "dropout+early_stopping"])
    ['balanced+early_stopping', 'l2+early_stopping+balanced']
    >>> balanced_candidates(["none"])
    ['balanced']
    """
    stop = any(name.split("+")[-1] == "early_stopping" for name in candidates)
    found = ["balanced+early_stopping" if stop else "balanced"]
    first = next((name for name in candidates if name not in ("none", "early_stopping")), None)
    if first is not None:
        found.append(f"{first}+balanced")
    return found


def plan_candidates(
    dataset: Dataset,
    bundle: DataBundle,
    model: str | None,
    interpretable: bool,
    important_features: Sequence[str],
    budget_seconds: float,
    seed: int,
    cross_validate: bool,
) -> Plan:
    """Diagnose the non-test rows, apply the rules and turn them into candidates
    (``cross_validate``: the selection will use folds of the non-test rows)."""
    n_train = len(bundle.X_train)
    pool = len(bundle.X_train) + len(bundle.X_val)
    # The diagnostics steer the candidates: they see the training and validation rows only.
    diagnostics = diagnose_data(
        training_rows(dataset, bundle),
        model=model,
        train_share=(1 - 1 / CV_FOLDS) if cross_validate else n_train / pool,
        seed=seed,
        groups=None if dataset.table is None else dataset.table.groups,
    )
    reasons = reasons_from(
        diagnostics,
        n_train=n_train,
        interpretable=interpretable,
        important_features=important_features,
        budget_seconds=budget_seconds,
    )
    base = TrainConfig(data=dataset.name, model=model, verbose=0, seed=seed)
    notes: list[str] = []
    custom = is_custom(model)
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
        description = found.description
    else:
        shape = (dataset.n_features, bundle.n_outputs)
        sizes = list(base.build_model(*shape, dataset.task).architecture.sizes)
        candidates, scores = candidate_configs(reasons, has_hidden=len(sizes) > 2)
        description = "-".join(map(str, sizes))
    if cross_validate and not custom:
        extra, capacity = capacity_candidates(
            diagnostics,
            reasons,
            n_train=int(pool * (1 - 1 / CV_FOLDS)),
            n_outputs=bundle.n_outputs,
            early_stopping=any(c.endswith("early_stopping") for c in candidates),
        )
        candidates = list(dict.fromkeys([*candidates, *extra]))
        reasons = reasons + ([capacity] if capacity else [])
    balance = diagnostics.get("class_balance")  # classification only
    if balance is not None and balance.details.get("rare"):
        candidates = list(dict.fromkeys([*candidates, *balanced_candidates(candidates)]))
    groups = table_groups(dataset)  # one table column, one unit for L1
    if groups is not None:
        base = replace(base, feature_groups=groups)
    if important_features:
        base = replace(base, feature_factors=important_factors(dataset, important_features))
    if diagnostics["irrelevant_features"].sampled:
        notes.append("Diagnostics used a sample of the rows (said per finding).")
    return Plan(
        dataset,
        bundle,
        diagnostics,
        reasons,
        candidates,
        scores,
        base,
        description,
        custom,
        cross_validate,
        notes,
    )
