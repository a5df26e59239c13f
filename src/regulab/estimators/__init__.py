"""scikit-learn estimators: regularized MLPs and linear models trained by Regulab's trainer.

:class:`RegularizedMLPClassifier`, :class:`RegularizedMLPRegressor`,
:class:`RegularizedLinearClassifier` and :class:`RegularizedLinearRegressor` follow the
scikit-learn contract: ``__init__`` only stores its arguments, parameters are validated in
``fit`` from a declared ``_parameter_constraints`` table, fitted attributes end in ``_`` and
``fit`` returns ``self``. They work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score``,
``SelectFromModel`` and ``clone``, and they pickle.

Choices worth knowing:

* **Features are not scaled inside.** Features are used as given; put a ``StandardScaler``
  in front (``make_pipeline(StandardScaler(), RegularizedMLPClassifier())``) so penalties
  treat every feature alike and the scaler is fitted on the training fold only.
* **Regression targets are standardized inside** with the training rows' statistics, so a
  penalty strength means the same on every data set; predictions, ``coef_`` and the history
  are in the target's units (see :func:`regulab.training.train_many`).
* **Early stopping never looks outside ``fit``'s data.** Without ``X_val``/``y_val``, a
  ``validation_fraction`` of the rows given to ``fit`` is held out (stratified for
  classifiers, seeded by ``random_state``; the trainer's one split rule), so nothing leaks
  from an outer CV fold. The best epoch's weights are restored.
* **Binary classification uses one sigmoid output**, so linear ``coef_`` has scikit-learn's
  shapes: ``(1, n_features)`` for two classes, ``(n_classes, n_features)`` otherwise,
  ``(n_features,)`` for a 1-D regression target and ``(n_targets, n_features)`` for 2-D.
* **Scores are computed in float64** from the float32 weights, so a prediction does not
  depend on which other rows share its batch.
* **partial_fit** trains one epoch on the data given, from the current weights, through the
  same training step as ``fit``, keeping the optimizer's moments, the random streams and
  the model's target scaling between calls (and from a ``fit`` before it), without early stopping:
  ``epochs`` calls on the data given to ``fit`` end where ``fit`` ends. An estimator
  loaded from a model file continues with a fresh optimizer (a pickle keeps the state).

Examples
--------
>>> from sklearn.datasets import make_classification
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from regulab.estimators import RegularizedMLPClassifier
>>> X, y = make_classification(n_samples=200, n_features=8, random_state=0)
>>> model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(
...     (16,), dropout=0.2, l2=1e-4, learning_rate=1e-2, epochs=10, random_state=0))
>>> model.fit(X, y).score(X, y) > 0.7
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils._param_validation import InvalidParameterError as _SkParameterError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from regulab import io
from regulab._format import ModelFileError, register
from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.models import ACTIVATIONS, MLP, LinearModel
from regulab.penalties import L1, L2, ElasticNet, Penalty, WeightDecay, sparsity
from regulab.training import (
    OPTIMIZERS,
    EarlyStopping,
    History,
    Member,
    StopReason,
    TrainState,
    train_many,
)

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def validate_data(  # type: ignore[misc]
        _estimator: Any, /, X: Any = "no_validation", y: Any = "no_validation", **kwargs: Any
    ) -> Any:
        """``BaseEstimator._validate_data`` under scikit-learn's newer name."""
        return _estimator._validate_data(X, y, **kwargs)


__all__ = [
    "RegularizedMLPClassifier",
    "RegularizedMLPRegressor",
    "RegularizedLinearClassifier",
    "RegularizedLinearRegressor",
    "ESTIMATORS",
]


# -- parameter constraints ------------------------------------------------------------------
def _is_pair(value: Any) -> bool:
    """``(alpha, l1_ratio)`` with alpha >= 0 and l1_ratio in [0, 1]."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        return False
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in value):
        return False
    alpha, ratio = float(value[0]), float(value[1])
    return alpha >= 0 and 0 <= ratio <= 1


def _nonnegative() -> Interval:
    return Interval(Real, 0.0, None, closed="left")


_MONITORS = {
    "classification": ("loss", "val_loss", "val_accuracy", "val_f1_macro", "val_roc_auc"),
    "regression": ("loss", "val_loss", "val_mse", "val_mae", "val_r2"),
}


def _constraints(task: str, mlp: bool) -> dict[str, list[Any]]:
    """The ``_parameter_constraints`` table of one estimator."""
    table: dict[str, list[Any]] = {}
    if mlp:
        table.update(
            hidden_layer_sizes=[Interval(Integral, 1, None, closed="left"), "array-like"],
            activation=[StrOptions(set(ACTIVATIONS))],
            dropout=[Interval(Real, 0.0, 1.0, closed="left"), Hidden("array-like")],
            batchnorm=["boolean", Hidden("array-like")],
        )
    table.update(
        input_dropout=[Interval(Real, 0.0, 1.0, closed="left")],
        l1=[_nonnegative()],
        l2=[_nonnegative()],
        elastic_net=[None, Hidden("array-like")],  # the pair is checked in _validate_params
        weight_decay=[_nonnegative()],
        prox_l1=["boolean"],
        early_stopping=["boolean"],
        monitor=[StrOptions(set(_MONITORS[task]))],
        patience=[Interval(Integral, 0, None, closed="left")],
        validation_fraction=[Interval(Real, 0.0, 1.0, closed="neither")],
        optimizer=[StrOptions(set(OPTIMIZERS))],
        learning_rate=[Interval(Real, 0.0, None, closed="neither")],
        epochs=[Interval(Integral, 1, None, closed="left")],
        batch_size=[Interval(Integral, 1, None, closed="left")],
        random_state=["random_state"],
        device=[str, Hidden(torch.device)],
        verbose=["verbose"],
    )
    return table


def _is_rate(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0.0 <= float(value) < 1.0


# -- helpers ----------------------------------------------------------------------------------
def _float_features(X: np.ndarray) -> np.ndarray:
    """Writable C-contiguous float32 copy-if-needed (read-only memmaps stay untouched)."""
    array = np.ascontiguousarray(X, dtype=np.float32)
    return array if array.flags.writeable else array.copy()


@torch.no_grad()
def _scores64(model: MLP, X: np.ndarray) -> np.ndarray:
    """Eval-mode raw scores in float64, computed row by row identically whatever the batch."""
    state = {
        name: (t.detach().cpu().double() if t.is_floating_point() else t.detach().cpu())
        for name, t in model.state_dict().items()
    }
    was_training = model.training
    model.eval()
    try:
        features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
        scores = torch.func.functional_call(model, state, (features,))
    finally:
        model.train(was_training)
    return scores.numpy()


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


# -- the shared machinery ---------------------------------------------------------------------
class _RegularizedEstimator(BaseEstimator):
    """Parameters, model building, training and saving shared by the four estimators."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", False)
    _task: ClassVar[str] = "classification"
    _linear: ClassVar[bool] = False

    # set by the concrete __init__
    input_dropout: float
    l1: float
    l2: float
    elastic_net: tuple[float, float] | None
    weight_decay: float
    prox_l1: bool
    early_stopping: bool
    monitor: str
    patience: int
    validation_fraction: float
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    random_state: Any
    device: str
    verbose: int

    # fitted
    model_: MLP
    n_features_in_: int
    history_: History
    _train_state: TrainState

    @classmethod
    def from_advice(cls, advice: Any) -> Any:
        """The estimator :func:`regulab.advise.advise` recommends, unfitted.

        ``advice`` is an :class:`~regulab.advise.Advice` or its ``to_json()`` dict; its
        ``recommendation.estimator`` must name this class. Features must be scaled as the
        advisor trained (``advice.refit(X, y)`` adds the scaling).
        """
        payload = advice.to_json() if hasattr(advice, "to_json") else advice
        name = payload["recommendation"]["estimator"]
        if name != cls.__name__:
            raise InvalidParameterError(
                f"The advice recommends a {name}, not a {cls.__name__}; use "
                f"{name}.from_advice(advice) or advice.estimator()."
            )
        params = dict(payload["recommendation"]["params"])
        if params.get("elastic_net") is not None:
            params["elastic_net"] = tuple(params["elastic_net"])
        return cls(**params)

    # -- validation --------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints`` (scikit-learn template).

        Structured parameters (``elastic_net``, per-layer ``dropout``, ``hidden_layer_sizes``)
        are checked here first, in the same template, since the table only knows scalars.
        """
        owner = type(self).__name__
        pair = self.elastic_net
        if pair is not None and not _is_pair(pair):
            raise InvalidParameterError(
                f"The 'elastic_net' parameter of {owner} must be None or a pair (alpha, "
                f"l1_ratio) with alpha in [0, inf) and l1_ratio in [0, 1]. Got {pair!r} instead."
            )
        if not self._linear:
            self._validate_layers(owner)
        try:
            validate_parameter_constraints(
                self._parameter_constraints, self.get_params(deep=False), caller_name=owner
            )
        except _SkParameterError as error:
            message = str(error)
            found = re.match(r"The '(\w+)' parameter", message)
            value = getattr(self, found.group(1), None) if found else None
            for constraint in self._parameter_constraints.get(found.group(1) if found else "", []):
                if isinstance(constraint, StrOptions) and isinstance(value, str):
                    message += did_you_mean(value, sorted(constraint.options))
            raise InvalidParameterError(message) from None

    def _validate_layers(self, owner: str) -> None:
        sizes = self.hidden_layer_sizes  # type: ignore[attr-defined]
        values = [sizes] if isinstance(sizes, (Real, str)) else sizes
        try:
            values = list(values)
        except TypeError:
            values = [values]
        if not all(
            isinstance(s, Integral) and not isinstance(s, bool) and int(s) >= 1 for s in values
        ):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter of {owner} must be an int in the range "
                f"[1, inf) or a sequence of such ints. Got {sizes!r} instead."
            )
        dropout = self.dropout  # type: ignore[attr-defined]
        if isinstance(dropout, (Real, str)) or not isinstance(dropout, (Sequence, np.ndarray)):
            return  # scalars (and wrong types) are left to the table
        rates = list(dropout)
        if not all(_is_rate(r) for r in rates) or len(rates) != len(values):
            raise InvalidParameterError(
                f"The 'dropout' parameter of {owner} must be a float in the range [0.0, 1.0) "
                f"or one such float per hidden layer ({len(values)}). Got {dropout!r} instead."
            )

    def _hidden_sizes(self) -> tuple[int, ...]:
        if self._linear:
            return ()
        sizes = self.hidden_layer_sizes  # type: ignore[attr-defined]
        return (int(sizes),) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)

    # -- building ----------------------------------------------------------------------------
    def _penalties(self) -> list[Penalty]:
        penalties: list[Penalty] = []
        if self.l1 > 0:
            penalties.append(L1(float(self.l1), proximal=self.prox_l1))
        if self.l2 > 0:
            penalties.append(L2(float(self.l2)))
        if self.elastic_net is not None:
            alpha, ratio = self.elastic_net
            penalties.append(ElasticNet(float(alpha), float(ratio), proximal=self.prox_l1))
        if self.weight_decay > 0:
            penalties.append(WeightDecay(float(self.weight_decay)))
        return penalties

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> MLP:
        if self._linear:
            return LinearModel(
                n_features,
                n_outputs,
                task=self._task,
                input_dropout=float(self.input_dropout),
                seed=seed,
            )
        dropout = self.dropout  # type: ignore[attr-defined]
        batchnorm = self.batchnorm  # type: ignore[attr-defined]
        return MLP(
            [n_features, *self._hidden_sizes(), n_outputs],
            activation=self.activation,  # type: ignore[attr-defined]
            dropout=float(dropout) if isinstance(dropout, Real) else [float(r) for r in dropout],
            input_dropout=float(self.input_dropout),
            batchnorm=bool(batchnorm) if isinstance(batchnorm, bool) else list(batchnorm),
            task=self._task,
            seed=seed,
        )

    def _seeds(self) -> tuple[int, int, int]:
        """Seeds for initialization, training (shuffling, dropout) and the validation split."""
        base = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        init, fit, split = np.random.SeedSequence(base).generate_state(3)
        return int(init), int(fit), int(split)

    def _feature_names(self) -> list[str] | None:
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else [str(n) for n in names]

    # -- training ----------------------------------------------------------------------------
    def _run(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None,
        y_val: np.ndarray | None,
        *,
        epochs: int,
        early_stopping: bool,
    ) -> Any:
        """Train ``model_`` in place with the trainer, from ``_train_state``; return the
        :class:`~regulab.training.FitResult`."""
        _, fit_seed, split_seed = self._seeds()
        callbacks = []
        holdout = 0.0
        if early_stopping:
            callbacks.append(EarlyStopping(self.monitor, patience=int(self.patience)))
            if X_val is None and self.monitor.startswith("val_"):
                holdout = float(self.validation_fraction)
        state = self._train_state
        if state.optimizer not in (None, self.optimizer):
            state = TrainState()  # set_params changed the optimizer: fresh moments
        (result,) = train_many(
            [Member(self.model_, self._penalties(), callbacks, fit_seed, state)],
            X,
            y,
            X_val,
            y_val,
            optimizer=self.optimizer,
            lr=float(self.learning_rate),
            epochs=epochs,
            batch_size=int(self.batch_size),
            validation_split=holdout,
            split_seed=split_seed,
            device=self.device,
            verbose=int(self.verbose),
            feature_names=self._feature_names(),
            n_classes=len(self.classes_) if self._task == "classification" else None,
        )
        self._train_state = result.state or TrainState()
        return result

    def _train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None,
        y_val: np.ndarray | None,
        n_outputs: int,
    ) -> None:
        """Build a fresh model and train it for ``epochs``."""
        self._start(X.shape[1], n_outputs)
        result = self._run(
            X, y, X_val, y_val, epochs=int(self.epochs), early_stopping=bool(self.early_stopping)
        )
        self.history_ = result.history
        self.stop_reason_ = result.stop_reason
        self.stop_message_ = result.stop_message
        self.best_epoch_ = result.best_epoch
        self.n_iter_ = result.epochs_run
        self._set_model_attributes()

    @torch.no_grad()
    def _set_model_attributes(self) -> None:
        """Derive ``sparsity_`` and ``coef_``/``intercept_`` or ``feature_importances_``."""
        model = self.model_
        self.sparsity_ = sparsity(model, self._feature_names())
        state = model.state_dict()
        weight = state["linears.0.weight"].detach().cpu().double().numpy()
        if self._linear:
            bias = state["linears.0.bias"].detach().cpu().double().numpy()
            if "target_scale" in state:  # the head's scaling, folded in: the target's units
                scale = state["target_scale"].double().numpy()
                weight = weight * scale[:, None]
                bias = bias * scale + state["target_mean"].double().numpy()
            self.coef_: np.ndarray = weight.copy()
            self.intercept_: np.ndarray | float = bias.copy()
            if self._task == "regression" and not getattr(self, "_y_2d", False):
                self.coef_, self.intercept_ = weight[0].copy(), float(bias[0])
        else:
            norms = np.linalg.norm(weight, axis=0)
            total = norms.sum()
            self.feature_importances_ = norms / total if total > 0 else norms

    def _partial_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        """One epoch over ``(X, y)``: the training step of ``fit``, continued."""
        result = self._run(_float_features(X), y, None, None, epochs=1, early_stopping=False)
        self.n_iter_ = int(self.n_iter_) + 1
        self._set_model_attributes()
        self.history_.append({**result.history[0], "epoch": self.n_iter_})
        self.stop_reason_ = StopReason.MAX_EPOCHS
        self.stop_message_ = "partial_fit trained one epoch"
        self.best_epoch_ = None

    def _start(self, n_features: int, n_outputs: int) -> None:
        """A fresh model, history and training state."""
        init_seed, _, _ = self._seeds()
        self.model_ = self._build_model(n_features, n_outputs, init_seed)
        self.model_.eval()
        self.history_ = History()
        self.n_iter_ = 0
        self._train_state = TrainState()

    def _raw_scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return _scores64(self.model_, X)

    # -- saving ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted estimator to one safe file (see :func:`regulab.io.save`).

        Parameters
        ----------
        path : str or path-like
            Destination, conventionally ``*.safetensors``.

        Returns
        -------
        Path
            The path written.

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = X[:, 0] > 0
        >>> clf = RegularizedLinearClassifier(epochs=2, random_state=0).fit(X, y)
        >>> path = clf.save(tempfile.mkdtemp() + "/clf.safetensors")
        """
        return io.save(self, path)

    def _file_entry(self) -> tuple[MLP, dict[str, Any]]:
        """What a model file stores (:func:`regulab._format.register`'s protocol)."""
        check_is_fitted(self, "model_")
        return self.model_, {"params": self._export_params(), "state": self._export_state()}

    @classmethod
    def _from_file_entry(cls, entry: dict[str, Any], model: MLP) -> Any:
        """Rebuild a fitted estimator from :meth:`_file_entry`'s entry and the model."""
        estimator = cls(**cls._import_params(dict(entry["params"])))
        estimator._validate_params()
        estimator._import_state(entry["state"], model)
        sizes = model.architecture.sizes
        outputs = estimator._n_outputs()
        if sizes[0] != estimator.n_features_in_ or sizes[-1] != outputs:
            raise ModelFileError(
                f"The model file is inconsistent: the model maps {sizes[0]} inputs to "
                f"{sizes[-1]} outputs but the estimator state says "
                f"{estimator.n_features_in_} and {outputs}."
            )
        return estimator

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _export_state(self) -> dict[str, Any]:
        """JSON-safe fitted state (everything except the weights)."""
        check_is_fitted(self, "model_")
        state: dict[str, Any] = {
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": self._feature_names(),
            "history": self.history_.to_list(),
            "stop_reason": self.stop_reason_.value,
            "stop_message": self.stop_message_,
            "best_epoch": self.best_epoch_,
            "n_iter": int(self.n_iter_),
        }
        return state

    def _import_state(self, state: dict[str, Any], model: MLP) -> None:
        self.model_ = model
        self.n_features_in_ = int(state["n_features_in"])
        if state.get("feature_names_in") is not None:
            self.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        self.history_ = History(state.get("history") or [])
        self.stop_reason_ = StopReason(state["stop_reason"])
        self.stop_message_ = str(state.get("stop_message", ""))
        self.best_epoch_ = state.get("best_epoch")
        self.n_iter_ = int(state["n_iter"])
        self._train_state = TrainState()  # the optimizer's moments are not saved

    def _export_params(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        if not isinstance(params.get("random_state"), (int, type(None))):
            params["random_state"] = None  # a RandomState instance is not JSON
        if isinstance(params.get("device"), torch.device):
            params["device"] = str(params["device"])
        return _json_safe(params)

    @classmethod
    def _import_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        known = cls().get_params(deep=False)
        clean = {k: v for k, v in params.items() if k in known}
        for key in ("hidden_layer_sizes", "dropout", "elastic_net", "batchnorm"):
            if isinstance(clean.get(key), list):
                clean[key] = tuple(clean[key])
        return clean


# -- classifiers ------------------------------------------------------------------------------
class _RegularizedClassifier(ClassifierMixin, _RegularizedEstimator):
    _task = "classification"
    classes_: np.ndarray

    def _encode(self, y: np.ndarray, name: str) -> np.ndarray:
        known = np.isin(y, self.classes_)
        if not known.all():
            unseen = np.unique(np.asarray(y)[~known])[:10].tolist()
            raise DataError(
                f"{name} holds labels {unseen} not among the classes "
                f"{self.classes_.tolist()} of {type(self).__name__}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _check_y(self, y: np.ndarray) -> None:
        check_classification_targets(y)

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> Any:
        """Train a new model on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type (strings, ints...).
        X_val, y_val : array-like, optional
            Validation data for early stopping and the history. Without them and with
            ``early_stopping=True``, ``validation_fraction`` of ``(X, y)`` is held out,
            stratified.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self._check_y(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        codes = codes.astype(np.int64).reshape(-1)
        if len(self.classes_) < 2:
            raise DataError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        val_X, val_y = self._validation(X_val, y_val)
        self._train(_float_features(X), codes, val_X, val_y, self._n_outputs())
        return self

    def _validation(self, X_val: Any, y_val: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        if X_val is None and y_val is None:
            return None, None
        if X_val is None or y_val is None:
            raise DataError("X_val and y_val go together; pass both or neither.")
        X_v = validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32])
        y_v = np.asarray(y_val).reshape(-1)
        if len(y_v) != len(X_v):
            raise DataError(f"y_val has {len(y_v)} rows but X_val has {len(X_v)}.")
        return _float_features(X_v), self._encode(y_v, "y_val")

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        """Train one more epoch on ``(X, y)``, keeping the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, optional
            Every class the estimator will ever see; required on the first call.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=first)
        self._check_y(y)
        if first:
            if classes is None:
                raise DataError(
                    f"{type(self).__name__}.partial_fit needs 'classes' (all labels) on its "
                    "first call."
                )
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise DataError(
                    f"{type(self).__name__} needs at least 2 classes; 'classes' holds 1 class."
                )
            self._start(X.shape[1], self._n_outputs())
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise DataError(
                f"'classes' {np.unique(classes).tolist()} differs from the classes_ "
                f"{self.classes_.tolist()} of the first call."
            )
        self._partial_epoch(X, self._encode(y, "y"))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores: logits of the positive class (n,) for two classes, else (n, C).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = X[:, 0] > 0
        >>> RegularizedLinearClassifier(epochs=2, random_state=0).fit(X, y).decision_function(
        ...     X).shape
        (40,)
        """
        scores = self._raw_scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, C) in the order of ``classes_``."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, scores), -np.logaddexp(0.0, -scores)])
        shifted = scores - scores.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (from ``classes_``)."""
        scores = self.decision_function(X)
        codes = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[codes]

    def _export_state(self) -> dict[str, Any]:
        state = super()._export_state()
        state["classes"] = {"values": _json_safe(self.classes_), "dtype": self.classes_.dtype.str}
        return state

    def _import_state(self, state: dict[str, Any], model: MLP) -> None:
        classes = state["classes"]
        dtype = np.dtype(classes["dtype"])
        if dtype.kind not in "biufUO":
            raise DataError(f"Unsupported class label dtype {classes['dtype']!r}.")
        self.classes_ = np.asarray(classes["values"], dtype=dtype)
        super()._import_state(state, model)
        self._set_model_attributes()


# -- regressors -------------------------------------------------------------------------------
class _RegularizedRegressor(RegressorMixin, _RegularizedEstimator):
    _task = "regression"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # pragma: no cover - scikit-learn < 1.6
        return {"multioutput": True}

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(y, dtype=np.float32)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> Any:
        """Train a new model on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        X_val, y_val : array-like, optional
            Validation data for early stopping and the history. Without them and with
            ``early_stopping=True``, ``validation_fraction`` of ``(X, y)`` is held out.

        Returns
        -------
        self
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True
        )
        self._y_2d = y.ndim == 2
        self.n_outputs_ = y.shape[1] if y.ndim == 2 else 1
        val_X, val_y = self._validation(X_val, y_val)
        self._train(_float_features(X), self._targets(y), val_X, val_y, self.n_outputs_)
        return self

    def _n_outputs(self) -> int:
        return int(self.n_outputs_)

    def _validation(self, X_val: Any, y_val: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        if X_val is None and y_val is None:
            return None, None
        if X_val is None or y_val is None:
            raise DataError("X_val and y_val go together; pass both or neither.")
        X_v = validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32])
        given = np.asarray(y_val, dtype=np.float32)
        table = given.reshape(len(given), -1) if given.ndim else given.reshape(1, 1)
        if table.shape != (len(X_v), self.n_outputs_):
            raise DataError(
                f"y_val has shape {given.shape} but X_val has {len(X_v)} rows and "
                f"{type(self).__name__} was fitted on {self.n_outputs_} target(s)."
            )
        return _float_features(X_v), np.ascontiguousarray(table if self._y_2d else table[:, 0])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any) -> Any:
        """Train one more epoch on ``(X, y)``, keeping the current weights.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
            reset=first,
        )
        n_outputs = y.shape[1] if y.ndim == 2 else 1
        if first:
            self._y_2d = y.ndim == 2
            self.n_outputs_ = n_outputs
            self._start(X.shape[1], n_outputs)
        elif n_outputs != self.n_outputs_:
            raise DataError(
                f"y has {n_outputs} target column(s) but the first call had {self.n_outputs_}."
            )
        self._partial_epoch(X, self._targets(y))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: (n,) for a 1-D training target, (n, n_targets) for 2-D."""
        scores = self._raw_scores(X)
        return scores if self._y_2d else scores[:, 0]

    def _export_state(self) -> dict[str, Any]:
        state = super()._export_state()
        state.update(y_2d=bool(self._y_2d), n_outputs=int(self.n_outputs_))
        return state

    def _import_state(self, state: dict[str, Any], model: MLP) -> None:
        self._y_2d = bool(state["y_2d"])
        self.n_outputs_ = int(state["n_outputs"])
        super()._import_state(state, model)
        self._set_model_attributes()


# -- documentation shared by the four classes -------------------------------------------------
_PENALTY_DOC = """\
    input_dropout : float, default=0.0
        Dropout rate on the input features, in [0, 1).
    l1 : float, default=0.0
        Lasso strength ``l1 * sum(|w|)`` on the weight matrices (biases are not penalized).
    l2 : float, default=0.0
        Ridge strength ``l2 * sum(w ** 2)``.
    elastic_net : tuple (alpha, l1_ratio), optional
        Elastic net ``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)``.
    weight_decay : float, default=0.0
        Decoupled decay: ``w <- w - learning_rate * weight_decay * w`` with each step
        (before the update, as in AdamW).
    prox_l1 : bool, default=False
        Apply the L1 parts (``l1`` and ``elastic_net``) by soft-thresholding after each
        step, which gives exact zeros (useful with ``SelectFromModel``).
    early_stopping : bool, default=False
        Stop when ``monitor`` has not improved for ``patience`` epochs and restore the
        best epoch's weights.
    monitor : str, default="val_loss"
        ``val_loss``, ``val_accuracy``, ``val_f1_macro``, ``val_roc_auc`` (binary),
        ``val_mse``, ``val_mae``, ``val_r2`` or ``loss``.
    patience : int, default=5
        Epochs without improvement before stopping.
    validation_fraction : float, default=0.1
        Share of the rows given to ``fit`` held out for ``val_*`` monitors when no
        ``X_val``/``y_val`` is passed, in (0, 1).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``adamw`` without ``weight_decay`` decays at 0.01; ``sgd`` uses momentum 0.9.
    learning_rate : float, default=1e-3
    epochs : int, default=50
        Maximum number of epochs.
    batch_size : int, default=32
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, shuffling, dropout masks and the validation split.
    device : str, default="auto"
        Where training runs (``"auto"`` picks CUDA when available); the fitted model is
        kept on the CPU.
    verbose : int, default=0
        1 shows a progress bar.
"""

_MLP_DOC = """\
    hidden_layer_sizes : int or tuple of int, default=(128, 64)
        Width of each hidden layer.
    activation : str, default="relu"
        One of ``relu, gelu, tanh, sigmoid, elu, leaky_relu, silu``.
    dropout : float or tuple of float, default=0.0
        Dropout rate after each hidden layer (one value for all or one per layer), in [0, 1).
    batchnorm : bool or tuple of int, default=False
        Batch normalization after every hidden layer, or after the listed (0-based) ones.
"""

_FITTED_DOC = """\
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names (a DataFrame).
    model_ : regulab.models.MLP
        The trained torch module (on the CPU, eval mode).
    history_ : regulab.training.History
        One record per epoch (``loss``, ``val_*``, ``penalty``, ``sparsity``, ``seconds``).
    stop_reason_ : regulab.training.StopReason
    stop_message_ : str
    best_epoch_ : int or None
        Epoch whose weights were restored by early stopping.
    n_iter_ : int
        Epochs run.
    sparsity_ : regulab.penalties.SparsityReport
        Exact zeros per layer, in total, and the input features whose weights are all zero.
"""


# -- the four public estimators -----------------------------------------------------------------
def _store_arguments(estimator: Any, arguments: dict[str, Any]) -> None:
    """Store each constructor argument under its own name (all ``__init__`` does)."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


class _MLPParameters:
    """The constructor of the MLP estimators: it only stores its arguments (scikit-learn's
    contract; they are validated at fit time)."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (128, 64),
        *,
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        batchnorm: bool | Sequence[int] = False,
        l1: float = 0.0,
        l2: float = 0.0,
        elastic_net: tuple[float, float] | None = None,
        weight_decay: float = 0.0,
        prox_l1: bool = False,
        early_stopping: bool = False,
        monitor: str = "val_loss",
        patience: int = 5,
        validation_fraction: float = 0.1,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 32,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        _store_arguments(self, locals())


class _LinearParameters:
    """The constructor of the linear estimators: it only stores its arguments."""

    def __init__(
        self,
        *,
        input_dropout: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
        elastic_net: tuple[float, float] | None = None,
        weight_decay: float = 0.0,
        prox_l1: bool = False,
        early_stopping: bool = False,
        monitor: str = "val_loss",
        patience: int = 5,
        validation_fraction: float = 0.1,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 32,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        _store_arguments(self, locals())


@register
class RegularizedMLPClassifier(_MLPParameters, _RegularizedClassifier):
    __doc__ = f"""Multi-layer perceptron classifier with Regulab's regularization.

    Parameters
    ----------
{_MLP_DOC}{_PENALTY_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
{_FITTED_DOC}    feature_importances_ : ndarray of shape (n_features,)
        L2 norm of each input's first-layer weights, normalized to sum to 1.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((16,), l2=1e-4, learning_rate=1e-2, epochs=20,
    ...                                random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", True)


@register
class RegularizedMLPRegressor(_MLPParameters, _RegularizedRegressor):
    __doc__ = f"""Multi-layer perceptron regressor with Regulab's regularization.

    Parameters
    ----------
{_MLP_DOC}{_PENALTY_DOC}
    Attributes
    ----------
    n_outputs_ : int
{_FITTED_DOC}    feature_importances_ : ndarray of shape (n_features,)
        L2 norm of each input's first-layer weights, normalized to sum to 1.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=100, n_features=4, noise=1.0, random_state=0)
    >>> reg = RegularizedMLPRegressor((16,), epochs=3, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("regression", True)


@register
class RegularizedLinearClassifier(_LinearParameters, _RegularizedClassifier):
    __doc__ = f"""Logistic regression (binary or multinomial) with Regulab's regularization.

    Parameters
    ----------
{_PENALTY_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{_FITTED_DOC}
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = RegularizedLinearClassifier(l1=1e-3, prox_l1=True, epochs=5,
    ...                                   random_state=0).fit(scale(X), y)
    >>> clf.coef_.shape
    (1, 30)
    """

    _linear = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", False)


@register
class RegularizedLinearRegressor(_LinearParameters, _RegularizedRegressor):
    __doc__ = f"""Linear regression with Regulab's regularization (lasso, ridge, elastic net).

    Parameters
    ----------
{_PENALTY_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_outputs_ : int
{_FITTED_DOC}
    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> y = X @ [2.0, 0.0, -1.0] + 0.5
    >>> reg = RegularizedLinearRegressor(l1=1e-3, prox_l1=True, learning_rate=0.05,
    ...                                  epochs=30, random_state=0).fit(X, y)
    >>> np.round(reg.coef_, 1).tolist()
    [2.0, 0.0, -1.0]
    """

    _linear = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("regression", False)


ESTIMATORS: dict[str, type[_RegularizedEstimator]] = {
    cls.__name__: cls
    for cls in (
        RegularizedMLPClassifier,
        RegularizedMLPRegressor,
        RegularizedLinearClassifier,
        RegularizedLinearRegressor,
    )
}
"""The estimator classes by name (each registered for :func:`regulab.io.load`)."""
