"""Optuna tuning: search space, config strings, reproducibility, pruning, budgets, store."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import optuna
import pytest
import torch

from regulab.config import TrainConfig
from regulab.errors import InvalidParameterError
from regulab.experiment import apply_techniques
from regulab.experiment._store import ResultsStore
from regulab.experiment._tune import SEARCH_SPACE, TuneResult, config_string, tune

FAST = {"model": "4-16-3", "lr": 1e-2, "verbose": 0, "device": "cpu"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one torch thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_study() -> TuneResult:
    return tune("iris", n_trials=3, epochs=3, seed=0, **FAST)


def _inside(name: str, value: object) -> bool:
    kind, low, high = next(space[name] for space in SEARCH_SPACE.values() if name in space)
    if kind == "bool":
        return isinstance(value, bool)
    assert isinstance(value, (int, float))
    return low <= value <= high


def test_params_lie_in_the_search_space(small_study: TuneResult) -> None:
    assert set(small_study.best_params) == {"l1", "l2", "dropout", "patience"}
    assert len(small_study.trials) == 3
    for trial in small_study.trials:
        assert all(_inside(name, value) for name, value in trial["params"].items())
        assert trial["state"] in ("COMPLETE", "PRUNED")
    assert 0.0 <= small_study.best_value <= 1.0
    assert small_study.metric == "val_accuracy"
    json.dumps(small_study.to_json())


def test_best_config_round_trips_through_apply_techniques(small_study: TuneResult) -> None:
    config = apply_techniques(TrainConfig(), small_study.best_config)
    params = small_study.best_params
    assert config.l1 == pytest.approx(params["l1"], rel=5e-3) and config.prox_l1
    assert config.l2 == pytest.approx(params["l2"], rel=5e-3)
    assert config.dropout[0] == pytest.approx(params["dropout"], abs=5e-3)
    assert config.early_stopping == ("val_loss", params["patience"])
    best = next(t for t in small_study.trials if t["number"] == small_study.best_trial)
    assert best["config"] == small_study.best_config


def test_config_string_covers_every_technique() -> None:
    params = {
        "l1": 1e-4,
        "l2": 2.5e-3,
        "elastic_net_alpha": 3e-4,
        "elastic_net_l1_ratio": 0.25,
        "weight_decay": 0.01,
        "dropout": 0.5,
        "input_dropout": 0.1,
        "batchnorm": True,
        "patience": 4,
    }
    text = config_string(params, list(SEARCH_SPACE))
    config = apply_techniques(TrainConfig(), text)
    assert config.elastic_net == (3e-4, 0.25) and config.weight_decay == 0.01
    assert config.batchnorm and config.input_dropout == 0.1
    assert config_string({"batchnorm": False}, ["batchnorm"]) == "none"


def test_same_seed_same_best_params() -> None:
    first = tune("iris", n_trials=3, epochs=2, techniques="l2,dropout", seed=7, **FAST)
    second = tune("iris", n_trials=3, epochs=2, techniques="l2,dropout", seed=7, **FAST)
    assert first.best_params == second.best_params
    assert [t["value"] for t in first.trials] == [t["value"] for t in second.trials]


def test_pruning_stops_hopeless_trials(tmp_path) -> None:
    store = ResultsStore(tmp_path / "runs.sqlite")
    result = tune(
        "iris",
        n_trials=8,
        epochs=6,
        n_startup_trials=2,
        n_warmup_steps=1,
        techniques=("l1", "dropout"),
        store=store,
        **FAST,
    )
    assert result.n_pruned >= 1
    pruned = [r for r in result.records if r.extra["state"] == "PRUNED"]
    assert pruned and all(r.stop_reason == "pruned" and r.epochs_run < 6 for r in pruned)
    stored = store.records(group="tune")
    assert len(stored) == len(result.records) == result.n_pruned + result.n_complete
    assert {r.extra["trial"] for r in stored} == {t["number"] for t in result.trials}
    assert all(set(r.extra["params"]) == {"l1", "dropout"} for r in stored)
    store.close()


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"n_trials": 0}, r"'n_trials'.*\[1, inf\)"),
        ({"n_trials": -2}, r"'n_trials'.*\[1, inf\)"),
        ({"n_trials": None, "timeout": 0}, r"'timeout'.*\(0, inf\)"),
        ({"n_trials": 5, "timeout": -1.0}, r"'timeout'.*\(0, inf\)"),
        ({"n_trials": None}, "needs a budget"),
    ],
)
def test_empty_budget_is_an_error(budget, message) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        tune("iris", **budget, **FAST)


def test_unknown_technique_and_linear_dropout_are_errors() -> None:
    with pytest.raises(InvalidParameterError, match="Did you mean 'dropout'"):
        tune("iris", n_trials=1, techniques="dropuot", **FAST)
    with pytest.raises(InvalidParameterError, match="has no hidden layer"):
        tune("iris", n_trials=1, techniques="dropout", model="linear", verbose=0)


def test_optuna_logging_is_restored() -> None:
    before = optuna.logging.get_verbosity()
    result = tune("iris", n_trials=1, epochs=1, techniques="l2", **FAST)
    assert optuna.logging.get_verbosity() == before
    assert math.isfinite(result.best_value)
