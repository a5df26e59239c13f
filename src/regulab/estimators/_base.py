"""The machinery the four estimators share: the parameter table and its validation,
mixed tables (a DataFrame with text, category, boolean or missing cells, encoded by a
:class:`~regulab.tables.TablePreprocessor` fitted in ``fit``), training through Regulab's
trainer, float64 scores, and saving to a model file."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils._param_validation import InvalidParameterError as _SkParameterError
from sklearn.utils.validation import _check_y, check_consistent_length, check_is_fitted

from regulab import io
from regulab._format import ModelFileError
from regulab._groups import table_group_ids
from regulab.errors import DataError, InvalidParameterError, did_you_mean
from regulab.models import ACTIVATIONS, MLP
from regulab.penalties import L1, L2, ElasticNet, Penalty, WeightDecay, sparsity
from regulab.tables import TablePreprocessor, infer_schema
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
    if task == "classification":
        table["class_weight"] = [None, StrOptions({"balanced"})]
    return table


def _is_rate(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0.0 <= float(value) < 1.0


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


def _is_mixed_table(X: Any) -> bool:
    """Whether ``X`` is a DataFrame that is not all numbers without a missing cell: a column
    of text, ``category`` or booleans, or an empty cell (such a frame goes through a
    :class:`~regulab.tables.TablePreprocessor`; an all-numeric one is used as it is)."""
    if not isinstance(X, pd.DataFrame):
        return False
    if any(is_bool_dtype(d) or not is_numeric_dtype(d) for d in X.dtypes):
        return True
    return bool(X.isna().to_numpy().any())


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as strings (how the table preprocessing names them)."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis([str(c) for c in frame.columns], axis=1)


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class FitArrays:
    """What one ``fit`` trains on: features as float32, encoded targets, and the optional
    validation part (both or neither)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


class _RegularizedEstimator(BaseEstimator):
    """Parameters, model building, training and saving shared by the four estimators."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = _constraints("classification", False)
    _task: ClassVar[str] = "classification"

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
    #: a classifier's parameter (see :func:`constructor`); a regressor weighs no classes
    class_weight: str | None = None

    # fitted
    model_: MLP
    n_features_in_: int
    preprocessor_: TablePreprocessor  # only when fitted on a mixed table
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
        self._validate_structure(owner)
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

    def _validate_structure(self, owner: str) -> None:
        """Check the structured parameters of one kind of model (the MLP's layers)."""

    # -- building ----------------------------------------------------------------------------
    def _penalties(self) -> list[Penalty]:
        # on a mixed table, L1 treats each original column's encoded columns as one unit
        table = self._table()
        groups = None if table is None else table_group_ids(table.groups_, self._n_inputs())
        penalties: list[Penalty] = []
        if self.l1 > 0:
            penalties.append(L1(float(self.l1), proximal=self.prox_l1, feature_groups=groups))
        if self.l2 > 0:
            penalties.append(L2(float(self.l2)))
        if self.elastic_net is not None:
            alpha, ratio = self.elastic_net
            penalties.append(
                ElasticNet(float(alpha), float(ratio), proximal=self.prox_l1, feature_groups=groups)
            )
        if self.weight_decay > 0:
            penalties.append(WeightDecay(float(self.weight_decay)))
        return penalties

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> MLP:
        """A fresh, untrained model for ``n_features`` inputs and ``n_outputs`` outputs."""
        raise NotImplementedError

    def _seeds(self) -> tuple[int, int, int]:
        """Seeds for initialization, training (shuffling, dropout) and the validation split."""
        base = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        init, fit, split = np.random.SeedSequence(base).generate_state(3)
        return int(init), int(fit), int(split)

    def _feature_names(self) -> list[str] | None:
        """The model's input names: the encoded columns of a table, else the fitted names."""
        table = self._table()
        if table is not None:
            return list(table.feature_names_out_)
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else [str(n) for n in names]

    def _n_inputs(self) -> int:
        """The model's input width: the encoded columns of a table, else ``n_features_in_``."""
        table = self._table()
        return int(self.n_features_in_) if table is None else int(table.n_features_out_)

    # -- features ----------------------------------------------------------------------------
    def _table(self) -> TablePreprocessor | None:
        return getattr(self, "preprocessor_", None)

    def _fit_table(self, frame: pd.DataFrame) -> np.ndarray:
        """Infer the schema of a mixed table, fit its preprocessing on these rows, encode them."""
        frame = _named(frame)
        schema = infer_schema(frame)
        if not schema.columns:
            dropped = "; ".join(f"{d.name} ({d.reason})" for d in schema.dropped)
            raise DataError(
                f"{type(self).__name__} found no usable feature column in X: every column was "
                f"dropped: {dropped}."
            )
        self.preprocessor_ = TablePreprocessor(schema).fit(frame)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self.preprocessor_.transform(frame)

    def _features(self, X: Any, *, reset: bool) -> np.ndarray | None:
        """``X`` encoded by the table preprocessing (fitted here when ``reset`` and ``X`` is a
        mixed table), or None when ``X`` takes the numeric path (``validate_data``)."""
        if reset:
            if hasattr(self, "preprocessor_"):
                del self.preprocessor_
            return self._fit_table(X) if _is_mixed_table(X) else None
        table = self._table()
        if table is None:
            return None
        if not isinstance(X, pd.DataFrame):
            names = ", ".join(table.schema.names()[:10])
            raise DataError(
                f"{type(self).__name__} was fitted on a table; pass a pandas DataFrame with its "
                f"columns ({names}), not {type(X).__name__}."
            )
        return table.transform(_named(X))

    def _check_X(self, X: Any, *, reset: bool = False) -> np.ndarray:
        """Features as the model takes them: a mixed table encoded, else ``validate_data``."""
        encoded = self._features(X, reset=reset)
        if encoded is not None:
            return encoded
        return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])

    def _check_X_y(self, X: Any, y: Any, *, reset: bool, **y_options: Any) -> tuple[Any, Any]:
        """Features (as :meth:`_check_X`) and targets checked by scikit-learn together."""
        encoded = self._features(X, reset=reset)
        if encoded is None:
            return validate_data(
                self, X, y, reset=reset, dtype=[np.float64, np.float32], **y_options
            )
        y = _check_y(y, estimator=self, **y_options)
        check_consistent_length(encoded, y)
        return encoded, y

    # -- training ----------------------------------------------------------------------------
    def _run(self, data: FitArrays, *, epochs: int, early_stopping: bool) -> Any:
        """Train ``model_`` in place with the trainer, from ``_train_state``; return the
        :class:`~regulab.training.FitResult`."""
        _, fit_seed, split_seed = self._seeds()
        callbacks = []
        holdout = 0.0
        if early_stopping:
            callbacks.append(EarlyStopping(self.monitor, patience=int(self.patience)))
            if data.X_val is None and self.monitor.startswith("val_"):
                holdout = float(self.validation_fraction)
        state = self._train_state
        if state.optimizer not in (None, self.optimizer):
            state = TrainState()  # set_params changed the optimizer: fresh moments
        (result,) = train_many(
            [Member(self.model_, self._penalties(), callbacks, fit_seed, state)],
            data.X,
            data.y,
            data.X_val,
            data.y_val,
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
            class_weight=self.class_weight,
        )
        self._train_state = result.state or TrainState()
        return result

    def _train(self, data: FitArrays, n_outputs: int) -> None:
        """Build a fresh model and train it for ``epochs``."""
        self._start(data.X.shape[1], n_outputs)
        result = self._run(data, epochs=int(self.epochs), early_stopping=bool(self.early_stopping))
        self.history_ = result.history
        self.stop_reason_ = result.stop_reason
        self.stop_message_ = result.stop_message
        self.best_epoch_ = result.best_epoch
        self.n_iter_ = result.epochs_run
        self._set_model_attributes()

    @torch.no_grad()
    def _set_model_attributes(self) -> None:
        """Derive ``sparsity_`` and the first layer's summary (:meth:`_set_weight_attributes`)."""
        table = self._table()
        groups = None if table is None else table.groups_
        self.sparsity_ = sparsity(self.model_, self._feature_names(), groups)
        self._set_weight_attributes(self.model_.state_dict())

    def _set_weight_attributes(self, state: dict[str, torch.Tensor]) -> None:
        """Set ``coef_``/``intercept_`` (linear) or ``feature_importances_`` (MLP)."""
        raise NotImplementedError

    def _partial_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        """One epoch over ``(X, y)``: the training step of ``fit``, continued."""
        result = self._run(FitArrays(_float_features(X), y), epochs=1, early_stopping=False)
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

    def _fit_arrays(self, X: np.ndarray, y: np.ndarray, X_val: Any, y_val: Any) -> FitArrays:
        """``fit``'s checked rows ``(X, y)`` (targets encoded) with its validation data,
        checked like the training data (or none)."""
        if X_val is None and y_val is None:
            return FitArrays(_float_features(X), y)
        if X_val is None or y_val is None:
            raise DataError("X_val and y_val go together; pass both or neither.")
        X_v = self._check_X(X_val)
        return FitArrays(
            _float_features(X), y, _float_features(X_v), self._validation_targets(y_val, X_v)
        )

    def _validation_targets(self, y_val: Any, X_val: np.ndarray) -> np.ndarray:
        """``y_val`` encoded as ``fit`` encodes ``y``, checked against ``X_val``'s rows."""
        raise NotImplementedError

    def _raw_scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return _scores64(self.model_, self._check_X(X))

    # -- saving ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """``regulab.io.save(self, path)``: write the fitted estimator to one safe file
        (conventionally ``*.safetensors``) and return the path written; see
        :func:`regulab.io.save` for the parameters and the format.

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from regulab.estimators import RegularizedLinearClassifier
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
        if sizes[0] != estimator._n_inputs() or sizes[-1] != outputs:
            raise ModelFileError(
                f"The model file is inconsistent: the model maps {sizes[0]} inputs to "
                f"{sizes[-1]} outputs but the estimator state says "
                f"{estimator._n_inputs()} and {outputs}."
            )
        return estimator

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _export_state(self) -> dict[str, Any]:
        """JSON-safe fitted state (everything except the weights)."""
        check_is_fitted(self, "model_")
        names = getattr(self, "feature_names_in_", None)
        table = self._table()
        state: dict[str, Any] = {
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None if names is None else [str(n) for n in names],
            "table": None if table is None else table.to_state(),
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
        if state.get("table") is not None:
            try:
                self.preprocessor_ = TablePreprocessor.from_state(state["table"])
            except DataError as error:
                raise ModelFileError(f"The model file's table preprocessing: {error}") from None
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


def _training_parameters(
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
    """The constructor parameters every Regulab estimator takes (documented in
    ``_docs._PENALTY_DOC``); :func:`constructor` adds them to each estimator's own."""


def _class_weight_parameter(*, class_weight: str | None = None) -> None:
    """A classifier's last parameter (``_docs._CLASS_WEIGHT_DOC``)."""


def constructor(own: Callable[..., None], *, classifier: bool = False) -> Callable[..., None]:
    """An ``__init__`` that only stores its arguments (scikit-learn's contract: they are
    validated at fit time), with the parameters of ``own`` (a signature-only function), then
    the shared training parameters, then ``class_weight=None`` for a ``classifier``.
    scikit-learn reads the parameters from the signature, which is set accordingly.

    Examples
    --------
    >>> def _own(*, solver: str = "auto") -> None: ...
    >>> names = list(inspect.signature(constructor(_own, classifier=True)).parameters)
    >>> names[:3], names[-1]
    (['self', 'solver', 'input_dropout'], 'class_weight')
    """
    parts: list[Callable[..., None]] = [own, _training_parameters]
    parts += [_class_weight_parameter] if classifier else []
    parameters = [p for part in parts for p in inspect.signature(part).parameters.values()]
    positional = [p for p in parameters if p.kind != inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in parameters if p.kind == inspect.Parameter.KEYWORD_ONLY]
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    signature = inspect.Signature([self_parameter, *positional, *keyword])

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        _store_arguments(self, bound.arguments)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return __init__


def _store_arguments(estimator: Any, arguments: dict[str, Any]) -> None:
    """Store each constructor argument under its own name (all ``__init__`` does)."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)
