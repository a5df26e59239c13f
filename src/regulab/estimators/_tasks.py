"""Classification and regression on top of the shared machinery: ``fit``, ``partial_fit``,
validation data, predictions and what a model file stores about the targets."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils.multiclass import check_classification_targets

from regulab.errors import DataError, InvalidParameterError
from regulab.estimators._base import (
    _json_safe,
    _RegularizedEstimator,
    _scores64,
)
from regulab.models import MLP


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
        X : array-like of shape (n_samples, n_features), or a pandas DataFrame
            A DataFrame with text, ``category``, boolean or missing cells is a mixed table:
            its column kinds are inferred and a
            :class:`~regulab.tables.TablePreprocessor` (``preprocessor_``) is fitted on
            these rows; ``predict`` then takes raw frames with those columns.
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
        X, y = self._check_X_y(X, y, reset=True)
        self._check_y(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        codes = codes.astype(np.int64).reshape(-1)
        if len(self.classes_) < 2:
            raise DataError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        self._train(self._fit_arrays(X, codes, X_val, y_val), self._n_outputs())
        return self

    def _validation_targets(self, y_val: Any, X_val: np.ndarray) -> np.ndarray:
        y_v = np.asarray(y_val).reshape(-1)
        if len(y_v) != len(X_val):
            raise DataError(f"y_val has {len(y_v)} rows but X_val has {len(X_val)}.")
        return self._encode(y_v, "y_val")

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
        if self.class_weight is not None:
            raise InvalidParameterError(
                f"{type(self).__name__}.partial_fit trains on one call's rows, whose class "
                f"counts are no balance; class_weight={self.class_weight!r} needs fit (or "
                "class_weight=None)."
            )
        first = not hasattr(self, "model_")
        X, y = self._check_X_y(X, y, reset=first)
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
        >>> from regulab.estimators import RegularizedLinearClassifier
        >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = X[:, 0] > 0
        >>> RegularizedLinearClassifier(epochs=2, random_state=0).fit(X, y).decision_function(
        ...     X).shape
        (40,)
        """
        return self._decision(self._raw_scores(X))

    @staticmethod
    def _decision(scores: np.ndarray) -> np.ndarray:
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, C) in the order of ``classes_``."""
        return self._proba(self.decision_function(X))

    @staticmethod
    def _proba(scores: np.ndarray) -> np.ndarray:
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
        return self._labels(self.decision_function(X))

    def _labels(self, scores: np.ndarray) -> np.ndarray:
        codes = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[codes]

    def _predict_encoded(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and probabilities of rows already encoded by ``preprocessor_``
        (:func:`regulab.io.predict_file` encodes a file chunk by chunk)."""
        scores = self._decision(_scores64(self.model_, X))
        return self._labels(scores), self._proba(scores)

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
        X : array-like of shape (n_samples, n_features), or a pandas DataFrame
            A mixed table (text, ``category``, boolean or missing cells) is encoded by a
            :class:`~regulab.tables.TablePreprocessor` fitted on these rows
            (``preprocessor_``).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        X_val, y_val : array-like, optional
            Validation data for early stopping and the history. Without them and with
            ``early_stopping=True``, ``validation_fraction`` of ``(X, y)`` is held out.

        Returns
        -------
        self
        """
        X, y = self._check_X_y(X, y, reset=True, multi_output=True, y_numeric=True)
        self._y_2d = y.ndim == 2
        self.n_outputs_ = y.shape[1] if y.ndim == 2 else 1
        self._train(self._fit_arrays(X, self._targets(y), X_val, y_val), self.n_outputs_)
        return self

    def _n_outputs(self) -> int:
        return int(self.n_outputs_)

    def _validation_targets(self, y_val: Any, X_val: np.ndarray) -> np.ndarray:
        given = np.asarray(y_val, dtype=np.float32)
        table = given.reshape(len(given), -1) if given.ndim else given.reshape(1, 1)
        if table.shape != (len(X_val), self.n_outputs_):
            raise DataError(
                f"y_val has shape {given.shape} but X_val has {len(X_val)} rows and "
                f"{type(self).__name__} was fitted on {self.n_outputs_} target(s)."
            )
        return np.ascontiguousarray(table if self._y_2d else table[:, 0])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any) -> Any:
        """Train one more epoch on ``(X, y)``, keeping the current weights.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        X, y = self._check_X_y(X, y, reset=first, multi_output=True, y_numeric=True)
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
        return self._values(self._raw_scores(X))

    def _values(self, scores: np.ndarray) -> np.ndarray:
        return scores if self._y_2d else scores[:, 0]

    def _predict_encoded(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions of rows already encoded by ``preprocessor_`` (no probabilities)."""
        return self._values(_scores64(self.model_, X)), None

    def _export_state(self) -> dict[str, Any]:
        state = super()._export_state()
        state.update(y_2d=bool(self._y_2d), n_outputs=int(self.n_outputs_))
        return state

    def _import_state(self, state: dict[str, Any], model: MLP) -> None:
        self._y_2d = bool(state["y_2d"])
        self.n_outputs_ = int(state["n_outputs"])
        super()._import_state(state, model)
        self._set_model_attributes()
