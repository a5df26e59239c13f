"""Small statistics the report needs: t confidence intervals, paired t-tests, path lambdas."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats  # a dependency of scikit-learn, which regulab requires

__all__ = ["MeanCI", "mean_ci", "paired_t_pvalue", "path_lambdas", "finite"]


class MeanCI(NamedTuple):
    """Mean of a sample with its standard error and t confidence interval.

    Attributes
    ----------
    mean : float
        Sample mean (NaN for an empty sample).
    low, high : float
        Bounds of the confidence interval (NaN with fewer than two values).
    se : float
        Standard error of the mean, ``std(ddof=1) / sqrt(n)`` (NaN with fewer than two values).
    n : int
        Number of finite values used.
    """

    mean: float
    low: float
    high: float
    se: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the width of the interval (NaN when undefined)."""
        return (self.high - self.low) / 2.0


def finite(values: Iterable[float | None]) -> list[float]:
    """Keep the finite numbers of ``values`` (drops None, NaN and infinities).

    Examples
    --------
    >>> finite([1.0, None, float("nan"), 2])
    [1.0, 2.0]
    """
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_ci(values: Iterable[float | None], confidence: float = 0.95) -> MeanCI:
    """Mean and two-sided t-distribution confidence interval over seeds.

    Parameters
    ----------
    values : iterable of float
        One value per seed; None and non-finite values are ignored.
    confidence : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    MeanCI

    Examples
    --------
    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 3), round(ci.se, 3), round(ci.low, 3), round(ci.high, 3)
    (2.0, 0.577, -0.484, 4.484)
    """
    sample = np.asarray(finite(values), dtype=np.float64)
    n = int(sample.size)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(sample.mean())
    if n < 2:
        return MeanCI(mean, math.nan, math.nan, math.nan, 1)
    se = float(sample.std(ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * se
    return MeanCI(mean, mean - half, mean + half, se, n)


def paired_t_pvalue(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test of ``a`` against ``b`` (same seeds, same order).

    Returns NaN with fewer than two pairs; when every difference is equal the test is
    degenerate and the p-value is 1.0 for identical samples and 0.0 otherwise.

    Examples
    --------
    >>> round(paired_t_pvalue([0.90, 0.92, 0.94], [0.80, 0.83, 0.84]), 4)
    0.0012
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = first - second
    n = diff.size
    if n < 2:
        return math.nan
    sd = float(diff.std(ddof=1))
    mean = float(diff.mean())
    # rounding noise of the subtraction (0.9 - 0.8 != 0.8 - 0.7) is not variation
    tolerance = 1e-12 * max(float(np.abs(first).max()), float(np.abs(second).max()), 1e-300)
    if sd <= tolerance or not math.isfinite(sd):
        return 1.0 if abs(mean) <= tolerance else 0.0
    t_value = mean / (sd / math.sqrt(n))
    return float(2.0 * stats.t.sf(abs(t_value), n - 1))


def path_lambdas(
    strengths: Sequence[float],
    means: Sequence[float],
    ses: Sequence[float],
    *,
    higher_is_better: bool = True,
) -> tuple[float, float]:
    """``lambda_min`` and ``lambda_1se`` of a regularization path.

    ``lambda_min`` is the strength with the best mean validation metric; ``lambda_1se`` is the
    largest strength whose mean lies within one standard error (of the best point) of the
    best mean, the usual "simplest model as good as the best" rule.

    Parameters
    ----------
    strengths, means, ses : sequence of float
        One entry per path point; NaN means are never chosen, a NaN standard error at the
        best point makes ``lambda_1se`` equal ``lambda_min``.
    higher_is_better : bool, default=True
        Direction of the metric (False for a loss).

    Returns
    -------
    tuple of float
        ``(lambda_min, lambda_1se)``; both NaN when no mean is finite.

    Examples
    --------
    >>> path_lambdas([1e-4, 1e-3, 1e-2, 1e-1], [0.90, 0.93, 0.92, 0.80], [0.01] * 4)
    (0.001, 0.01)
    """
    sign = 1.0 if higher_is_better else -1.0
    points = [
        (float(s), sign * float(m), float(e))
        for s, m, e in zip(strengths, means, ses)
        if math.isfinite(float(m))
    ]
    if not points:
        return math.nan, math.nan
    best_strength, best_score, best_se = max(points, key=lambda p: (p[1], -p[0]))
    if not math.isfinite(best_se):
        return best_strength, best_strength
    within = [s for s, score, _ in points if score >= best_score - best_se - 1e-12]
    return best_strength, max(within)
