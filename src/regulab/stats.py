"""The one statistics engine: means and intervals over seeds, the direction of a metric, and
how a best value, its ties and the preferred choice are picked.

``experiment`` (compare, paths, curves), ``advise`` and ``report`` all choose through this
module, so they cannot disagree. Every choice is made on *validation* figures (or
cross-validation folds); test figures are reported beside them and never passed here to
choose.

The rules:

- **Finite only.** A value that is NaN or infinite (a diverged run) is never best; a
  candidate with any non-finite value is *diverged* and takes no part in the choice.
- **Best**: the best mean (higher or lower is better by the metric's name, see
  :func:`higher_is_better`). Equal means go to the simpler candidate.
- **Ties, one-standard-error rule** (the default, glmnet's ``lambda.1se``): a candidate ties
  with the best when its mean is no worse than the best mean minus the best's standard error.
- **Ties, equivalence test** (optional): a paired TOST over shared seeds with a stated
  ``margin`` shows the two within ``margin`` at level ``alpha``. "Not significantly
  different" (a p-value above 0.05) is never a tie: with few seeds it ties almost anything.
- **Preferred**: the simplest candidate among the best and its ties.

Examples
--------
>>> from regulab.stats import mean_ci, one_se_rule
>>> [round(v, 3) for v in mean_ci([1.0, 2.0, 3.0])]
[2.0, 2.484, 0.577]
>>> one_se_rule([1.0, 0.1, 0.01], [0.80, 0.88, 0.90], [0.01, 0.01, 0.03])
(0.01, 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import stats as _scipy

from regulab.errors import InvalidParameterError, check_range

__all__ = [
    "LOWER_IS_BETTER",
    "HIGHER_IS_BETTER",
    "TIE_RULES",
    "MeanCI",
    "Choice",
    "finite",
    "mean_ci",
    "higher_is_better",
    "main_metric",
    "selection_metric",
    "within_one_se",
    "tost_pvalue",
    "one_se_rule",
    "choose",
    "check_tie_rule",
]

#: Metric names (or suffixes) where a smaller value is better.
LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse")
#: Metric names (or suffixes) where a larger value is better.
HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "r2")
#: Tie rules :func:`choose` knows: ``"se"`` (one standard error) and ``"tost"``.
TIE_RULES = ("se", "tost")

# Rounding noise of means (0.9 - 0.8 != 0.8 - 0.7) must not decide a tie.
_ROUNDING = 1e-12


class MeanCI(NamedTuple):
    """Mean over seeds, half-width of its two-sided t confidence interval, standard error.

    ``half_width`` and ``se`` are NaN with fewer than two finite values; all three are NaN
    with none.
    """

    mean: float
    half_width: float
    se: float

    @property
    def low(self) -> float:
        """Lower bound of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper bound of the interval."""
        return self.mean + self.half_width


class Choice(NamedTuple):
    """What :func:`choose` picked.

    Attributes
    ----------
    best : hashable or None
        Candidate with the best mean (None when every candidate diverged).
    tied : list
        Candidates tied with the best (the best excluded), in input order.
    preferred : hashable or None
        The simplest among the best and its ties.
    diverged : list
        Candidates with a non-finite (or no) value, in input order; never chosen.
    """

    best: Hashable | None
    tied: list[Hashable]
    preferred: Hashable | None
    diverged: list[Hashable]


def finite(values: Iterable[float | None]) -> list[float]:
    """The finite numbers of ``values`` (drops None, NaN and infinities).

    Examples
    --------
    >>> finite([1.0, None, float("nan"), 2])
    [1.0, 2.0]
    """
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_ci(values: Iterable[float | None], confidence: float = 0.95) -> MeanCI:
    """Mean, half-width of the two-sided t-interval and standard error over finite values.

    ``se = std(ddof=1) / sqrt(n)`` and the half-width is ``t_{(1+confidence)/2, n-1} * se``;
    None and non-finite values are left out (count them with :func:`finite` to detect
    divergence).

    Parameters
    ----------
    values : iterable of float
        One value per seed (or fold).
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).

    Returns
    -------
    MeanCI

    Examples
    --------
    >>> ci = mean_ci([1.0, 2.0, 3.0, None])
    >>> round(ci.mean, 3), round(ci.half_width, 3), round(ci.se, 3), round(ci.low, 3)
    (2.0, 2.484, 0.577, -0.484)
    """
    check_range(
        "confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True, owner="mean_ci"
    )
    sample = np.asarray(finite(values), dtype=np.float64)
    if sample.size == 0:
        return MeanCI(math.nan, math.nan, math.nan)
    mean = float(sample.mean())
    if sample.size < 2:
        return MeanCI(mean, math.nan, math.nan)
    se = float(sample.std(ddof=1) / math.sqrt(sample.size))
    quantile = float(_scipy.t.ppf(0.5 + confidence / 2.0, sample.size - 1))
    return MeanCI(mean, quantile * se, se)


def higher_is_better(metric: str) -> bool:
    """Direction of a metric, from its name: losses and errors are lower-is-better.

    Examples
    --------
    >>> higher_is_better("val_accuracy"), higher_is_better("val_loss"), higher_is_better("mse")
    (True, False, False)
    """
    return not metric.endswith(LOWER_IS_BETTER)


def main_metric(task: str) -> tuple[str, bool]:
    """The headline *test* metric, reported beside every choice, and its direction.

    Examples
    --------
    >>> main_metric("classification"), main_metric("regression")
    (('test_accuracy', True), ('test_r2', True))
    """
    return ("test_accuracy", True) if task == "classification" else ("test_r2", True)


def selection_metric(task: str) -> tuple[str, bool]:
    """The *validation* metric every choice is made on, and its direction.

    The validation twin of :func:`main_metric`, read at the weights each run returns.

    Examples
    --------
    >>> selection_metric("classification"), selection_metric("regression")
    (('val_accuracy', True), ('val_r2', True))
    """
    test, higher = main_metric(task)
    return "val_" + test.removeprefix("test_"), higher


def within_one_se(mean: float, best_mean: float, best_se: float, *, higher: bool = True) -> bool:
    """Whether ``mean`` is no worse than ``best_mean`` by more than ``best_se``.

    A NaN standard error counts as 0 (a single seed): only an equal mean is within.

    Examples
    --------
    >>> within_one_se(0.88, 0.90, 0.03), within_one_se(0.86, 0.90, 0.03)
    (True, False)
    >>> within_one_se(0.33, 0.30, 0.05, higher=False)
    True
    """
    sign = 1.0 if higher else -1.0
    se = best_se if math.isfinite(best_se) else 0.0
    return sign * (best_mean - mean) <= se + _ROUNDING * max(1.0, abs(best_mean))


def tost_pvalue(a: Sequence[float], b: Sequence[float], margin: float) -> float:
    """p-value of the paired two one-sided tests (TOST) that ``a`` and ``b`` are equivalent.

    The null hypothesis is ``|mean(a - b)| >= margin``; a p-value below ``alpha`` shows the
    two equivalent within ``margin``. It is the larger of the one-sided paired t-tests of
    ``mean(a - b) > -margin`` and ``mean(a - b) < margin``. NaN with fewer than two pairs.
    When every difference is equal the t statistic is infinite: 0.0 when that difference
    lies inside the margin, 1.0 otherwise.

    Parameters
    ----------
    a, b : sequence of float
        Paired values (same seeds, same order).
    margin : float
        Equivalence margin in the metric's units, > 0.

    Examples
    --------
    >>> p = tost_pvalue([0.90, 0.91, 0.92, 0.93], [0.905, 0.90, 0.925, 0.925], margin=0.02)
    >>> round(p, 4)
    0.0077
    """
    check_range("margin", margin, low=0.0, low_open=True, owner="tost_pvalue")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.size < 2:
        return math.nan
    scale = max(float(np.abs(diff).max()), 1e-300)
    if float(diff.std(ddof=1)) <= _ROUNDING * scale:
        return 0.0 if abs(float(diff.mean())) < margin else 1.0
    lower = _scipy.ttest_1samp(diff, -margin, alternative="greater").pvalue
    upper = _scipy.ttest_1samp(diff, margin, alternative="less").pvalue
    return float(max(lower, upper))


def one_se_rule(
    values: Sequence[float],
    means: Sequence[float],
    ses: Sequence[float],
    *,
    higher_is_better: bool = True,
    prefer: str = "largest",
) -> tuple[float, float]:
    """The value with the best mean, and the simplest value within one SE of it (glmnet).

    glmnet's ``lambda.min``/``lambda.1se``: the best point has the best mean, equal means going
    to the simpler value (glmnet: the largest lambda); the choice is the simplest value whose
    mean is within one standard error of the best mean, that standard error being the best
    point's (:func:`within_one_se`).

    Parameters
    ----------
    values : sequence of float
        The swept values (strengths, rates, patiences).
    means, ses : sequence of float
        Mean validation metric and its standard error per value. Non-finite means (diverged)
        are never chosen; a NaN standard error counts as 0.
    higher_is_better : bool, default=True
    prefer : {"largest", "smallest"}, default="largest"
        Which end is simpler: ``"largest"`` for a penalty strength, ``"smallest"`` for a
        dropout rate or a patience.

    Returns
    -------
    tuple of float
        ``(best, one_se)``; both NaN when no mean is finite.

    Examples
    --------
    >>> one_se_rule([1.0, 0.1, 0.01, 0.001], [0.50, 0.88, 0.90, 0.89], [0.01, 0.01, 0.03, 0.01])
    (0.01, 0.1)
    >>> one_se_rule([0.0, 0.2, 0.5], [0.80, 0.84, 0.85], [0.02, 0.02, 0.02], prefer="smallest")
    (0.5, 0.2)
    """
    if prefer not in ("largest", "smallest"):
        raise InvalidParameterError(
            f"The 'prefer' parameter of one_se_rule must be one of largest, smallest. "
            f"Got {prefer!r} instead."
        )
    if not len(values) == len(means) == len(ses):
        raise InvalidParameterError(
            f"one_se_rule needs as many means and standard errors as values; got "
            f"{len(values)} values, {len(means)} means and {len(ses)} standard errors."
        )
    sign = -1.0 if prefer == "largest" else 1.0  # simpler first when sorted ascending
    samples = {float(v): [float(m)] for v, m in zip(values, means)}
    spread = {float(v): float(e) for v, e in zip(values, ses)}
    choice = choose(
        samples,
        higher_is_better=higher_is_better,
        simplicity=lambda v: sign * float(v),
        ses=spread,
    )
    if choice.best is None:
        return math.nan, math.nan
    return float(choice.best), float(choice.preferred)  # type: ignore[arg-type]


def choose(
    samples: Mapping[Any, Sequence[float] | Mapping[Any, float]],
    *,
    higher_is_better: bool = True,
    simplicity: Callable[[Any], Any] | None = None,
    tie_rule: str = "se",
    margin: float | None = None,
    alpha: float = 0.05,
    ses: Mapping[Any, float] | None = None,
) -> Choice:
    """Pick the best candidate, its ties and the preferred one from validation figures.

    Parameters
    ----------
    samples : mapping
        Candidate -> its values, one per seed or fold: a sequence, or a mapping seed -> value
        (the equivalence test pairs values by seed). A candidate with a non-finite value, or
        none, is diverged.
    higher_is_better : bool, default=True
    simplicity : callable, optional
        Sort key of a candidate, smaller is simpler; decides equal best means and the
        preferred candidate. Default: input order.
    tie_rule : {"se", "tost"}, default="se"
        ``"se"``: within one standard error of the best (:func:`within_one_se`). ``"tost"``:
        the paired equivalence test (:func:`tost_pvalue`) against the best gives
        ``p < alpha`` with ``margin``; fewer than two shared seeds is no tie.
    margin : float, optional
        Equivalence margin for ``"tost"`` (required there), in the metric's units.
    alpha : float, default=0.05
        Level of the equivalence test.
    ses : mapping, optional
        Standard error per candidate, instead of the one of its values (a path point's
        precomputed figure).

    Returns
    -------
    Choice

    Examples
    --------
    >>> samples = {"none": [0.80, 0.82, 0.81], "l2": [0.85, 0.86, 0.87], "l1": [0.85, 0.86, 0.86]}
    >>> choose(samples, simplicity=["none", "l1", "l2"].index)
    Choice(best='l2', tied=['l1'], preferred='l1', diverged=[])
    >>> choose({"a": [0.9, float("nan")], "b": [0.7, 0.8]}).best
    'b'
    """
    check_tie_rule(tie_rule, margin, alpha, owner="choose")
    order = list(samples)
    rank = simplicity or order.index
    by_seed = {c: _as_seed_map(samples[c]) for c in order}
    diverged = [
        c for c in order if not by_seed[c] or len(finite(by_seed[c].values())) < len(by_seed[c])
    ]
    alive = [c for c in order if c not in diverged]
    if not alive:
        return Choice(None, [], None, diverged)
    means = {c: mean_ci(by_seed[c].values()) for c in alive}
    sign = 1.0 if higher_is_better else -1.0
    top = max(sign * means[c].mean for c in alive)
    best = min((c for c in alive if sign * means[c].mean == top), key=rank)
    best_se = ses[best] if ses is not None else means[best].se

    def tied(candidate: Hashable) -> bool:
        if tie_rule == "se":
            return within_one_se(
                means[candidate].mean, means[best].mean, best_se, higher=higher_is_better
            )
        assert margin is not None
        shared = [seed for seed in by_seed[best] if seed in by_seed[candidate]]
        p_value = tost_pvalue(
            [by_seed[best][s] for s in shared], [by_seed[candidate][s] for s in shared], margin
        )
        return bool(math.isfinite(p_value) and p_value < alpha)

    ties = [c for c in alive if c != best and tied(c)]
    return Choice(best, ties, min([best, *ties], key=rank), diverged)


def check_tie_rule(
    tie_rule: str, margin: float | None, alpha: float = 0.05, *, owner: str = "choose"
) -> None:
    """Raise :class:`~regulab.errors.InvalidParameterError` for an unknown rule, or for
    ``"tost"`` without a positive ``margin`` or with ``alpha`` outside (0, 1).

    Examples
    --------
    >>> check_tie_rule("tost", None, owner="compare")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: The 'margin' parameter of compare must be ...
    """
    if tie_rule not in TIE_RULES:
        raise InvalidParameterError(
            f"The 'tie_rule' parameter of {owner} must be one of {', '.join(TIE_RULES)}. "
            f"Got {tie_rule!r} instead."
        )
    if tie_rule == "tost":
        if margin is None:
            raise InvalidParameterError(
                f"The 'margin' parameter of {owner} must be a float in the range (0, inf) "
                "with tie_rule='tost'. Got None instead."
            )
        check_range("margin", margin, low=0.0, low_open=True, owner=owner)
        check_range("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True, owner=owner)


def _as_seed_map(values: Sequence[float] | Mapping[Any, float]) -> dict[Any, float]:
    if isinstance(values, Mapping):
        return {k: float(v) for k, v in values.items()}
    return {i: float(v) for i, v in enumerate(values)}
