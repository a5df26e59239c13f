"""The advisor's time planning counts an exactly solved linear candidate once, not per epoch.

A linear candidate without dropout is solved to its optimum in one call, so its time does not
grow with the epochs the networks train; the budget it does not need goes to the networks.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from regulab.advise import _search
from regulab.config import TrainConfig
from regulab.data import make_synthetic
from regulab.experiment import RunSpec, prepare_data


@pytest.fixture(scope="module")
def bundle():
    data = make_synthetic(200, n_informative=3, n_irrelevant=5, seed=0)
    return prepare_data(data)[1]


def _specs(name: str, bundle) -> list[RunSpec]:
    shape = (bundle.X_train.shape[1], bundle.n_outputs)
    config = _search.build_config(TrainConfig(verbose=0), name, shape)
    return [RunSpec(name, replace(config, epochs=1), seed) for seed in (0, 1)]


def test_an_exact_linear_candidate_costs_once_and_a_network_per_epoch(bundle) -> None:
    linear = _specs("linear+l1=0.01", bundle)
    network = _specs("hidden=16+l2=0.001", bundle)
    epoch, once = _search._probe_seconds(bundle, linear)
    assert epoch == 0.0 and once > 0.0
    epoch, once = _search._probe_seconds(bundle, network)
    assert epoch > 0.0 and once == 0.0
    epoch, once = _search._probe_seconds(bundle, [*linear, *network])
    assert epoch > 0.0 and once > 0.0
    assert _search._estimate_epoch_seconds(bundle, linear) == 0.0


def test_the_budget_left_after_the_solves_goes_to_the_epochs(monkeypatch, bundle) -> None:
    """130 s left, 30 s of exact solves (once) and 1 s per network epoch: about 100 epochs
    (counting the solves per epoch, as before, would leave about 4)."""
    monkeypatch.setattr(_search, "_probe_seconds", lambda b, specs: (1.0, 30.0))

    class Run:
        def parallel(self, runs: int) -> int:
            return 1

        def __call__(self, folds, configs, names, deadline):
            return []

    shape = (bundle.X_train.shape[1], bundle.n_outputs)
    _, _, epochs = _search.search(
        [(bundle, (0,))],
        ["linear+l1=0.01", "hidden=16"],
        TrainConfig(verbose=0),
        Run(),
        time.perf_counter() + 130.0,
        [],
        shape=shape,
        tune=False,
        share=1.0,
    )
    assert 95 <= epochs <= 100
