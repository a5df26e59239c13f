"""Regularization paths, dropout and patience curves, and the one-standard-error rule."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from regulab.data import make_synthetic
from regulab.errors import InvalidParameterError
from regulab.experiment import (
    CurveResult,
    PathResult,
    _compare,
    _path_runners,
    _paths,
    _runner,
    dropout_curve,
    one_se_rule,
    patience_curve,
    regularization_path,
)
from regulab.experiment._store import ResultsStore
from regulab.models import MLP
from regulab.report import build_report_data

FAST = {"model": "4-16-3", "lr": 1e-2, "verbose": 0, "device": "cpu"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one torch thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def l1_path() -> _paths.PathResult:
    return regularization_path("iris", "l1", n_strengths=5, seeds=2, epochs=8, **FAST)


# -- the one-standard-error rule --------------------------------------------------------------
def test_one_se_rule_picks_largest_strength_within_one_se_of_the_best() -> None:
    strengths = [1.0, 0.1, 0.01, 0.001]
    means = [0.50, 0.88, 0.90, 0.89]
    ses = [0.01, 0.01, 0.03, 0.01]
    assert one_se_rule(strengths, means, ses) == (0.01, 0.1)
    # a smaller SE at the best point excludes 0.1 (0.88 < 0.90 - 0.005)
    assert one_se_rule(strengths, means, [0.01, 0.01, 0.005, 0.01]) == (0.01, 0.01)


def test_one_se_rule_directions_ties_and_nan() -> None:
    # lower is better (a loss): best 0.3 at 0.1; 0.35 is within 0.06 of it, at strength 1.0
    lower = one_se_rule(
        [1.0, 0.1, 0.01], [0.35, 0.30, 0.40], [0.0, 0.06, 0.0], higher_is_better=False
    )
    assert lower == (0.1, 1.0)
    # the simpler end is the smallest value for a dropout rate
    assert one_se_rule(
        [0.0, 0.2, 0.5], [0.80, 0.84, 0.85], [0.0, 0.0, 0.02], prefer="smallest"
    ) == (
        0.5,
        0.2,
    )
    # ties go to the simpler value; NaN means are skipped; NaN SE counts as zero
    assert one_se_rule([1.0, 0.1, 0.01], [0.9, 0.9, 0.8], [0.0, 0.0, 0.0]) == (1.0, 1.0)
    assert one_se_rule([1.0, 0.1], [math.nan, 0.7], [0.1, math.nan]) == (0.1, 0.1)
    best, choice = one_se_rule([1.0], [math.nan], [0.0])
    assert math.isnan(best) and math.isnan(choice)
    with pytest.raises(InvalidParameterError, match="largest, smallest"):
        one_se_rule([1.0], [0.5], [0.1], prefer="middle")


# -- regularization paths ---------------------------------------------------------------------
def test_grid_is_log_spaced_descending_and_summaries_line_up(l1_path: _paths.PathResult) -> None:
    s = np.array(l1_path.strengths)
    assert len(s) == 5 and np.all(np.diff(s) < 0)
    np.testing.assert_allclose(s[1:] / s[:-1], (1e-3) ** (1 / 4), rtol=1e-9)
    assert s[-1] == pytest.approx(s[0] * 1e-3)
    for values in (l1_path.val_mean, l1_path.test_se, l1_path.nonzero_mean, l1_path.epochs):
        assert len(values) == 5
    assert l1_path.epochs == [8, 4, 4, 4, 4]  # warm start: epochs, then epochs // 2
    assert l1_path.metric == "val_accuracy" and l1_path.test_metric == "test_accuracy"
    json.dumps(l1_path.to_json())


def test_strength_max_zeroes_the_first_layer_and_weaker_keeps_more(
    l1_path: _paths.PathResult,
) -> None:
    rule = l1_path.strength_max_rule
    assert rule["source"] == "computed" and rule["first_layer_zero_share"] >= 0.99
    assert l1_path.strengths[0] == pytest.approx(rule["gradient_estimate"] * 2 ** rule["doublings"])
    assert l1_path.first_nonzero_mean[0] <= 0.01 * 4 * 16
    assert l1_path.nonzero_mean[-1] > l1_path.nonzero_mean[0]
    assert l1_path.first_nonzero_mean[-1] > l1_path.first_nonzero_mean[0]
    trend = np.corrcoef(np.log(l1_path.strengths), l1_path.nonzero_mean)[0, 1]
    assert trend < 0  # weaker penalty, more non-zero weights


def test_trapped_networks_restart_on_the_warm_path(l1_path: _paths.PathResult) -> None:
    assert l1_path.restarts[0] == 0
    if l1_path.nonzero_mean[0] == 0:  # every matrix zero at strength_max: a dead network
        assert l1_path.restarts[1] == 2
    assert [r.extra["restarted"] for r in l1_path.records].count(True) == sum(l1_path.restarts)


def test_lambdas_follow_the_one_se_rule(l1_path: _paths.PathResult) -> None:
    assert l1_path.lambda_1se >= l1_path.lambda_min
    expected = one_se_rule(l1_path.strengths, l1_path.val_mean, l1_path.val_se)
    assert (l1_path.lambda_min, l1_path.lambda_1se) == expected
    index = l1_path.strengths.index(l1_path.lambda_min)
    assert l1_path.test_at_min == (l1_path.test_mean[index], l1_path.test_se[index])


def test_path_records_carry_group_and_strength(l1_path: _paths.PathResult) -> None:
    assert len(l1_path.records) == 5 * 2
    assert {r.group for r in l1_path.records} == {"path:l1"}
    assert [r.extra["strength"] for r in l1_path.records[::2]] == l1_path.strengths
    assert all(r.config["prox_l1"] for r in l1_path.records)


def test_a_diverged_point_is_never_chosen() -> None:
    # 0.01 is best on its finite seeds, but one seed diverged there
    strengths = [1.0, 0.1, 0.01]
    means = [0.50, 0.80, math.nan]
    assert one_se_rule(strengths, means, [0.01, 0.01, 0.01]) == (0.1, 0.1)


def test_path_points_show_diverged_seeds(l1_path: _paths.PathResult) -> None:
    assert [row["diverged"] for row in l1_path.rows] == [0] * 5
    assert l1_path.to_json()["points"][0]["diverged"] == 0


def test_cold_path_with_store_resumes_without_training(tmp_path, monkeypatch) -> None:
    store = ResultsStore(tmp_path / "runs.sqlite")
    args = dict(n_strengths=3, seeds=2, epochs=4, warm_start=False, store=store, **FAST)
    first = regularization_path("iris", "l1", **args)
    assert first.resumed == 0
    assert len(store.records(group="path:l1")) == 3 * 2
    # the verified first point and the runs of run_specs are recorded alike
    assert len({frozenset(r.metrics) for r in first.records}) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(_runner, "run_task", no_training)
    monkeypatch.setattr(_paths, "train_stack", no_training)
    monkeypatch.setattr(_path_runners, "train_stack", no_training)
    again = regularization_path("iris", "l1", **args)
    assert again.resumed == 3 * 2
    assert again.strengths == first.strengths
    assert [r.run_key for r in again.records] == [r.run_key for r in first.records]
    store.close()


def test_warm_path_with_store_resumes_whole_path(tmp_path, monkeypatch) -> None:
    store = ResultsStore(tmp_path / "runs.sqlite")
    args = dict(n_strengths=3, seeds=1, epochs=2, strength_max=0.05, store=store, **FAST)
    first = regularization_path("iris", "elastic_net", **args)
    assert first.strength_max_rule == {"source": "given"} and first.l1_ratio == 0.5
    assert {r.group for r in store.records()} == {"path:elastic_net"}
    for module in (_paths, _path_runners):
        monkeypatch.setattr(module, "train_stack", lambda *a, **k: pytest.fail("retrained"))
    again = regularization_path("iris", "elastic_net", **args)
    assert again.resumed == 3
    assert again.val_mean == first.val_mean
    store.close()


def test_l2_path_uses_the_documented_default() -> None:
    path = regularization_path("iris", "l2", n_strengths=2, seeds=1, epochs=1, **FAST)
    assert path.strength_max_rule["source"] == "default"
    assert path.strengths == pytest.approx([1.0, 1e-3])


def test_trapped_network_is_detected() -> None:
    model = MLP("4-8-8-3", seed=0)
    assert not _path_runners.trapped(model)
    with torch.no_grad():
        model.linears[0].weight.zero_()
    assert not _path_runners.trapped(model)  # one zero matrix: gradients still flow
    with torch.no_grad():
        model.linears[2].weight.zero_()
    assert _path_runners.trapped(model)


# -- curves -----------------------------------------------------------------------------------
def test_dropout_curve_shapes_choice_and_records() -> None:
    rates = (0.0, 0.3, 0.6)
    curve = dropout_curve("iris", rates, seeds=2, epochs=3, **FAST)
    assert curve.values == list(rates) and curve.parameter == "rate"
    assert len(curve.val_mean) == len(curve.test_se) == len(curve.rows) == 3
    assert curve.best in rates and curve.one_se in rates and curve.one_se <= curve.best
    assert len(curve.records) == 3 * 2
    assert {r.group for r in curve.records} == {"dropout_curve"}
    assert sorted({r.extra["rate"] for r in curve.records}) == list(rates)
    json.dumps(curve.to_json())


def test_patience_curve_shapes_choice_and_records() -> None:
    patiences = (0, 2, 5)
    curve = patience_curve("iris", patiences, seeds=2, epochs=6, **FAST)
    assert curve.values == list(patiences) and curve.parameter == "patience"
    assert curve.best in patiences and curve.one_se <= curve.best
    assert all(1 <= e <= 6 for e in curve.epochs_mean)
    assert {r.group for r in curve.records} == {"patience_curve"}
    assert [r.extra["patience"] for r in curve.records[::2]] == list(patiences)
    stopping = [r.config["early_stopping"] for r in curve.records]
    assert stopping == [["val_loss", r.extra["patience"]] for r in curve.records]


def test_regression_curves_choose_on_val_r2() -> None:
    data = make_synthetic(120, n_informative=2, n_irrelevant=3, task="regression")
    curve = dropout_curve(data, (0.0, 0.5), model="5-8-1", seeds=1, epochs=2, verbose=0)
    assert (curve.metric, curve.test_metric) == ("val_r2", "test_r2")
    assert all(math.isfinite(v) for v in curve.val_mean)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regularization_path("iris", n_strengths=1), r"'n_strengths'.*\[2, inf\)"),
        (lambda: regularization_path("iris", "l3"), "l1, l2, elastic_net"),
        (lambda: regularization_path("iris", seeds=0), r"'seeds'.*\[1, inf\)"),
        (lambda: regularization_path("iris", ratio=1.0), r"'ratio'.*\(0, 1\)"),
        (lambda: regularization_path("iris", strength_max=0.0), "'strength_max'"),
        (lambda: dropout_curve("iris", (0.2, 1.0)), r"'rates'.*\[0, 1\)"),
        (lambda: dropout_curve("iris", (-0.1,)), r"'rates'.*\[0, 1\)"),
        (lambda: dropout_curve("iris", ()), "at least one"),
        (lambda: dropout_curve("iris", seeds=0), r"'seeds'.*\[1, inf\)"),
        (lambda: patience_curve("iris", (3, -1)), r"'patiences'.*\[0, inf\)"),
        (lambda: patience_curve("iris", (2, 2)), "twice"),
    ],
)
def test_bad_input_names_the_allowed_range(call, message) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        call()


def test_dropout_curve_rejects_a_model_without_hidden_layer() -> None:
    with pytest.raises(InvalidParameterError, match="has no hidden layer"):
        dropout_curve("iris", (0.0, 0.5), model="linear", seeds=1, epochs=1, verbose=0)


def test_permuting_test_labels_leaves_lambdas_and_curve_choices_unchanged(monkeypatch) -> None:
    path_args = dict(n_strengths=3, seeds=2, epochs=4, **FAST)
    curve_args = dict(seeds=2, epochs=3, **FAST)

    def run() -> tuple[PathResult, CurveResult, CurveResult]:
        return (
            regularization_path("iris", "l1", **path_args),
            dropout_curve("iris", (0.0, 0.3, 0.6), **curve_args),
            patience_curve("iris", (0, 1, 3), **curve_args),
        )

    before = run()
    original = _compare.split

    def split_with_permuted_test(*args, **kwargs):
        parts = original(*args, **kwargs)
        order = np.random.default_rng(1).permutation(len(parts.y_test))
        return dataclasses.replace(parts, y_test=parts.y_test[order])

    monkeypatch.setattr(_compare, "split", split_with_permuted_test)
    after = run()
    assert before[0].test_mean != after[0].test_mean  # the permutation reached the tests
    assert before[0].val_mean == after[0].val_mean
    assert (before[0].lambda_min, before[0].lambda_1se) == (
        after[0].lambda_min,
        after[0].lambda_1se,
    )
    for old, new in zip(before[1:], after[1:]):
        assert (old.best, old.one_se) == (new.best, new.one_se)
        assert old.val_mean == new.val_mean
    # the report computes the same marks from the records, with or without the permutation
    for result in (before, after):
        records = [r for part in result for r in part.records]
        report = build_report_data(records)
        assert (report.paths[0].lambda_min, report.paths[0].lambda_1se) == (
            result[0].lambda_min,
            result[0].lambda_1se,
        )
        assert report.paths[0].source == "computed"
        curves = (report.dropout_curve, report.patience_curve)
        for curve, sweep in zip(curves, result[1:]):
            assert curve is not None
            assert (curve.best, curve.one_se) == (sweep.best, sweep.one_se)
