"""The comparison engine in-process: techniques, stacks, summaries over seeds, ``compare``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from regulab import __version__
from regulab.config import TrainConfig
from regulab.errors import InvalidParameterError
from regulab.experiment import (
    Comparison,
    RunRecord,
    RunSpec,
    apply_techniques,
    compare,
    make_tasks,
    parse_techniques,
    prepare_data,
    run_task,
    summarize,
    technique_count,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """The machine is small and shared: one torch thread, as compare's workers use."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------- techniques
BASE = TrainConfig(data="iris", model="4-16-3", epochs=3, verbose=0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("none", {}),
        ("l1", {"l1": 1e-3, "prox_l1": True}),
        ("l1=3e-4", {"l1": 3e-4, "prox_l1": True}),
        ("l2", {"l2": 1e-3}),
        ("l2=1e-4", {"l2": 1e-4}),
        ("elastic_net", {"elastic_net": (1e-3, 0.5), "prox_l1": True}),
        ("elastic_net=1e-4:0.2", {"elastic_net": (1e-4, 0.2), "prox_l1": True}),
        ("weight_decay", {"weight_decay": 1e-2}),
        ("weight_decay=1e-3", {"weight_decay": 1e-3}),
        ("dropout", {"dropout": (0.5,)}),
        ("dropout=0.5/0.3", {"dropout": (0.5, 0.3)}),
        ("input_dropout", {"input_dropout": 0.2}),
        ("input_dropout=0.1", {"input_dropout": 0.1}),
        ("batchnorm", {"batchnorm": True}),
        ("linear", {"model": "linear", "dropout": ()}),
        ("early_stopping", {"early_stopping": ("val_loss", 5)}),
        ("early_stopping=val_accuracy:3", {"early_stopping": ("val_accuracy", 3)}),
        (
            "dropout=0.2+l2=1e-4+early_stopping",
            {"dropout": (0.2,), "l2": 1e-4, "early_stopping": ("val_loss", 5)},
        ),
        ("l1+l2", {"l1": 1e-3, "prox_l1": True, "l2": 1e-3}),
    ],
)
def test_apply_techniques_defaults_and_overrides(name: str, expected: dict[str, Any]) -> None:
    config = apply_techniques(BASE, name)
    assert config == replace(BASE, **expected)


def test_parse_techniques_normalizes() -> None:
    text = " None , L1 = 3e-4,Dropout+ L2 ,early-stopping=val_loss:2 ,"
    assert parse_techniques(text) == [
        "none",
        "l1=3e-4",
        "dropout+l2",
        "early_stopping=val_loss:2",
    ]
    assert parse_techniques(["l2", " batchnorm "]) == ["l2", "batchnorm"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("none,l2,none", "listed twice: none"),
        ("l2, L2", "listed twice: l2"),
        ("dropout+l2,Dropout + L2", "listed twice: dropout+l2"),
        ("", "empty"),
        (" , ,", "empty"),
        ("none,dropuot", "Did you mean 'dropout'"),
        ("batchnorm=2", "takes no strength"),
        ("none=1", "takes no strength"),
    ],
)
def test_parse_techniques_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_techniques(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("l1=abc", "must be a number"),
        ("l2=-1", "[0, inf)"),
        ("dropout=1.5", "[0, 1)"),
        ("dropout=0.5/x", "joined by '/'"),
        ("input_dropout=1", "[0, 1)"),
        ("elastic_net=1e-3", "ALPHA:L1_RATIO"),
        ("elastic_net=1e-3:2", "[0, 1]"),
        ("early_stopping=val_loss:x", "MONITOR:PATIENCE"),
        ("early_stopping=val_loss:-1", "[0, inf)"),
    ],
)
def test_bad_strengths_rejected(name: str, message: str) -> None:
    # parse_techniques checks names and forms; the strengths are parsed (and checked) when
    # the config is built, which compare does for every config before any training.
    with pytest.raises(InvalidParameterError) as caught:
        apply_techniques(BASE, name)
    assert message in str(caught.value)


def test_unknown_technique_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_techniques("l3")
    message = str(caught.value)
    assert "Unknown technique 'l3'" in message
    for name in ("none", "l1", "l2", "elastic_net", "dropout", "batchnorm", "early_stopping"):
        assert name in message


def test_technique_count() -> None:
    assert technique_count("none") == 0
    assert technique_count("l2=1e-4") == 1
    assert technique_count("dropout+l2+early_stopping") == 3


# --------------------------------------------------------------------------- summaries
def make_record(
    config: str,
    seed: int,
    value: float,
    *,
    sparsity: float = 0.0,
    seconds: float = 1.0,
    metric: str = "val_accuracy",
) -> RunRecord:
    return RunRecord(
        run_key=f"{config}-{seed}",
        config_name=config,
        config={},
        seed=seed,
        data_fingerprint="fp",
        library_version="test",
        history=[],
        metrics={metric: value, "gap": 0.1 * seed, "val_loss": 0.5, "train_loss": 0.4},
        epochs_run=10 + seed,
        stop_reason="max_epochs",
        stop_message="",
        best_epoch=None,
        sparsity={"total": sparsity, "per_layer": {}, "dropped_features": []},
        weights={"weight_norm": 2.0},
        seconds=seconds,
    )


def records_for(values: dict[str, list[float]], **options: Any) -> list[RunRecord]:
    return [
        make_record(name, seed, value, **options.get(name, {}))
        for name, per_seed in values.items()
        for seed, value in enumerate(per_seed)
    ]


def by_config(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["config"]: row for row in rows}


def test_summarize_clear_winner() -> None:
    records = records_for({"none": [0.50, 0.52, 0.51], "l2": [0.90, 0.91, 0.92]})
    rows, notes = summarize(records, "val_accuracy", True)
    assert [row["config"] for row in rows] == ["l2", "none"]  # best first
    l2 = rows[0]
    assert (l2["best"], l2["tied"], l2["preferred"]) == (True, False, True)
    assert (rows[1]["best"], rows[1]["tied"], rows[1]["preferred"]) == (False, False, False)
    assert l2["n_seeds"] == 3 and l2["diverged"] == 0
    assert l2["val_accuracy_mean"] == pytest.approx(0.91)
    assert l2["val_accuracy_se"] == pytest.approx(0.01 / 3**0.5)
    assert l2["val_accuracy_ci"] == pytest.approx(4.302653 * 0.01 / 3**0.5, rel=1e-5)
    assert l2["gap_mean"] == pytest.approx(0.1)
    assert l2["epochs_mean"] == pytest.approx(11.0)
    assert l2["stop_reasons"] == {"max_epochs": 3}
    assert l2["techniques"] == 1
    assert notes == ["Best val_accuracy: l2 (0.9100)."]


def test_choice_is_made_on_validation_and_test_is_only_reported() -> None:
    # On test, none looks far better; on validation l2 is. The marks follow validation.
    records = records_for({"none": [0.50, 0.52, 0.51], "l2": [0.90, 0.91, 0.92]})
    for record in records:
        record.metrics["test_accuracy"] = 1.4 - record.metrics["val_accuracy"]
    rows, notes = summarize(records, "val_accuracy", True, test_metric="test_accuracy")
    table = by_config(rows)
    assert table["l2"]["best"] and table["l2"]["preferred"] and not table["none"]["tied"]
    assert table["none"]["test_accuracy_mean"] == pytest.approx(0.89)
    assert table["l2"]["test_accuracy_mean"] == pytest.approx(0.49)
    assert notes[0] == "Best val_accuracy: l2 (0.9100)."


def test_validation_figure_is_read_at_the_restored_epoch_when_not_in_metrics() -> None:
    # A record stored before val_* figures were kept: the history at the best epoch counts.
    records = records_for({"none": [0.5, 0.5], "l2": [0.5, 0.5]})
    for record in records:
        del record.metrics["val_accuracy"]
        good = 0.9 if record.config_name == "l2" else 0.6
        record.history = [
            {"epoch": 1, "val_accuracy": good},
            {"epoch": 2, "val_accuracy": 0.1},
        ]
        record.best_epoch = 1
    rows, _ = summarize(records, "val_accuracy", True)
    assert by_config(rows)["l2"]["best"]
    assert by_config(rows)["l2"]["val_accuracy_mean"] == pytest.approx(0.9)


# The best, l2, has mean 0.7875 and standard error 0.083; dropout is 0.1125 lower: more than
# one standard error. A paired t-test would not tell them apart (p ~ 0.3), and the old rule
# "p > 0.05 is a tie" tied them; "not significantly different" is not a tie.
NOISY = {"l2": [0.9, 0.7, 0.95, 0.6], "dropout": [0.6, 0.8, 0.7, 0.6]}


def test_a_noisy_difference_beyond_one_se_is_not_a_tie() -> None:
    rows, notes = summarize(records_for(NOISY), "val_accuracy", True)
    table = by_config(rows)
    assert table["l2"]["best"] and not table["dropout"]["tied"]
    assert table["l2"]["preferred"]
    assert not any("Tied" in note for note in notes)


def test_tie_within_one_standard_error() -> None:
    values = {"l2": [0.80, 0.90, 0.85], "dropout": [0.84, 0.85, 0.83]}  # gap 0.01 < se 0.029
    rows, notes = summarize(records_for(values), "val_accuracy", True)
    assert by_config(rows)["dropout"]["tied"]
    assert "Tied with the best (within one standard error of its mean): dropout." in notes


def test_tost_ties_only_what_it_shows_equivalent() -> None:
    # dropout's paired differences from l2 are 0.01, 0.02, 0.01, 0.02: shown within 0.05.
    close = {"l2": [0.90, 0.86, 0.88, 0.92], "dropout": [0.89, 0.84, 0.87, 0.90]}
    rows, notes = summarize(records_for(close), "val_accuracy", True, tie_rule="tost", margin=0.05)
    assert by_config(rows)["dropout"]["tied"]
    assert "Tied with the best (equivalent within ±0.05 by a paired TOST, p < 0.05): dropout." in (
        notes
    )
    # the same data with a margin smaller than the difference: not shown equivalent
    rows, _ = summarize(records_for(close), "val_accuracy", True, tie_rule="tost", margin=0.01)
    assert not by_config(rows)["dropout"]["tied"]
    # NOISY is not shown equivalent within 0.05 either, though a t-test finds no difference
    rows, _ = summarize(records_for(NOISY), "val_accuracy", True, tie_rule="tost", margin=0.05)
    assert not by_config(rows)["dropout"]["tied"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tie_rule": "paired_or_se"}, "'tie_rule' parameter of choose must be one of se, tost"),
        ({"tie_rule": "tost"}, "'margin' parameter of choose must be a float in the range"),
        ({"tie_rule": "tost", "margin": -0.1}, "Got -0.1 instead."),
    ],
)
def test_bad_tie_rules_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        summarize(records_for(NOISY), "val_accuracy", True, **options)


def test_constant_paired_difference_is_not_a_tie() -> None:
    values = {"l2": [0.9, 0.8, 0.7], "dropout": [0.7, 0.6, 0.5]}  # always 0.2 lower
    rows, _ = summarize(records_for(values), "val_accuracy", True)
    assert not by_config(rows)["dropout"]["tied"]


def test_diverged_config_is_never_best_and_is_listed() -> None:
    # "none" would be best on its finite seeds, but one seed diverged.
    values = {"none": [0.99, float("nan"), 0.98], "l2": [0.80, 0.81, 0.82]}
    rows, notes = summarize(records_for(values), "val_accuracy", True)
    table = by_config(rows)
    assert table["l2"]["best"] and table["l2"]["preferred"]
    assert not any(table["none"][mark] for mark in ("best", "tied", "preferred"))
    assert table["none"]["diverged"] == 1 and table["l2"]["diverged"] == 0
    assert [row["config"] for row in rows] == ["l2", "none"]  # diverged last
    assert "Diverged (a non-finite loss or val_accuracy; never chosen): none." in notes
    # every config diverged: nothing is marked, and the JSON's best is null
    rows, notes = summarize(records_for({"none": [math.inf]}), "val_accuracy", True)
    assert not rows[0]["best"] and notes == [
        "Diverged (a non-finite loss or val_accuracy; never chosen): none."
    ]


def test_a_run_stopped_on_a_non_finite_loss_counts_as_diverged() -> None:
    # its accuracy is finite (argmax of NaN scores still names a class), but it diverged
    records = records_for({"none": [0.95, 0.96], "l2": [0.80, 0.81]})
    records[0].stop_reason = "non_finite"
    records[0].metrics["val_loss"] = float("nan")
    rows, _ = summarize(records, "val_accuracy", True)
    assert by_config(rows)["l2"]["best"] and by_config(rows)["none"]["diverged"] == 1
    assert by_config(rows)["none"]["val_accuracy_mean"] == pytest.approx(0.96)  # finite seeds


@pytest.fixture(scope="module")
def diverging_comparison() -> Comparison:
    # SGD with an enormous L2 strength overflows on the first steps
    return compare(
        "iris",
        "none,l2=1e30",
        model="4-16-3",
        seeds=2,
        epochs=3,
        optimizer="sgd",
        lr=0.1,
        verbose=0,
    )


def test_compare_marks_a_diverging_config_and_never_picks_it(
    diverging_comparison: Comparison,
) -> None:
    result = diverging_comparison
    table = by_config(result.rows)
    assert table["l2=1e30"]["diverged"] == 2 and table["l2=1e30"]["stop_reasons"] == {
        "non_finite": 2
    }
    assert result.best == result.preferred == "none" and table["none"]["diverged"] == 0
    payload = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert payload["diverged"] == ["l2=1e30"]
    assert payload["configs"][-1]["val_accuracy_mean"] is None  # no finite seed: null


def test_preferred_is_the_sparser_tied_config() -> None:
    values = {"dropout": [0.80, 0.90, 0.85], "l1": [0.84, 0.85, 0.83]}
    records = records_for(values, l1={"sparsity": 0.4})
    rows, notes = summarize(records, "val_accuracy", True)
    table = by_config(rows)
    assert table["dropout"]["best"] and not table["dropout"]["preferred"]
    assert table["l1"]["tied"] and table["l1"]["preferred"]
    assert table["l1"]["sparsity_mean"] == pytest.approx(0.4)
    assert notes[-1] == (
        "Preferred: l1, the simpler/sparser of the tied configs (40% exact zeros, 1 technique(s))."
    )


def test_preferred_is_the_simpler_tied_config() -> None:
    values = {"dropout+l2": [0.80, 0.90, 0.85], "none": [0.84, 0.85, 0.83]}
    rows, notes = summarize(records_for(values), "val_accuracy", True)
    table = by_config(rows)
    assert table["none"]["preferred"] and table["none"]["techniques"] == 0
    assert table["dropout+l2"]["techniques"] == 2
    assert "0 technique(s)" in notes[-1]


def test_equal_simplicity_prefers_the_faster() -> None:
    values = {"l2": [0.80, 0.90, 0.85], "dropout": [0.84, 0.85, 0.83]}
    records = records_for(values, l2={"seconds": 3.0}, dropout={"seconds": 1.0})
    rows, _ = summarize(records, "val_accuracy", True)
    assert by_config(rows)["dropout"]["preferred"]


def test_lower_is_better() -> None:
    values = {"none": [0.9, 0.95, 0.92], "l2": [0.30, 0.31, 0.29]}
    records = records_for(values)
    for record in records:  # the same numbers as a loss
        record.metrics["val_loss"] = record.metrics.pop("val_accuracy")
    rows, notes = summarize(records, "val_loss", False)
    assert rows[0]["config"] == "l2" and rows[0]["best"] and rows[0]["preferred"]
    assert "val_loss_mean" in rows[0]
    assert notes[0] == "Best val_loss: l2 (0.3000)."


def test_summarize_single_seed_and_empty() -> None:
    rows, _ = summarize(records_for({"none": [0.5], "l2": [0.6]}), "val_accuracy", True)
    assert math.isnan(by_config(rows)["l2"]["val_accuracy_ci"])  # undefined with one seed
    assert not by_config(rows)["none"]["tied"]  # one seed: no standard error, no tie
    assert summarize([], "val_accuracy", True) == ([], [])


# --------------------------------------------------------------------------- tasks
def specs_for(names: list[str], seeds: int = 2, **changes: Any) -> list[RunSpec]:
    base = replace(BASE, **changes)
    return [RunSpec(n, apply_techniques(base, n), s) for n in names for s in range(seeds)]


def test_make_tasks_groups_by_architecture() -> None:
    specs = specs_for(["none", "l2", "batchnorm", "dropout+early_stopping", "linear"])
    tasks = make_tasks(specs)
    names = [sorted({spec.config_name for spec in task}) for task in tasks]
    # dropout, penalties and callbacks stack with the plain model; batch norm and the
    # linear model change the architecture and train apart.
    assert names == [["dropout+early_stopping", "l2", "none"], ["batchnorm"], ["linear"]]
    assert [len(task) for task in tasks] == [6, 2, 2]


def test_make_tasks_training_settings_split_stacks() -> None:
    specs = specs_for(["none"], epochs=3) + specs_for(["l2"], epochs=4)
    specs += specs_for(["dropout"], lr=1e-2)
    tasks = make_tasks(specs)
    assert [[spec.config_name for spec in task] for task in tasks] == [
        ["none", "none"],
        ["l2", "l2"],
        ["dropout", "dropout"],
    ]


@pytest.mark.parametrize(
    ("max_stack", "min_tasks", "sizes"),
    [
        (16, 1, [6, 2]),
        (4, 1, [4, 2, 2]),
        (16, 2, [4, 2, 2]),  # 8 runs over at least 2 tasks: stacks of 4
        (16, 4, [2, 2, 2, 2]),
        (16, 100, [1] * 8),
    ],
)
def test_make_tasks_max_stack_and_min_tasks(max_stack: int, min_tasks: int, sizes: list) -> None:
    specs = specs_for(["none", "l2", "dropout", "batchnorm"])
    tasks = make_tasks(specs, max_stack=max_stack, min_tasks=min_tasks)
    assert [len(task) for task in tasks] == sizes
    assert len(tasks) >= min(min_tasks, len(specs))
    flat = [spec for task in tasks for spec in task]
    assert sorted(flat, key=specs.index) == specs  # every spec exactly once
    for task in tasks:
        assert len({spec.config.batchnorm for spec in task}) == 1


# --------------------------------------------------------------------------- compare
IRIS_TECHNIQUES = "none,l2,dropout+early_stopping=val_accuracy:1,batchnorm"
IRIS = {"model": "4-16-3", "seeds": 2, "epochs": 4, "verbose": 0}


@pytest.fixture(scope="module")
def iris_comparison() -> Comparison:
    return compare("iris", IRIS_TECHNIQUES, **IRIS)


def test_compare_rows_for_every_config(iris_comparison: Comparison) -> None:
    result = iris_comparison
    assert result.metric == "val_accuracy" and result.higher_is_better
    assert result.test_metric == "test_accuracy"
    configs = {"none", "l2", "dropout+early_stopping=val_accuracy:1", "batchnorm"}
    assert {row["config"] for row in result.rows} == configs
    assert len(result.records) == 8 and result.resumed == 0
    assert result.rows[0]["best"]
    means = [row["val_accuracy_mean"] for row in result.rows[1:]]
    assert means == sorted(means, reverse=True)
    for row in result.rows:
        assert row["n_seeds"] == 2 and row["diverged"] == 0
        for metric in ("val_accuracy", "test_accuracy"):
            for key in (f"{metric}_ci", f"{metric}_se", "gap_mean", "gap_ci"):
                assert isinstance(row[key], float) and row[key] == row[key], key
            assert row[f"{metric}_ci"] >= 0
    assert sum(row["best"] for row in result.rows) == 1
    assert sum(row["preferred"] for row in result.rows) == 1
    assert result.best in configs and result.preferred in configs
    assert result.data["name"] == "iris" and result.data["model"] == "4-16-3"
    assert result.experiment.startswith("compare-")
    assert result.notes[0].startswith("Best val_accuracy: ")
    for record in result.records:  # the figures chosen on are recorded with every run
        assert 0.0 <= record.metrics["val_accuracy"] <= 1.0


def test_compare_to_json_is_strict_json(iris_comparison: Comparison) -> None:
    payload = iris_comparison.to_json()
    text = json.dumps(payload, allow_nan=False)
    assert set(json.loads(text)) == {
        "schema_version",
        "data",
        "metric",
        "test_metric",
        "higher_is_better",
        "tie_rule",
        "margin",
        "configs",
        "best",
        "tied",
        "preferred",
        "diverged",
        "notes",
        "experiment",
        "resumed",
        "runs",
    }
    assert len(payload["runs"]) == 8
    assert {run["seed"] for run in payload["runs"]} == {0, 1}
    assert payload["schema_version"] == 2 and payload["metric"] == "val_accuracy"
    assert payload["tie_rule"] == "se" and payload["diverged"] == []


def test_compare_same_inputs_same_numbers(iris_comparison: Comparison) -> None:
    again = compare("iris", "l2,batchnorm", model="4-16-3", seeds=2, epochs=4, verbose=0)
    before = {(r.config_name, r.seed): r.metrics for r in iris_comparison.records}
    for record in again.records:
        assert record.metrics == before[(record.config_name, record.seed)]


def test_stacked_runs_equal_runs_alone() -> None:
    # Plain MLPs (dropout, penalties, early stopping) are bit-identical in or out of a stack.
    # Batch norm is not: the bias before a batch-norm layer gets only rounding-noise
    # gradients, which Adam scales up to full steps, so it drifts differently with the stack
    # size (test outputs then agree to about 1e-4, not exactly).
    _, bundle = prepare_data("iris")
    specs = specs_for(["none", "l2=1e-2", "dropout+early_stopping=val_accuracy:1"], epochs=6)
    stacked = run_task(specs, bundle, __version__)
    assert len({len(record.history) for record in stacked}) > 1  # one member stopped early
    for spec, together in zip(specs, stacked):
        (alone,) = run_task([spec], bundle, __version__)
        assert alone.run_key == together.run_key
        assert alone.metrics == together.metrics, spec.config_name
        assert alone.epochs_run == together.epochs_run
        assert alone.stop_reason == together.stop_reason
        assert alone.weights == together.weights


# --------------------------------------------------------------------------- test never chooses
def _permuted_test_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every experiment see its test labels shuffled (a fixed permutation)."""
    from regulab.experiment import _compare

    original = _compare.split

    def split_with_permuted_test(*args: Any, **kwargs: Any) -> Any:
        parts = original(*args, **kwargs)
        order = np.random.default_rng(1).permutation(len(parts.y_test))
        return replace(parts, y_test=parts.y_test[order])

    monkeypatch.setattr(_compare, "split", split_with_permuted_test)


def _marks(rows: list[dict[str, Any]]) -> dict[str, tuple[bool, bool, bool]]:
    return {row["config"]: (row["best"], row["tied"], row["preferred"]) for row in rows}


def test_permuting_test_labels_leaves_every_compare_and_report_mark_unchanged(
    iris_comparison: Comparison, monkeypatch: pytest.MonkeyPatch
) -> None:
    from regulab.report import build_report_data

    _permuted_test_labels(monkeypatch)
    shuffled = compare("iris", IRIS_TECHNIQUES, **IRIS)
    before = {(r.config_name, r.seed): r.metrics for r in iris_comparison.records}
    after = {(r.config_name, r.seed): r.metrics for r in shuffled.records}
    assert any(
        before[k]["test_accuracy"] != after[k]["test_accuracy"] for k in before
    )  # the permutation reached the test figures...
    assert all(before[k]["val_accuracy"] == after[k]["val_accuracy"] for k in before)
    # ...and none of the marks
    assert _marks(shuffled.rows) == _marks(iris_comparison.rows)
    assert (shuffled.best, shuffled.preferred) == (iris_comparison.best, iris_comparison.preferred)
    reports = [build_report_data(c.records) for c in (iris_comparison, shuffled)]
    assert reports[0].metric == "val_accuracy"
    assert _marks(reports[1].table) == _marks(reports[0].table) == _marks(iris_comparison.rows)


def test_shared_options_are_keyword_parameters_with_one_set_of_defaults() -> None:
    import inspect

    from regulab.experiment import dropout_curve, patience_curve, regularization_path, tune
    from regulab.experiment._setup import RUN_DEFAULTS

    for function in (dropout_curve, patience_curve, regularization_path, tune):
        parameters = inspect.signature(function).parameters
        assert "options" not in parameters
        for name, default in RUN_DEFAULTS.items():
            if name == "jobs" and function is tune:
                assert name not in parameters
                continue
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert parameters[name].default == default
    with pytest.raises(TypeError, match="tune\\(\\) got an unexpected keyword argument 'jobs'"):
        tune("iris", jobs=2)
    with pytest.raises(TypeError, match="dropout_curve\\(\\) got an unexpected keyword argument"):
        dropout_curve("iris", rates=(0.0,), epoch=2)
