"""Exact fits of linear models in Regulab's penalty semantics, paths and cross-validation.

Where the right model is linear, training it like a network (a fixed number of Adam epochs)
stops short of the optimum the convex problem has. These solvers reach it:

- :func:`fit_linear` minimizes the trainer's mean data loss (cross-entropy, one-logit binary
  cross-entropy, or squared error) plus ``l1 * sum|W| + l2 * sum W**2`` (intercepts are not
  penalized), stopping when the largest KKT violation is at most ``tol``. Logistic losses use
  SciPy's L-BFGS-B on split weights (L-BFGS when there is no L1 term) with losses and
  gradients in PyTorch, so the products run on a GPU too; squared loss
  on the CPU uses scikit-learn's coordinate descent / Ridge with the strength mapped
  (:func:`sklearn_strength`). With column ``groups`` (one-hot columns of one original column)
  the L1 part is the group lasso ``l1 * sum_h sum_g sqrt(|g|) * ||W[h, g]||``, solved by
  accelerated proximal gradient (``"group-fista"``, PyTorch, float64, any loss).
- :func:`lambda_max`, :func:`strength_grid` and :func:`linear_path` fit a glmnet-style path,
  strongest first, warm-started, with strong-rule screening and a KKT check on all features.
- :func:`fit_model` solves one of Regulab's own linear models (a ``LinearModel`` and its
  penalties) exactly, when :func:`solvable` says it can, and loads the weights into it.
- :func:`cv_linear_path` scores the path on the same folds for every strength and reports
  λ_min and λ_1se.

Examples
--------
>>> import numpy as np
>>> from regulab.solvers import fit_linear, lambda_max
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(150, 4))
>>> y = rng.integers(0, 3, size=150)
>>> amax = lambda_max(X, y, task="multiclass")
>>> fit_linear(X, y, task="multiclass", l1=amax).n_nonzero
0
>>> fit_linear(X, y, task="multiclass", l1=0.9 * amax).n_nonzero > 0
True
"""

from regulab.solvers._cv import CVPath, cv_linear_path, pick_indices
from regulab.solvers._fit import LinearFit, elastic_net_strengths, fit_linear, sklearn_strength
from regulab.solvers._model import (
    exact_groups,
    exact_result,
    exact_strengths,
    fit_model,
    model_task,
    solvable,
)
from regulab.solvers._path import (
    LinearPath,
    PathSettings,
    lambda_max,
    linear_path,
    strength_grid,
)

__all__ = [
    "CVPath",
    "LinearFit",
    "LinearPath",
    "PathSettings",
    "cv_linear_path",
    "elastic_net_strengths",
    "exact_groups",
    "exact_result",
    "exact_strengths",
    "fit_linear",
    "fit_model",
    "lambda_max",
    "linear_path",
    "model_task",
    "pick_indices",
    "sklearn_strength",
    "solvable",
    "strength_grid",
]
