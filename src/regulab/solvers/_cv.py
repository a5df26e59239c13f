"""Cross-validated paths: one path per fold on the same folds and strengths, λ_min and λ_1se."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from regulab.errors import InvalidParameterError
from regulab.solvers._path import PathSettings, check_strengths
from regulab.solvers._problem import Problem

SCORINGS = ("neg_log_loss", "accuracy", "neg_mean_squared_error")
RULES = ("min", "1se")


@dataclass
class CVPath:
    """Validation scores of a path on every fold (higher is better), and the two picks.

    ``best_index`` is λ_min (the best mean score); ``one_se_index`` is λ_1se (the strongest,
    so sparsest, strength whose mean score is within one standard error of the best).
    ``rule`` says which of the two ``chosen_index`` is.
    """

    strengths: np.ndarray
    l1_ratio: float
    scoring: str
    scores: np.ndarray  # (folds, steps)
    n_nonzero: np.ndarray  # (folds, steps)
    mean: np.ndarray
    se: np.ndarray
    best_index: int
    one_se_index: int
    rule: str

    @property
    def chosen_index(self) -> int:
        return self.best_index if self.rule == "min" else self.one_se_index

    @property
    def chosen_strength(self) -> float:
        return float(self.strengths[self.chosen_index])

    def summary(self) -> str:
        """Which rule chose the strength, and what the other rule would have given."""

        def line(index: int) -> str:
            return (
                f"alpha={self.strengths[index]:.4g} ({self.scoring} "
                f"{self.mean[index]:.4f} ± {self.se[index]:.4f}, "
                f"{np.mean(self.n_nonzero[:, index]):.0f} nonzero weights)"
            )

        chosen, other = ("min", "1se") if self.rule == "min" else ("1se", "min")
        other_index = self.one_se_index if self.rule == "min" else self.best_index
        return (
            f"λ_{chosen} chose {line(self.chosen_index)}; λ_{other} would give {line(other_index)}."
        )


def _score(problem: Problem, scores: torch.Tensor, scoring: str) -> float:
    targets = problem.targets
    if scoring == "neg_mean_squared_error":
        return -float((scores - targets).pow(2).mean())
    if problem.task == "binary":
        z = scores[:, 0]
        if scoring == "accuracy":
            return float(((z > 0).to(targets.dtype) == targets).double().mean())
        return -float(F.binary_cross_entropy_with_logits(z, targets))
    if scoring == "accuracy":
        return float((scores.argmax(1) == targets).double().mean())
    return -float(F.cross_entropy(scores, targets))


def _folds(folds: Any, y: np.ndarray, task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(folds, int):
        from sklearn.model_selection import KFold, StratifiedKFold

        splitter = KFold(folds) if task == "regression" else StratifiedKFold(folds)
        return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(len(y)), y)]
    return [(np.asarray(a), np.asarray(b)) for a, b in folds]


def pick_indices(mean: np.ndarray, se: np.ndarray) -> tuple[int, int]:
    """``(λ_min, λ_1se)`` indices for scores ordered strongest strength first.

    Examples
    --------
    >>> pick_indices(np.array([0.5, 0.78, 0.8, 0.79]), np.array([0.1, 0.03, 0.03, 0.03]))
    (2, 1)
    """
    best = int(np.argmax(mean))
    within = np.flatnonzero(mean[: best + 1] >= mean[best] - se[best])
    return best, int(within[0])


def cv_linear_path(
    X: Any,
    y: Any,
    folds: int | Sequence[tuple[Any, Any]],
    strengths: Any,
    *,
    task: str,
    scoring: str | None = None,
    rule: str = "min",
    encode: Callable[[np.ndarray, np.ndarray], tuple[Any, Any]] | None = None,
    **options: Any,
) -> CVPath:
    """Score the path of every strength on every fold (the same folds for all strengths).

    Parameters
    ----------
    folds : int or sequence of (train_indices, validation_indices)
        An int ``k`` uses unshuffled ``StratifiedKFold(k)`` (classification) or ``KFold(k)``.
    scoring : {"neg_log_loss", "accuracy", "neg_mean_squared_error"}, optional
        Default: ``"neg_log_loss"`` for classification, ``"neg_mean_squared_error"`` for
        regression. Fold scores are averaged unweighted; the standard error is
        ``std(ddof=1) / sqrt(folds)``.
    rule : {"min", "1se"}, default="min"
        ``"min"``: the best mean score (for prediction); ``"1se"``: the sparsest within one
        standard error (for interpretation). Both indices are reported either way.
    encode : callable, optional
        ``encode(train_indices, validation_indices) -> (X_train, X_validation)``: each fold's
        own features, e.g. a table's preprocessing refitted on the fold's training rows
        (``TableFolds.encode``), so no statistic of a fold sees its validation rows. ``X``
        then only sets the rows and columns; default: the rows of ``X``.
    options
        The keyword options of :func:`linear_path` (:class:`PathSettings`: ``l1_ratio``,
        ``groups``, ``tol``, ...), the same for every fold.

    Returns
    -------
    CVPath

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(120, 5))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> cv = cv_linear_path(X, y, 3, [0.2, 0.05, 0.01], task="binary")
    >>> cv.scores.shape, cv.rule
    ((3, 3), 'min')
    """
    default = "neg_mean_squared_error" if task == "regression" else "neg_log_loss"
    scoring = scoring or default
    allowed = ("neg_mean_squared_error",) if task == "regression" else SCORINGS[:2]
    if scoring not in allowed:
        raise InvalidParameterError(
            f"The 'scoring' parameter of cv_linear_path for task={task!r} must be one of "
            f"{', '.join(allowed)}. Got {scoring!r} instead."
        )
    if rule not in RULES:
        raise InvalidParameterError(
            f"The 'rule' parameter of cv_linear_path must be 'min' or '1se'. Got {rule!r}."
        )
    settings = PathSettings(**options)
    values = check_strengths(strengths)
    full = settings.problem(X, y, task)
    labels = full.targets.cpu().numpy()
    splits = _folds(folds, labels if task != "regression" else np.zeros(len(labels)), task)
    if len(splits) < 2:
        raise InvalidParameterError(f"cv_linear_path needs at least 2 folds. Got {len(splits)}.")
    scores = np.empty((len(splits), len(values)))
    nonzero = np.empty((len(splits), len(values)), dtype=np.int64)
    for f, (train, valid) in enumerate(splits):
        train_t = torch.as_tensor(train, device=full.X.device)
        valid_t = torch.as_tensor(valid, device=full.X.device)
        part, held = full.rows(train_t), full.rows(valid_t)
        if encode is not None:
            part.X, held.X = (
                torch.as_tensor(np.asarray(features), dtype=full.X.dtype, device=full.X.device)
                for features in encode(train, valid)
            )
        fits = settings.path(part, values)
        for s, fit in enumerate(fits):
            W = torch.as_tensor(fit.coef, dtype=full.X.dtype, device=full.X.device)
            b = torch.as_tensor(fit.intercept, dtype=full.X.dtype, device=full.X.device)
            scores[f, s] = _score(held, torch.addmm(b, held.X, W.T), scoring)
            nonzero[f, s] = fit.n_nonzero
    mean = scores.mean(0)
    se = scores.std(0, ddof=1) / np.sqrt(len(splits))
    best, one_se = pick_indices(mean, se)
    return CVPath(values, settings.l1_ratio, scoring, scores, nonzero, mean, se, best, one_se, rule)
