"""From advice to a trained model: estimator parameters, the ``regulab train`` command, and
the refit on every row (``advice.refit``, ``regulab advise --save``)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from regulab.config import TrainConfig
from regulab.custom import is_custom
from regulab.data import Dataset

__all__ = ["estimator_spec", "train_command", "PixelScaler", "refit_pipeline", "save_refit"]


def estimator_spec(
    config: TrainConfig, sizes: list[int], task: str, refit_epochs: int, cross_validated: bool
) -> tuple[str, dict[str, Any]]:
    """The estimator class name and the keyword arguments that build the recommendation.

    Under cross-validation an early-stopped config refits for the folds' median stopping
    epoch with early stopping off (no validation part is left); on a single split it keeps
    early stopping on a carved-off 10%.

    Examples
    --------
    >>> estimator_spec(TrainConfig(dropout=(0.5,), l2=1e-3, epochs=30), [8, 128, 64, 2],
    ...                "classification", 30, False)[1]["dropout"]
    0.5
    """
    linear = config.model == "linear" or len(sizes) == 2
    kind = "Linear" if linear else "MLP"
    name = f"Regularized{kind}{'Classifier' if task == 'classification' else 'Regressor'}"
    params: dict[str, Any] = {}
    if not linear:
        params["hidden_layer_sizes"] = list(sizes[1:-1])
        rates = list(config.dropout)
        if rates:
            params["dropout"] = rates[0] if len(rates) == 1 else rates
        if config.batchnorm:
            params["batchnorm"] = True
        if config.activation != "relu":
            params["activation"] = config.activation
    if config.input_dropout:
        params["input_dropout"] = config.input_dropout
    for key in ("l1", "l2", "weight_decay"):
        if getattr(config, key):
            params[key] = getattr(config, key)
    if config.elastic_net:
        params["elastic_net"] = list(config.elastic_net)
    if config.prox_l1 and (config.l1 or config.elastic_net):
        params["prox_l1"] = True
    if config.class_weight:
        params["class_weight"] = config.class_weight
    epochs = config.epochs
    if config.early_stopping and not cross_validated:
        params["early_stopping"] = True
        params["monitor"], params["patience"] = config.early_stopping
    elif config.early_stopping:
        epochs = refit_epochs
    params.update(
        optimizer=config.optimizer,
        learning_rate=config.lr,
        epochs=epochs,
        batch_size=config.batch_size,
        random_state=config.seed,
    )
    return name, params


def train_command(
    config: TrainConfig, sizes: list[int], data: dict[str, Any], epochs: int, cross_validated: bool
) -> str:
    """The ``regulab train`` command line of the recommendation (its own splits)."""
    words = ["regulab", "train", "--data", str(data.get("source") or data["name"])]
    if data.get("target"):
        words += ["--target", str(data["target"])]
    words += ["--task", data["task"]]
    if is_custom(config.model) or config.model == "linear":
        words += ["--model", str(config.model)]
    else:
        words += ["--model", "-".join(map(str, sizes))]
    if config.dropout and config.model != "linear":
        words += ["--dropout", ",".join(f"{r:g}" for r in config.dropout)]
    if config.input_dropout:
        words += ["--input-dropout", f"{config.input_dropout:g}"]
    if config.batchnorm:
        words.append("--batchnorm")
    for key in ("l1", "l2", "weight_decay"):
        if getattr(config, key):
            words += [f"--{key.replace('_', '-')}", f"{getattr(config, key):g}"]
    if config.elastic_net:
        words += ["--elastic-net", f"{config.elastic_net[0]:g}:{config.elastic_net[1]:g}"]
    if config.prox_l1 and (config.l1 or config.elastic_net):
        words.append("--prox-l1")
    if config.early_stopping and not cross_validated:
        words += ["--early-stopping", f"{config.early_stopping[0]}:{config.early_stopping[1]}"]
    if config.class_weight:
        words += ["--class-weight", config.class_weight]
    words += ["--epochs", str(epochs if cross_validated else config.epochs)]
    words += ["--lr", f"{config.lr:g}", "--batch-size", str(config.batch_size)]
    words += ["--optimizer", config.optimizer, "--seed", str(config.seed)]
    return shlex.join(words)


class PixelScaler(TransformerMixin, BaseEstimator):
    """Image scaling as the advisor trains: every pixel divided by the largest training value.

    Examples
    --------
    >>> PixelScaler().fit([[0, 128], [255, 3]]).transform([[255, 0]]).tolist()
    [[1.0, 0.0]]
    """

    def fit(self, X: Any, y: Any = None) -> PixelScaler:
        """Remember the largest value of ``X`` (1 when it is 0)."""
        self.scale_ = float(np.max(np.asarray(X, dtype=np.float64))) or 1.0
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X / scale_`` as float32."""
        return (np.asarray(X, dtype=np.float64) / self.scale_).astype(np.float32)


def refit_pipeline(estimator: Any, image: bool) -> Any:
    """The estimator behind the scaling the advisor used (standardized columns, or pixels
    scaled to [0, 1] for images; the trainer standardizes regression targets itself)."""
    return make_pipeline(PixelScaler() if image else StandardScaler(), estimator)


def save_refit(advice: Any, dataset: Dataset, path: str | os.PathLike[str]) -> Path:
    """Fit the recommendation of ``advice`` on every row of ``dataset`` (scaled as the
    advisor trains) and save it for ``regulab predict`` (the model plus its scaling and
    class labels; for a table data set the preprocessing fitted on every row, as JSON
    state, which ``predict`` applies to the raw file). A CNN or factory model, and any
    model with class weights, trains with :func:`regulab.train`; the MLP and linear model
    otherwise through their estimator."""
    from regulab.io import preprocessing_of, save

    X = np.asarray(dataset.X, dtype=np.float64)
    table_state = None
    if dataset.table is not None:  # X is already the all-rows preprocessing's output
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        table_state = dataset.table.preprocessor.to_state()
    elif dataset.image_shape is not None:
        mean = np.zeros(X.shape[1])
        scale = np.full(X.shape[1], float(X.max()) or 1.0)
    else:
        mean = X.mean(0)
        spread = X.std(0)
        scale = np.where(spread > 0, spread, 1.0)
    features = ((X - mean) / scale).astype(np.float32)
    if is_custom(advice.config.model) or advice.config.class_weight:
        model = _refit_module(advice, dataset, features)
    else:
        model = advice.estimator().fit(features, dataset.y).model_
    preprocessing = preprocessing_of(dataset, mean, scale, table_state=table_state)
    return save(model, path, preprocessing=preprocessing)


def _refit_module(advice: Any, dataset: Dataset, features: np.ndarray) -> Any:
    """Train the advised CNN, factory or class-weighted model on every row, as
    :func:`estimator_spec` has the estimators do: under cross-validation for the folds'
    median stopping epoch without early stopping, on a single split with early stopping on
    a carved-off 10%."""
    from regulab.training import train

    config: TrainConfig = advice.config
    n_outputs = dataset.n_classes if dataset.task == "classification" else 1
    model = config.build(dataset.n_features, n_outputs, dataset.task, dataset.image_shape)
    early = config.early_stopping is not None and not advice.cross_validated
    result = train(
        model,
        features,
        dataset.y,
        penalties=config.penalties(),
        callbacks=config.callbacks() if early else [],
        seed=config.seed,
        optimizer=config.optimizer,
        lr=config.lr,
        epochs=config.epochs if early else (advice.refit_epochs or config.epochs),
        batch_size=config.batch_size,
        validation_split=0.1 if early else 0.0,
        verbose=0,
        task=dataset.task,
        class_weight=config.class_weight,
    )
    return result.model
