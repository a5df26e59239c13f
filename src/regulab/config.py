"""One training run described as data: what ``regulab train`` and comparisons run.

A :class:`TrainConfig` names the data, the model and every regularization setting; it
round-trips through JSON (``to_dict``/``from_dict``) and :func:`run` executes it: load, split,
standardize on the training split, train, score on the test split.

Examples
--------
>>> from regulab.config import TrainConfig, run
>>> config = TrainConfig(data="iris", model="4-16-3", dropout=(0.2,), epochs=3, verbose=0)
>>> summary = run(config)
>>> sorted(summary.test_metrics)
['accuracy', 'balanced_accuracy', 'f1_macro', 'loss', 'roc_auc']
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from torch import nn

from regulab._groups import table_group_ids
from regulab.custom import build_model as build_custom
from regulab.custom import is_custom
from regulab.data import Dataset, Splits, load, split
from regulab.errors import InvalidParameterError, check_range
from regulab.models import MLP, LinearModel, parse_sizes
from regulab.penalties import L1, L2, ElasticNet, Penalty, WeightDecay
from regulab.training import Callback, EarlyStopping, FitResult, evaluate, train

__all__ = [
    "TrainConfig",
    "RunSummary",
    "run",
    "parse_elastic_net",
    "parse_early_stopping",
    "parse_rates",
    "table_groups",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1


def parse_rates(text: str) -> tuple[float, ...]:
    """Parse ``"0.5,0.3"`` into dropout rates; an empty text means no dropout.

    Examples
    --------
    >>> parse_rates("0.5,0.3")
    (0.5, 0.3)
    """
    if not text.strip():
        return ()
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError as error:
        raise InvalidParameterError(
            f"Dropout rates must be numbers separated by commas, e.g. '0.5,0.3'. Got {text!r}."
        ) from error


def parse_elastic_net(text: str) -> tuple[float, float]:
    """Parse ``"ALPHA:L1_RATIO"`` such as ``"1e-4:0.5"``.

    Examples
    --------
    >>> parse_elastic_net("1e-4:0.5")
    (0.0001, 0.5)
    """
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        alpha, ratio = float(parts[0]), float(parts[1])
    except ValueError as error:
        raise InvalidParameterError(
            f"Elastic net takes the form ALPHA:L1_RATIO, e.g. '1e-4:0.5'. Got {text!r}."
        ) from error
    check_range("alpha", alpha, low=0.0, owner="ElasticNet")
    check_range("l1_ratio", ratio, low=0.0, high=1.0, owner="ElasticNet")
    return alpha, ratio


def parse_early_stopping(text: str) -> tuple[str, int]:
    """Parse ``"MONITOR:PATIENCE"`` such as ``"val_loss:3"`` (a bare monitor means patience 3).

    Both parts must be written when the colon is: ``":3"`` and ``"val_loss:"`` are refused.

    Examples
    --------
    >>> parse_early_stopping("val_accuracy:5")
    ('val_accuracy', 5)
    """
    monitor, colon, patience = (part.strip() for part in text.partition(":"))
    try:
        if not monitor or (colon and not patience):
            raise ValueError
        value = int(patience) if colon else 3
    except ValueError as error:
        raise InvalidParameterError(
            "Early stopping takes the form MONITOR:PATIENCE or MONITOR, e.g. 'val_loss:3'. "
            f"Got {text!r}."
        ) from error
    check_range("patience", value, low=0, integer=True, owner="EarlyStopping")
    return monitor, value


@dataclass
class TrainConfig:
    """Everything one training run needs, JSON round-trippable.

    Parameters
    ----------
    data : str, default="digits"
        Built-in data set name, ``mnist``, or a CSV/Parquet/NPZ path.
    target : str, optional
        Target column of a CSV/Parquet file.
    task : str, optional
        Force ``classification`` or ``regression`` for a file.
    mnist_dir : str, optional
        Folder holding MNIST's four IDX files.
    model : str, optional
        Layer sizes ``"64-128-64-10"``; ``"linear"`` for a linear model; ``"cnn"`` for
        :class:`regulab.models.CNN`; an import path ``"package.module:factory"`` for your
        own model (:mod:`regulab.custom`); None for ``inputs-128-64-outputs``.
    activation, dropout, input_dropout, batchnorm
        Model options (see :class:`regulab.models.MLP`).
    l1, l2, weight_decay : float
        Strengths (0 disables).
    elastic_net : tuple of (alpha, l1_ratio), optional
    prox_l1 : bool
        Apply L1 (and elastic net's L1 part) as a proximal step: exact zeros.
    early_stopping : tuple of (monitor, patience), optional
    class_weight : {None, "balanced"}
        Classification: weigh the training loss per class (see
        :func:`regulab.training.train_many`).
    optimizer, lr, epochs, batch_size, seed, val_size, test_size, device, verbose
        Training options.
    feature_factors : list of float, optional
        Per-input factors on the first layer's penalty (see :mod:`regulab.penalties`).
    feature_groups : list of int, optional
        One group id per input column: L1 and elastic net's L1 part become a group lasso on
        the first layer (one table column, one unit; see :mod:`regulab.penalties`).
    """

    data: str = "digits"
    target: str | None = None
    task: str | None = None
    mnist_dir: str | None = None
    model: str | None = None
    activation: str = "relu"
    dropout: tuple[float, ...] = ()
    input_dropout: float = 0.0
    batchnorm: bool = False
    l1: float = 0.0
    l2: float = 0.0
    elastic_net: tuple[float, float] | None = None
    weight_decay: float = 0.0
    prox_l1: bool = False
    early_stopping: tuple[str, int] | None = None
    class_weight: str | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    val_size: float = 0.1
    test_size: float = 0.2
    device: str = "auto"
    verbose: int = 1
    feature_factors: list[float] | None = field(default=None, repr=False)
    feature_groups: list[int] | None = field(default=None, repr=False)

    def penalties(self) -> list[Penalty]:
        """The penalties this config asks for."""
        factors = {"feature_factors": self.feature_factors} if self.feature_factors else {}
        groups = {"feature_groups": self.feature_groups} if self.feature_groups else {}
        result: list[Penalty] = []
        if self.l1:
            result.append(L1(self.l1, proximal=self.prox_l1, **factors, **groups))
        if self.l2:
            result.append(L2(self.l2, **factors))
        if self.elastic_net:
            alpha, ratio = self.elastic_net
            result.append(ElasticNet(alpha, ratio, proximal=self.prox_l1, **factors, **groups))
        if self.weight_decay:
            result.append(WeightDecay(self.weight_decay))
        return result

    def callbacks(self) -> list[Callback]:
        """Early stopping when asked for."""
        if self.early_stopping is None:
            return []
        monitor, patience = self.early_stopping
        return [EarlyStopping(monitor, patience=patience)]

    def build(
        self,
        n_features: int,
        n_outputs: int,
        task: str,
        image_shape: tuple[int, int] | None = None,
    ) -> nn.Module:
        """Any model this config names: :meth:`build_model`'s MLP, or ``"cnn"`` and import
        paths ``"module:factory"`` through :func:`regulab.custom.build_model`, with samples of
        shape ``(1, *image_shape)`` on image data."""
        if not is_custom(self.model):
            return self.build_model(n_features, n_outputs, task)
        assert self.model is not None
        return build_custom(
            self.model,
            input_shape=(1, *image_shape) if image_shape else (n_features,),
            n_outputs=n_outputs,
            task=task,
            dropout=self.dropout,
            input_dropout=self.input_dropout,
            batchnorm=self.batchnorm,
            activation=self.activation,
            seed=self.seed,
        )

    def build_model(self, n_features: int, n_outputs: int, task: str) -> MLP:
        """The model for data with ``n_features`` inputs and ``n_outputs`` outputs."""
        if self.model == "linear":
            return LinearModel(
                n_features, n_outputs, task=task, input_dropout=self.input_dropout, seed=self.seed
            )
        sizes = parse_sizes(self.model) if self.model else (n_features, 128, 64, n_outputs)
        n_hidden = len(sizes) - 2
        rates: float | tuple[float, ...] = (
            self.dropout if len(self.dropout) > 1 else (self.dropout[0] if self.dropout else 0.0)
        )
        if n_hidden == 0 and self.dropout:
            raise InvalidParameterError(
                f"Dropout rates {self.dropout} were given but the model {self.model} has no "
                "hidden layer; use --input-dropout for a linear model."
            )
        return MLP(
            sizes,
            activation=self.activation,
            dropout=rates,
            input_dropout=self.input_dropout,
            batchnorm=self.batchnorm,
            task=task,
            seed=self.seed,
        )

    def load_data(self, **columns: Any) -> Dataset:
        """Load :attr:`data` with this configuration's target, task, MNIST folder and seed
        (``columns``: the column kinds of a table, see :func:`regulab.data.load`).

        Examples
        --------
        >>> TrainConfig(data="iris").load_data().n_features
        4
        """
        return load(
            self.data,
            target=self.target,
            task=self.task,
            mnist_dir=self.mnist_dir,
            seed=self.seed,
            **columns,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidParameterError(
                f"Unknown TrainConfig keys {unknown}; known keys: {', '.join(sorted(known))}."
            )
        converted = dict(values)
        for key in ("dropout", "elastic_net", "early_stopping"):
            if converted.get(key) is not None:
                converted[key] = tuple(converted[key])
        return cls(**converted)


@dataclass
class RunSummary:
    """What a run produced; :meth:`to_json` is the ``--json`` contract.

    The JSON object has ``schema_version`` (int), ``config`` (the TrainConfig),
    ``test_metrics`` (metric -> float), ``epochs_run`` (int), ``stop_reason`` (string),
    ``stop_message``, ``best_epoch`` (int or null), ``sparsity`` (``per_layer``, ``total``,
    ``dropped_features``), ``seconds`` (float) and ``history`` (list of epoch records).
    """

    config: TrainConfig
    dataset: Dataset
    splits: Splits
    result: FitResult
    test_metrics: dict[str, float]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The documented, versioned JSON form."""
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "data": {
                "name": self.dataset.name,
                "task": self.dataset.task,
                "n_train": len(self.splits.X_train),
                "n_val": len(self.splits.X_val),
                "n_test": len(self.splits.X_test),
                "n_features": self.dataset.n_features,
            },
            "test_metrics": self.test_metrics,
            "epochs_run": self.result.epochs_run,
            "stop_reason": self.result.stop_reason.value,
            "stop_message": self.result.stop_message,
            "best_epoch": self.result.best_epoch,
            "sparsity": self.result.sparsity.to_dict(),
            "seconds": self.seconds,
            "history": self.result.history.to_list(),
        }


def table_groups(dataset: Dataset) -> list[int] | None:
    """The ``feature_groups`` of a mixed table (each original column's encoded columns one
    group) when some column owns two or more, else None.

    Examples
    --------
    >>> from regulab.data import load
    >>> table_groups(load("penguins"))[:8]
    [0, 0, 0, 1, 1, 2, 2, 3]
    >>> table_groups(load("iris")) is None
    True
    """
    table = dataset.table
    return None if table is None else table_group_ids(table.groups, dataset.n_features)


def run(config: TrainConfig, dataset: Dataset | None = None) -> RunSummary:
    """Load, split, train and test as ``config`` says (``dataset``: already loaded, e.g. a
    table with the user's column kinds; ``config.data`` then only names it). On a mixed
    table whose columns own several encoded columns, a config without ``feature_groups``
    gets the table's (:func:`table_groups`): L1 treats each original column as one unit.

    Returns
    -------
    RunSummary
    """
    started = time.perf_counter()
    if dataset is None:
        dataset = config.load_data()
    if config.feature_groups is None:
        config = replace(config, feature_groups=table_groups(dataset))
    splits = split(dataset, val_size=config.val_size, test_size=config.test_size, seed=config.seed)
    n_outputs = dataset.n_classes if dataset.task == "classification" else 1
    model = config.build(dataset.n_features, n_outputs, dataset.task, dataset.image_shape)
    result = train(
        model,
        splits.X_train,
        splits.y_train,
        splits.X_val,
        splits.y_val,
        penalties=config.penalties(),
        callbacks=config.callbacks(),
        seed=config.seed,
        optimizer=config.optimizer,
        lr=config.lr,
        epochs=config.epochs,
        batch_size=config.batch_size,
        device=config.device,
        verbose=config.verbose,
        feature_names=dataset.feature_names,
        column_groups=None if dataset.table is None else dataset.table.groups,
        task=dataset.task,
        class_weight=config.class_weight,
    )
    test_metrics = evaluate(result.model, splits.X_test, splits.y_test)
    return RunSummary(config, dataset, splits, result, test_metrics, time.perf_counter() - started)
