"""The one statistics engine, checked against scipy.stats and glmnet's rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from regulab.errors import InvalidParameterError
from regulab.stats import (
    Choice,
    choose,
    finite,
    higher_is_better,
    main_metric,
    mean_ci,
    one_se_rule,
    selection_metric,
    tost_pvalue,
    within_one_se,
)


# -- means and intervals ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_mean_ci_matches_scipy(n: int, confidence: float) -> None:
    sample = np.random.default_rng(n).normal(0.8, 0.05, n)
    ci = mean_ci(sample, confidence)
    low, high = stats.t.interval(confidence, n - 1, loc=sample.mean(), scale=stats.sem(sample))
    assert ci.mean == pytest.approx(float(np.mean(sample)), rel=1e-12)
    assert ci.se == pytest.approx(float(stats.sem(sample)), rel=1e-12)
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-12)
    assert ci.half_width == pytest.approx((high - low) / 2, rel=1e-12)


def test_mean_ci_leaves_out_non_finite_values_and_is_undefined_below_two() -> None:
    ci = mean_ci([1.0, 2.0, 3.0, None, math.nan, math.inf])
    assert ci == pytest.approx(mean_ci([1.0, 2.0, 3.0]))
    assert ci.half_width == pytest.approx(stats.t.ppf(0.975, 2) / math.sqrt(3), rel=1e-12)
    single = mean_ci([0.5])
    assert single.mean == 0.5 and math.isnan(single.half_width) and math.isnan(single.se)
    assert all(math.isnan(v) for v in mean_ci([math.nan, None]))
    assert finite([1, None, -math.inf, 2.5]) == [1.0, 2.5]
    with pytest.raises(InvalidParameterError, match=r"'confidence'.*\(0, 1\)\. Got 1\.5"):
        mean_ci([1.0, 2.0], 1.5)


# -- metric names and direction -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "higher"),
    [
        ("val_accuracy", True),
        ("test_r2", True),
        ("val_f1_macro", True),
        ("val_roc_auc", True),
        ("val_loss", False),
        ("test_mse", False),
        ("val_mae", False),
        ("rmse", False),
    ],
)
def test_direction_from_the_metric_name(name: str, higher: bool) -> None:
    assert higher_is_better(name) is higher


def test_choices_use_the_validation_twin_of_the_reported_test_metric() -> None:
    assert main_metric("classification") == ("test_accuracy", True)
    assert selection_metric("classification") == ("val_accuracy", True)
    assert main_metric("regression") == ("test_r2", True)
    assert selection_metric("regression") == ("val_r2", True)


# -- the one-standard-error rule ----------------------------------------------------------------
def glmnet_opt(lambdas: np.ndarray, cvm: np.ndarray, cvsd: np.ndarray) -> tuple[float, float]:
    """glmnet's getOptcv (R), line for line: a loss, lower is better."""
    cvmin = np.nanmin(cvm)
    lambda_min = np.max(lambdas[cvm <= cvmin])
    index = int(np.flatnonzero(lambdas == lambda_min)[0])
    semin = (cvm + cvsd)[index]
    return float(lambda_min), float(np.max(lambdas[cvm <= semin]))


@pytest.mark.parametrize("seed", range(40))
def test_one_se_rule_is_glmnets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lambdas = np.geomspace(1.0, 1e-3, 12)
    # U-shaped validation loss with noise, as cross-validated paths look
    cvm = (np.log10(lambdas) + 1.5) ** 2 * 0.05 + 0.3 + rng.normal(0, 0.01, 12)
    cvsd = rng.uniform(0.002, 0.03, 12)
    expected = glmnet_opt(lambdas, cvm, cvsd)
    assert one_se_rule(list(lambdas), list(cvm), list(cvsd), higher_is_better=False) == expected
    # the same numbers as a score (higher is better) give the same choice
    assert one_se_rule(list(lambdas), list(-cvm), list(cvsd)) == expected


def test_one_se_rule_breaks_ties_toward_the_simpler_end() -> None:
    # glmnet: lambda.min is the largest lambda among equal best means
    assert one_se_rule([1.0, 0.1, 0.01], [0.9, 0.9, 0.8], [0.0, 0.0, 0.0]) == (1.0, 1.0)
    lambdas = np.array([1.0, 0.1, 0.01])
    assert glmnet_opt(lambdas, np.array([0.1, 0.1, 0.2]), np.zeros(3)) == (1.0, 1.0)
    # a rate or a patience: the simpler end is the smallest
    rule = one_se_rule([0.0, 0.2, 0.5], [0.85, 0.85, 0.80], [0.0] * 3, prefer="smallest")
    assert rule == (0.0, 0.0)


def test_one_se_rule_never_chooses_a_diverged_point() -> None:
    # 0.1 diverged and is skipped; 1.0 lies within one se of the best, 0.01
    assert one_se_rule([1.0, 0.1, 0.01], [0.65, math.nan, 0.7], [0.1] * 3) == (0.01, 1.0)
    assert one_se_rule([1.0, 0.1], [math.inf, 0.7], [0.1, math.nan]) == (0.1, 0.1)
    best, choice = one_se_rule([1.0], [math.nan], [0.0])
    assert math.isnan(best) and math.isnan(choice)


def test_one_se_rule_rejects_bad_input() -> None:
    with pytest.raises(InvalidParameterError, match="must be one of largest, smallest"):
        one_se_rule([1.0], [0.5], [0.1], prefer="middle")
    with pytest.raises(InvalidParameterError, match="2 values, 1 means and 2 standard errors"):
        one_se_rule([1.0, 2.0], [0.5], [0.1, 0.1])


def test_within_one_se() -> None:
    assert within_one_se(0.87, 0.90, 0.03)
    assert not within_one_se(0.869, 0.90, 0.03)
    assert within_one_se(0.33, 0.30, 0.03, higher=False)
    assert not within_one_se(0.34, 0.30, 0.03, higher=False)
    assert within_one_se(0.9, 0.9, math.nan) and not within_one_se(0.89, 0.9, math.nan)


# -- the equivalence test -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(10))
def test_tost_pvalue_is_the_larger_one_sided_paired_t_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.9, 0.02, 5)
    b = a + rng.normal(0.005, 0.01, 5)
    margin = 0.02
    lower = stats.ttest_rel(a + margin, b, alternative="greater").pvalue
    upper = stats.ttest_rel(a - margin, b, alternative="less").pvalue
    assert tost_pvalue(a, b, margin) == pytest.approx(max(lower, upper), rel=1e-10)


def test_tost_pvalue_by_hand_and_degenerate_cases() -> None:
    a, b = [0.90, 0.91, 0.92, 0.93], [0.905, 0.90, 0.925, 0.925]
    d = np.subtract(a, b)
    se = d.std(ddof=1) / 2.0
    t_low, t_high = (d.mean() + 0.02) / se, (d.mean() - 0.02) / se
    expected = max(stats.t.sf(t_low, 3), stats.t.cdf(t_high, 3))
    assert tost_pvalue(a, b, 0.02) == pytest.approx(expected, rel=1e-10)
    assert tost_pvalue([0.9, 0.8], [0.89, 0.79], 0.02) == 0.0  # always 0.01 apart
    assert tost_pvalue([0.9, 0.8], [0.85, 0.75], 0.02) == 1.0  # always 0.05 apart
    assert math.isnan(tost_pvalue([0.9], [0.8], 0.02))
    with pytest.raises(InvalidParameterError, match=r"'margin'.*\(0, inf\)\. Got 0\.0"):
        tost_pvalue([0.9, 0.8], [0.9, 0.8], 0.0)


# -- choosing -------------------------------------------------------------------------------------
def test_choose_best_ties_preferred_and_diverged() -> None:
    samples = {
        "none": [0.80, 0.82, 0.81],
        "l2": [0.85, 0.86, 0.87],  # best, se 0.0058
        "l1": [0.85, 0.86, 0.86],  # 0.0033 below: tied
        "dropout": [0.95, math.nan, 0.96],  # diverged on one seed
    }
    order = ["none", "l1", "l2", "dropout"]
    assert choose(samples, simplicity=order.index) == Choice("l2", ["l1"], "l1", ["dropout"])
    # lower is better: the same numbers as losses turn the choice around
    losses = choose({k: v for k, v in samples.items() if k != "dropout"}, higher_is_better=False)
    assert losses.best == "none" and losses.tied == []
    assert choose({"a": [math.nan], "b": []}) == Choice(None, [], None, ["a", "b"])


def test_choose_equal_best_means_go_to_the_simpler() -> None:
    samples = {"dropout+l2": [0.9, 0.8], "l2": [0.8, 0.9]}
    assert choose(samples).best == "dropout+l2"  # input order by default
    assert choose(samples, simplicity=lambda c: str(c).count("+")).best == "l2"


def test_choose_tost_pairs_by_seed() -> None:
    best = {0: 0.90, 1: 0.86, 2: 0.88, 3: 0.92}
    other = {3: 0.90, 2: 0.87, 1: 0.84, 0: 0.89}  # same pairs, another order
    choice = choose({"l2": best, "dropout": other}, tie_rule="tost", margin=0.05)
    assert choice.tied == ["dropout"]
    # a wide, noisy difference is never a tie, whatever its t-test p-value
    noisy = {"l2": [0.9, 0.7, 0.95, 0.6], "dropout": [0.6, 0.8, 0.7, 0.6]}
    assert stats.ttest_rel(noisy["l2"], noisy["dropout"]).pvalue > 0.05
    assert choose(noisy, tie_rule="tost", margin=0.05).tied == []
    assert choose(noisy).tied == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tie_rule": "paired_or_se"}, "must be one of se, tost. Got 'paired_or_se' instead."),
        ({"tie_rule": "tost"}, "with tie_rule='tost'. Got None instead."),
        ({"tie_rule": "tost", "margin": 0.0}, r"'margin'.*\(0, inf\)\. Got 0\.0 instead\."),
        ({"tie_rule": "tost", "margin": 0.1, "alpha": 1.0}, r"'alpha'.*Got 1\.0 instead\."),
    ],
)
def test_choose_rejects_bad_rules(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        choose({"a": [0.9, 0.8]}, **options)  # type: ignore[arg-type]
