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

from regulab.estimators._base import _RegularizedEstimator
from regulab.estimators._linear import RegularizedLinearClassifier, RegularizedLinearRegressor
from regulab.estimators._mlp import RegularizedMLPClassifier, RegularizedMLPRegressor

__all__ = [
    "RegularizedMLPClassifier",
    "RegularizedMLPRegressor",
    "RegularizedLinearClassifier",
    "RegularizedLinearRegressor",
    "ESTIMATORS",
]


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
