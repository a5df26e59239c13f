"""Tests of ``regulab.advise``: the rules on made-up data profiles, the budget parser, feature
selection, the code snippets (executed), bad inputs, and acceptance runs on synthetic data
whose truth is known."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import math
import re
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from regulab.advise import (
    ADVICE_SCHEMA_VERSION,
    Advice,
    Reason,
    advise,
    candidate_configs,
    code_snippets,
    parse_budget,
    reasons_from,
    selected_features,
)
from regulab.config import TrainConfig
from regulab.data import make_synthetic
from regulab.diagnose import DataDiagnostics, Finding
from regulab.errors import DataError, InvalidParameterError
from regulab.experiment import RunRecord
from regulab.models import MLP, LinearModel
from regulab.penalties import ElasticNet

ACCEPTANCE_BUDGET = "15s"  # each acceptance run takes 3-11 s on the busy 2-core test machine


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The test machine has 2 busy cores: one thread is faster than contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the rules, on made-up data profiles -------------------------------------------------------


def _profile(
    *,
    samples: int = 5000,
    features: int = 20,
    irrelevant: int = 0,
    groups: int = 0,
    in_groups: int = 0,
    largest_r: float = 0.1,
    condition: float | None = 2.0,
    per_sample: float = 0.5,
    label_noise: float = 0.05,
    outliers: float = 0.0,
) -> DataDiagnostics:
    """Diagnostics of an imaginary data set: by default nothing calls for regularization."""
    profile = DataDiagnostics()
    profile["samples"] = Finding("samples", float(samples), f"{samples} samples.")
    profile["features"] = Finding("features", float(features), f"{features} features.")
    profile["parameters_per_sample"] = Finding("parameters_per_sample", per_sample, "capacity")
    profile["irrelevant_features"] = Finding(
        "irrelevant_features",
        float(irrelevant),
        "irrelevant",
        {"features": [f"x{j}" for j in range(irrelevant)], "share": irrelevant / features},
    )
    profile["correlation"] = Finding(
        "correlation",
        largest_r,
        "correlation",
        {
            "n_groups": groups,
            "features_in_groups": in_groups,
            "condition_number": condition,
            "ill_conditioned": condition is None or condition > 1e3,
        },
    )
    profile["outliers"] = Finding("outliers", outliers, "outliers")
    profile["label_noise"] = Finding("label_noise", label_noise, "label noise")
    return profile


RULES = [
    # (id, profile, reasons_from options, reason code, favoured techniques, whole sentence)
    (
        "many-irrelevant",
        {"features": 200, "irrelevant": 150},
        {},
        "irrelevant_features",
        ("l1", "elastic_net"),
        "150 of 200 features look irrelevant (no signal alone or together) → L1 or elastic net "
        "zeroes them.",
    ),
    (
        "correlated-groups",
        {"groups": 2, "in_groups": 8, "largest_r": 0.95},
        {},
        "correlated_features",
        ("l2", "elastic_net"),
        "2 group(s) of highly correlated features (8 features, largest |r| 0.95) → L2 or "
        "elastic net; pure L1 would keep one feature of each group arbitrarily.",
    ),
    (
        "ill-conditioned",
        {"condition": 5000.0},
        {},
        "correlated_features",
        ("l2", "elastic_net"),
        "An ill-conditioned design (condition number 5e+03) → L2 or elastic net; pure L1 would "
        "keep one feature of each group arbitrarily.",
    ),
    (
        "singular",
        {"condition": None},
        {},
        "correlated_features",
        ("l2", "elastic_net"),
        "An ill-conditioned design (condition number inf) → L2 or elastic net; pure L1 would "
        "keep one feature of each group arbitrarily.",
    ),
    (
        "irrelevant-and-correlated",
        {"features": 40, "irrelevant": 20, "groups": 1, "in_groups": 4, "largest_r": 0.97},
        {},
        "irrelevant_and_correlated",
        ("elastic_net",),
        "Both irrelevant and correlated features → elastic net gets L1's selection and L2's "
        "grouping.",
    ),
    (
        "high-capacity",
        {"per_sample": 25.0},
        {},
        "high_capacity",
        ("dropout", "early_stopping", "batchnorm"),
        "The model has 25 parameters per training sample → dropout, batch norm or early "
        "stopping rather than ever stronger penalties, which underfit.",
    ),
    (
        "small-data",
        {},
        {"n_train": 105},
        "small_data",
        ("dropout", "l2", "early_stopping"),
        "Only 105 training samples → dropout or L2, with early stopping.",
    ),
    (
        "label-noise",
        {"label_noise": 0.3},
        {},
        "label_noise",
        ("early_stopping", "dropout", "l2"),
        "A cross-validated model disagrees with 30% of the labels → early stopping before the "
        "network memorizes the noise, plus dropout or L2.",
    ),
    (
        "outliers",
        {"outliers": 0.05},
        {},
        "outliers",
        ("early_stopping", "l2"),
        "5.0% of rows are far outliers → early stopping and moderate L2.",
    ),
    (
        "interpretable",
        {},
        {"interpretable": True},
        "interpretable",
        ("l1", "linear"),
        "Interpretability was asked for → L1 (exact zeros, a short list of kept features), on a "
        "linear model when it holds up.",
    ),
    (
        "important-features",
        {},
        {"important_features": ["x1", "x2"]},
        "domain_knowledge",
        ("l1", "elastic_net"),
        "2 feature(s) marked important → their penalty factor is lowered so the penalty spares "
        "them.",
    ),
    (
        "small-budget",
        {},
        {"budget_seconds": 60.0},
        "small_budget",
        ("dropout", "early_stopping"),
        "A 60 s budget → dropout and early stopping cost almost nothing extra (early stopping "
        "even saves time).",
    ),
]


@pytest.mark.parametrize(
    ("profile", "options", "code", "techniques", "sentence"),
    [case[1:] for case in RULES],
    ids=[case[0] for case in RULES],
)
def test_rule_fires_with_its_number(profile, options, code, techniques, sentence):
    reasons = reasons_from(_profile(**profile), **{"n_train": 5000, **options})
    fired = {reason.code: reason for reason in reasons}
    assert code in fired
    assert fired[code].techniques == techniques
    assert fired[code].sentence == sentence
    assert 0 < fired[code].score <= 1
    assert json.loads(json.dumps(fired[code].to_dict()))["code"] == code


def test_neutral_profile_fires_no_rule():
    assert reasons_from(_profile(), n_train=5000, budget_seconds=300.0) == []


@pytest.mark.parametrize(
    ("profile", "options"),
    [
        ({"features": 20, "irrelevant": 4}, {}),  # share 0.2: not above the threshold
        ({"per_sample": 1.0}, {}),
        ({}, {"n_train": 1000}),
        ({"label_noise": 0.2}, {}),
        ({"label_noise": math.nan}, {}),  # too few samples per class to estimate
        ({"outliers": 0.02}, {}),
        ({}, {"budget_seconds": 120.0}),
    ],
    ids=["irrelevant", "capacity", "data", "noise", "noise-nan", "outliers", "budget"],
)
def test_rules_stay_quiet_at_their_thresholds(profile, options):
    assert reasons_from(_profile(**profile), **{"n_train": 5000, **options}) == []


def test_reasons_come_strongest_first():
    profile = _profile(
        features=200, irrelevant=150, groups=2, in_groups=8, per_sample=25.0, label_noise=0.3
    )
    reasons = reasons_from(profile, n_train=105, interpretable=True, budget_seconds=60.0)
    scores = [reason.score for reason in reasons]
    assert scores == sorted(scores, reverse=True)
    assert len(reasons) == 8


def test_correlated_groups_favour_l2_and_elastic_net_over_pure_l1():
    reasons = reasons_from(
        _profile(groups=2, in_groups=8, largest_r=0.95), n_train=5000, budget_seconds=300.0
    )
    assert [reason.avoid for reason in reasons] == [("l1",)]
    candidates, scores = candidate_configs(reasons, has_hidden=True)
    assert scores["l1"] < 0 < scores["l2"]
    assert scores["elastic_net"] > 0
    assert not any("l1" in name.split("+") for name in candidates)
    assert {"l2", "elastic_net"} <= set(candidates)


def test_many_irrelevant_features_put_l1_and_elastic_net_first():
    reasons = reasons_from(_profile(features=200, irrelevant=150), n_train=5000)
    candidates, scores = candidate_configs(reasons, has_hidden=True)
    assert candidates == ["none", "l1", "elastic_net"]
    assert scores == {"l1": pytest.approx(0.95), "elastic_net": pytest.approx(0.95)}


def test_high_capacity_candidates():
    reasons = reasons_from(_profile(per_sample=25.0), n_train=5000)
    candidates, _ = candidate_configs(reasons, has_hidden=True)
    assert candidates == [
        "none",
        "dropout+early_stopping",
        "batchnorm+early_stopping",
        "early_stopping",
        "batchnorm+dropout=0.2+early_stopping",
    ]


def test_interpretable_adds_a_linear_l1_candidate():
    reasons = reasons_from(_profile(), n_train=5000, interpretable=True)
    candidates, _ = candidate_configs(reasons, has_hidden=True)
    assert candidates == ["none", "l1", "linear+l1"]


PROFILES = [
    ({}, {}),
    ({"per_sample": 25.0}, {"n_train": 105}),
    ({"features": 200, "irrelevant": 150, "groups": 2, "in_groups": 8}, {"interpretable": True}),
    ({"label_noise": 0.3, "outliers": 0.05}, {"budget_seconds": 30.0}),
    ({"per_sample": 25.0, "label_noise": 0.4}, {"n_train": 300, "budget_seconds": 30.0}),
]


@pytest.mark.parametrize(("profile", "options"), PROFILES)
@pytest.mark.parametrize("has_hidden", [True, False], ids=["mlp", "no-hidden-layer"])
def test_candidate_configs_start_with_none(profile, options, has_hidden):
    reasons = reasons_from(_profile(**profile), **{"n_train": 5000, **options})
    candidates, _ = candidate_configs(reasons, has_hidden=has_hidden, limit=5)
    assert candidates[0] == "none"
    assert len(candidates) == len(set(candidates)) <= 1 + 5 + 2  # none, singles, combos
    techniques = {part.split("=")[0] for name in candidates for part in name.split("+")}
    if not has_hidden:
        assert not techniques & {"dropout", "batchnorm"}


def test_neutral_profile_still_gets_default_candidates():
    assert candidate_configs([], has_hidden=True)[0] == [
        "none",
        "l2+early_stopping",
        "dropout+early_stopping",
        "early_stopping",
        "dropout+l2+early_stopping",
    ]
    assert candidate_configs([], has_hidden=False)[0] == [
        "none",
        "l2+early_stopping",
        "early_stopping",
    ]


def test_only_dropout_favoured_without_hidden_layer_falls_back():
    reasons = [Reason("made_up", ("dropout", "batchnorm"), 1.0, "Made up.")]
    assert candidate_configs(reasons, has_hidden=False)[0] == [
        "none",
        "l2+early_stopping",
        "early_stopping",
    ]


# -- parse_budget -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("1.5h", 5400.0),
        (30, 30.0),
        (2.5, 2.5),
        ("2 min", 120.0),
        ("45sec", 45.0),
        (" 10S ", 10.0),
        ("20", 20.0),
    ],
)
def test_parse_budget(budget, seconds):
    assert parse_budget(budget) == seconds


@pytest.mark.parametrize(
    ("budget", "shown"),
    [("0", "'0'"), ("-1", "'-1'"), ("soon", "'soon'"), ("", "''"), (0, "0"), ("5d", "'5d'")],
)
def test_bad_budget(budget, shown):
    message = f"The budget must be a positive duration such as 90s, 5m or 1h. Got {shown}."
    with pytest.raises(InvalidParameterError, match=re.escape(message)) as error:
        parse_budget(budget)
    assert str(error.value) == message


# -- selected_features ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("masses", "kwargs", "kept"),
    [
        ([[3.0, 0.1, 2.5, 0.0]], {}, ["a", "c"]),  # the docstring's gap
        ([[10.0, 5.0, 0.1, 0.05]], {}, ["a", "b"]),  # cut at the largest ratio, not the first
        ([[0.1, 3.0, 2.9, 0.0]], {}, ["b", "c"]),  # names keep their input order
        ([[1.0, 0.0, 0.9, 0.0]], {}, ["a", "c"]),  # exact zeros never kept
        ([[1.0, 0.8, 0.6, 0.5]], {}, ["a", "b", "c", "d"]),  # no gap: every non-zero input
        ([[1.0, 0.8, 0.0, 0.5]], {}, ["a", "b", "d"]),
        ([[1.0, 0.05, 0.9, 0.8], [90.0, 4.0, 100.0, 70.0]], {}, ["a", "c", "d"]),  # scaled
        ([[1.0, 0.4, 0.1, 0.1]], {"gap": 2.0}, ["a", "b"]),
        ([[1.0, 0.4, 0.3, 0.2]], {"gap": 3.0}, ["a", "b", "c", "d"]),
        ([[0.0, 0.0, 0.0, 0.0]], {}, []),
        # inputs under 1% of the largest are never kept, and their ratios never cut
        ([[1.0, 0.9, 0.005, 0.00001]], {}, ["a", "b"]),
        ([[1.0, 0.3, 0.2, 0.009]], {}, ["a"]),
        ([], {}, []),
    ],
)
def test_selected_features(masses, kwargs, kept):
    assert selected_features(masses, ["a", "b", "c", "d"], **kwargs) == kept


# -- code snippets ------------------------------------------------------------------------------

SIZES = [6, 16, 8, 3]


def _data(task: str, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, SIZES[0])).astype(np.float32)
    if task == "classification":
        return X, X[:, :3].argmax(1).astype(np.int64)
    return X, (X[:, 0] - 0.5 * X[:, 1]).astype(np.float32)


def _namespace(X: np.ndarray, y: np.ndarray) -> dict:
    return {
        "X_train": X[:40],
        "y_train": y[:40],
        "X_val": X[40:52],
        "y_val": y[40:52],
        "X_test": X[52:],
        "y_test": y[52:],
    }


SNIPPET_CONFIGS = {
    "l1+early_stopping": TrainConfig(l1=1e-3, prox_l1=True, early_stopping=("val_loss", 3)),
    "dropout+l2": TrainConfig(dropout=(0.5,), l2=1e-3),
    "elastic_net": TrainConfig(elastic_net=(1e-3, 0.5), prox_l1=True),
    "batchnorm": TrainConfig(batchnorm=True, dropout=(0.3, 0.2), input_dropout=0.1),
    "linear": TrainConfig(model="linear", l1=1e-3, prox_l1=True, early_stopping=("val_loss", 2)),
    "weight_decay": TrainConfig(weight_decay=1e-2),
    "important-features": TrainConfig(l1=1e-3, prox_l1=True, feature_factors=[0.25] + [1.0] * 5),
    "column-groups": TrainConfig(elastic_net=(1e-3, 0.5), feature_groups=[0, 1, 1, 1, 2, 3]),
}

SNIPPET_DROPOUT = {"dropout+l2": [0.5, 0.5], "batchnorm": [0.1, 0.3, 0.2]}  # input first


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", list(SNIPPET_CONFIGS))
def test_regulab_snippet_runs(name, task, capsys):
    config = SNIPPET_CONFIGS[name]
    sizes = SIZES if task == "classification" else SIZES[:-1] + [1]
    code = code_snippets(config, sizes, task)["regulab"]
    assert code.count("epochs=10,") == 1
    namespace = _namespace(*_data(task))
    exec(code.replace("epochs=10,", "epochs=2,"), namespace)
    model = namespace["result"].model
    if config.model == "linear":
        assert isinstance(model, LinearModel)
        assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == [sizes[-1]]
    else:
        assert isinstance(model, MLP)
        dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout) and m.p > 0]
        assert dropouts == SNIPPET_DROPOUT.get(name, [])
        assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == config.batchnorm
    assert model.architecture.task == task
    assert len(namespace["result"].history) <= 2
    assert namespace.get("factors") == config.feature_factors
    printed = capsys.readouterr().out
    assert ("'accuracy'" if task == "classification" else "'r2'") in printed


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", list(SNIPPET_CONFIGS))
def test_pytorch_snippet_runs(name, task):
    config = SNIPPET_CONFIGS[name]
    sizes = SIZES if task == "classification" else SIZES[:-1] + [1]
    code = code_snippets(config, sizes, task)["pytorch"]
    assert code.count("range(10)") == 1
    namespace = {k: torch.from_numpy(v) for k, v in _namespace(*_data(task)).items()}
    exec(code.replace("range(10)", "range(2)"), namespace)
    model = namespace["model"]
    linears = [m for m in model if isinstance(m, nn.Linear)]
    widths = [sizes[0], sizes[-1]] if config.model == "linear" else sizes
    assert [m.in_features for m in linears] + [linears[-1].out_features] == widths
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model) == 2 * config.batchnorm
    hidden_biases = [m.bias is not None for m in linears[:-1]]
    assert hidden_biases == [not config.batchnorm] * len(hidden_biases)  # as in regulab.MLP
    assert namespace["best_state"] is not None
    assert ("AdamW" in code) == bool(config.weight_decay)


def test_pytorch_snippet_group_lasso_equals_regulab_penalty():
    """A table's column groups: the plain loop's term is Regulab's grouped elastic net."""
    groups = [0, 1, 1, 1, 2, 3]
    config = TrainConfig(elastic_net=(1e-2, 0.5), feature_groups=groups)
    snippets = code_snippets(config, SIZES)
    assert (
        f"groups = {groups}" in snippets["regulab"]
        and "feature_groups=groups" in snippets["regulab"]
    )
    assert "Keras has no group lasso" in snippets["keras"]
    code = snippets["pytorch"]
    namespace: dict = {"torch": torch}
    for line in code.splitlines():
        if line.startswith(("groups = ", "root_sizes = ")):
            exec(line, namespace)
    term = next(line for line in code.splitlines() if "loss = loss + " in line)
    model = MLP("-".join(map(str, SIZES)), seed=0)
    namespace["weights"] = [p for p in model.parameters() if p.ndim > 1]
    step = [
        line.strip() for line in code.splitlines() if line.lstrip().startswith(("blocks", "l1_sum"))
    ]
    with torch.no_grad():
        exec("\n".join(step), namespace)
        pasted = eval(term.split("loss = loss + ")[1], namespace)
        expected = ElasticNet(1e-2, 0.5, feature_groups=groups)(model)
        ungrouped = ElasticNet(1e-2, 0.5)(model)
    assert float(pasted) == pytest.approx(float(expected), rel=1e-5)
    assert float(pasted) != pytest.approx(float(ungrouped), rel=1e-3)


def test_snippets_of_a_wide_table_fit_80_columns():
    """86 encoded inputs: the pasted factors and groups lists wrap, and still paste."""
    groups = [*range(80), *([80] * 6)]
    config = TrainConfig(l1=1e-3, feature_groups=groups, feature_factors=[0.25] * 6 + [1.0] * 80)
    snippets = code_snippets(config, [86, 16, 3])
    for name in ("regulab", "pytorch"):
        assert max(map(len, snippets[name].splitlines())) <= 79, name
    lines = snippets["regulab"].splitlines()
    namespace: dict = {}
    for name in ("factors", "groups"):
        first = lines.index(f"{name} = [")
        exec("\n".join(lines[first : lines.index("]", first) + 1]), namespace)
    assert namespace["groups"] == groups and namespace["factors"] == config.feature_factors


def test_pytorch_snippet_penalty_uses_regulab_coefficients():
    config = TrainConfig(l1=1e-4, l2=1e-3, elastic_net=(1e-2, 0.5))
    code = code_snippets(config, SIZES)["pytorch"]
    # elastic net alpha * (ratio * |w| + (1 - ratio) / 2 * w^2) added to L1 and L2
    assert (
        "loss = loss + 0.0051 * sum(w.abs().sum() for w in weights) + 0.0035 * "
        "sum(w.pow(2).sum() for w in weights)" in code
    )


def test_keras_snippet_text():
    config = TrainConfig(
        elastic_net=(0.01, 0.3), dropout=(0.5, 0.25), batchnorm=True, early_stopping=("val_loss", 4)
    )
    code = code_snippets(config, [10, 16, 8, 3])["keras"]
    ast.parse(code)
    # Keras' L1L2 is l1 * |w| + l2 * w^2: l1 = alpha * ratio, l2 = alpha * (1 - ratio) / 2
    assert code.count("kernel_regularizer=regularizers.L1L2(l1=0.003, l2=0.0035)") == 3
    assert "    layers.Dropout(0.5),\n" in code
    assert "    layers.Dropout(0.25),\n" in code
    assert code.count("layers.BatchNormalization(momentum=0.9, epsilon=1e-5)") == 2
    assert code.count("use_bias=False") == 2  # the hidden layers batch norm follows
    assert (
        'callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, '
        "restore_best_weights=True)]" in code
    )
    assert 'layers.Dense(3, activation="softmax", kernel_regularizer' in code
    assert 'loss="sparse_categorical_crossentropy", metrics=["accuracy"]' in code


def test_keras_snippet_regression_and_linear_text():
    config = TrainConfig(model="linear", l1=1e-3, prox_l1=True)
    code = code_snippets(config, [10, 128, 64, 1], "regression")["keras"]
    ast.parse(code)
    assert "keras.Input(shape=(10,))" in code
    assert "layers.Dense(1, kernel_regularizer=regularizers.L1(0.001))" in code  # no l2=0
    assert "layers.Dense(128" not in code and "Dropout" not in code
    assert 'loss="mse", metrics=["mae"]' in code
    assert "EarlyStopping" not in code


def test_snippets_of_a_linear_answer_ignore_the_compared_mlp_sizes():
    """The advisor passes its MLP's sizes; a linear answer must still give a linear model."""
    snippets = code_snippets(TrainConfig(model="linear", l1=1e-3), [10, 128, 64, 3])
    assert "model = LinearModel(10, 3, seed=0)" in snippets["regulab"]
    assert "nn.Linear(10, 3)," in snippets["pytorch"]
    assert "nn.Linear(10, 128)" not in snippets["pytorch"]


# -- acceptance on synthetic ground truth -------------------------------------------------------


def _mean(advice: Advice, config: str, metric: str) -> float:
    values = [r.metrics[metric] for r in advice.records if r.config_name == config]
    assert values
    return float(np.mean(values))


def _evidence(advice: Advice) -> str:
    """The ranked evidence, printed in assertion messages so a failure can be investigated."""
    rows = [
        f"{row['config']:45s} val_loss {row['val_loss']:.4f} "
        f"test_loss {_mean(advice, row['config'], 'test_loss'):.4f} "
        f"test_accuracy {_mean(advice, row['config'], 'test_accuracy'):.4f}"
        for row in advice.ranked
    ]
    return f"recommended {advice.recommendation}, {advice.data['epochs']} epochs\n" + "\n".join(
        rows
    )


def test_many_irrelevant_features_get_a_sparse_answer():
    data = make_synthetic(600, n_informative=8, n_irrelevant=292, seed=0)
    advice = advise(data, budget=ACCEPTANCE_BUDGET, seeds=3, verbose=0)
    evidence = _evidence(advice)
    assert advice.config.l1 or advice.config.elastic_net, evidence
    informative = {data.feature_names[i] for i in data.informative}
    kept = set(advice.selected_features)
    assert len(kept & informative) >= 0.9 * len(informative), evidence
    assert len(kept) < 30, f"{len(kept)} kept\n{evidence}"


def test_correlated_groups_are_not_answered_with_pure_l1():
    data = make_synthetic(
        600, n_informative=8, n_groups=2, correlation=0.95, n_irrelevant=20, seed=0
    )
    advice = advise(data, budget=ACCEPTANCE_BUDGET, seeds=3, verbose=0)
    config = advice.config
    assert not (config.l1 and not config.l2 and not config.elastic_net), _evidence(advice)
    assert "correlated_features" in [reason.code for reason in advice.reasons]


def test_correlated_groups_without_strength_tuning_are_not_answered_with_pure_l1(monkeypatch):
    """On a busy machine the budget may leave no time to tune strengths; then the candidates
    alone decide, and pure L1 (the sparsest) ties with the best: the rules must break it."""
    searching = importlib.import_module("regulab.advise._search")
    monkeypatch.setattr(searching, "_strength_variants", lambda name, wide=False: [])
    data = make_synthetic(
        600, n_informative=8, n_groups=2, correlation=0.95, n_irrelevant=20, seed=0
    )
    advice = advise(data, budget=ACCEPTANCE_BUDGET, seeds=3, verbose=0)
    config = advice.config
    assert not (config.l1 and not config.l2 and not config.elastic_net), _evidence(advice)
    rows = {row["config"]: row for row in advice.evidence}
    if rows["l1+early_stopping"]["tied"] and not rows["l1+early_stopping"]["best"]:
        assert any("the rules argue against l1" in note for note in advice.notes)


def test_about_100_training_samples_beats_no_regularization():
    # 100 training rows (max_train), scored on 200 test rows: with make_synthetic(150) the
    # test split has 30 rows and the validation split 15, too few to tell configs apart.
    data = make_synthetic(1000, n_informative=5, n_irrelevant=40, seed=0)
    advice = advise(data, budget=ACCEPTANCE_BUDGET, seeds=3, verbose=0, max_train=100)
    evidence = _evidence(advice)
    assert advice.data["n_train"] == 100
    chosen = advice.recommendation
    assert chosen != "none", evidence
    assert _mean(advice, chosen, "test_loss") < _mean(advice, "none", "test_loss"), evidence
    assert _mean(advice, chosen, "test_accuracy") >= _mean(advice, "none", "test_accuracy"), (
        evidence
    )


def test_noisy_labels_get_an_answer_that_beats_training_to_the_end():
    """30% flipped labels: early stopping, or a smaller (linear) model, beats the network
    trained to the last epoch."""
    data = make_synthetic(1500, n_informative=6, n_irrelevant=10, label_noise=0.3, seed=0)
    advice = advise(data, budget=ACCEPTANCE_BUDGET, seeds=3, verbose=0)
    evidence = _evidence(advice)
    config = advice.config
    assert config.early_stopping is not None or config.model == "linear", evidence
    baseline = [r for r in advice.records if r.config_name == "none"]
    assert all(r.config["early_stopping"] is None for r in baseline)
    assert all(r.epochs_run == advice.data["epochs"] for r in baseline)
    chosen = advice.recommendation
    assert _mean(advice, chosen, "test_accuracy") > _mean(advice, "none", "test_accuracy"), evidence


# -- bad inputs: one clear line each -------------------------------------------------------------


def _one_class_csv(path, label):
    pd.DataFrame(
        {"a": [1.0, 2, 3, 4, 5, 6], "b": [0.5, 1, 2, 1, 0, 3], "label": [label] * 6}
    ).to_csv(path, index=False)
    return str(path)


def test_unknown_dataset_name_suggests_the_closest():
    with pytest.raises(DataError) as error:
        advise("irsi", verbose=0)
    assert str(error.value) == (
        "Unknown dataset 'irsi'. Built-in datasets: digits, breast_cancer, wine, iris, diabetes, "
        "penguins, mnist, synthetic; or give the path of a .csv, .parquet, .pq, .npz file. "
        "Did you mean 'iris'?"
    )


@pytest.mark.parametrize(("budget", "shown"), [("0", "'0'"), ("soon", "'soon'"), (0, "0")])
def test_advise_bad_budget(budget, shown):
    with pytest.raises(InvalidParameterError) as error:
        advise("iris", budget=budget, verbose=0)
    assert str(error.value) == (
        f"The budget must be a positive duration such as 90s, 5m or 1h. Got {shown}."
    )


def test_one_seed_is_refused():
    with pytest.raises(InvalidParameterError) as error:
        advise("iris", seeds=1, verbose=0)
    assert str(error.value) == (
        "The 'seeds' parameter of advise must be an int in the range [2, inf). Got 1 instead."
    )


@pytest.mark.parametrize("name", ["x44", "X4"])
def test_unknown_important_feature_names_it_and_suggests_the_closest(name):
    data = make_synthetic(60, n_informative=2, n_irrelevant=3, seed=0)
    with pytest.raises(InvalidParameterError) as error:
        advise(data, important_features=["x1", name], verbose=0)
    assert str(error.value) == (
        f"Important feature '{name}' is not a feature of synthetic (5 features, e.g. x0, x1, "
        "x2, x3, x4). Did you mean 'x4'?"
    )


@pytest.mark.parametrize(
    ("label", "task", "shown"),
    [("yes", None, "'yes'"), (1, "classification", "1")],
    ids=["text-target", "numeric-target-as-classes"],
)
def test_one_class_target_is_a_data_error(tmp_path, label, task, shown):
    path = _one_class_csv(tmp_path / "one.csv", label)
    with pytest.raises(DataError) as error:
        advise(path, target="label", task=task, verbose=0)
    assert str(error.value) == (
        f"The target 'label' has a single class ({shown}); classification needs at least 2."
    )


def test_error_messages_are_one_line():
    for call in (
        lambda: advise("irsi", verbose=0),
        lambda: advise("iris", budget="soon", verbose=0),
        lambda: advise("iris", seeds=1, verbose=0),
    ):
        with pytest.raises(ValueError) as error:
            call()
        assert "\n" not in str(error.value)


# -- interpretable answers and the JSON contract --------------------------------------------------


@pytest.fixture(scope="module")
def interpretable_advice() -> tuple[Advice, list[str]]:
    data = make_synthetic(300, n_informative=3, n_irrelevant=12, seed=0)
    informative = [data.feature_names[i] for i in data.informative]
    irrelevant = next(name for name in data.feature_names if name not in informative)
    advice = advise(
        data,
        interpretable=True,
        important_features=[informative[0], irrelevant],
        budget="8s",
        seeds=2,
        verbose=0,
    )
    return advice, [informative[0], irrelevant]


def test_interpretable_lists_kept_features_and_important_ones(interpretable_advice):
    advice, important = interpretable_advice
    assert advice.selected_features
    assert set(advice.selected_features) <= {f"x{j}" for j in range(15)}
    assert "interpretable" in [reason.code for reason in advice.reasons]
    assert any(name.startswith("linear") for name in advice.candidates)
    assert set(advice.important_features) == set(important)
    assert advice.important_features == {
        name: name in advice.selected_features for name in important
    }
    assert advice.important_features[important[0]] is True  # an informative feature survives
    factors = [0.25 if name in important else 1.0 for name in (f"x{j}" for j in range(15))]
    assert advice.config.feature_factors == factors


def test_interpretable_answer_code_runs_with_its_feature_factors(interpretable_advice, capsys):
    advice, _ = interpretable_advice
    code = advice.code["regulab"]
    epochs = f"epochs={advice.config.epochs},"
    assert code.count(epochs) == 1
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 15)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    namespace = _namespace(np.concatenate([X, X[:24]]), np.concatenate([y, y[:24]]))
    exec(code.replace(epochs, "epochs=2,"), namespace)
    assert namespace["factors"] == advice.config.feature_factors
    capsys.readouterr()


def test_to_json_contract(interpretable_advice):
    advice, _ = interpretable_advice
    payload = advice.to_json()
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    # a score without an interval (one run per config) is null, never NaN
    assert dataclasses.replace(advice, seconds=float("nan")).to_json()["seconds"] is None
    assert set(payload) == {  # docs/json-schemas.md, "advise --json"
        "schema_version",
        "task",
        "data",
        "diagnostics",
        "reasons",
        "recommendation",
        "ranked",
        "expected_gain",
        "selected_features",
        "important_features",
        "evidence",
        "notes",
        "seconds",
        "metrics",
        "baseline",
    }
    assert set(payload["data"]) == {
        "name",
        "task",
        "n_train",
        "n_val",
        "n_test",
        "n_features",
        "model",
        "fingerprint",
        "budget_seconds",
        "epochs",
        "seeds",
        "selection",
        "target",
        "refit_model",
        "source",
    }
    assert payload["data"]["selection"]["method"] == "cv"  # 300 rows: cross-validated
    assert all(
        set(row) == {"config", "val_loss", "test_accuracy", "preferred", "tied"}
        for row in payload["ranked"]
    )
    assert [row["preferred"] for row in payload["ranked"]].count(True) == 1
    assert payload["schema_version"] == ADVICE_SCHEMA_VERSION == 2
    assert payload["task"] == "classification"
    assert set(payload["recommendation"]) == {
        "config",
        "techniques",
        "model",
        "sizes",
        "estimator",
        "params",
        "refit_epochs",
        "train_command",
        "code",
    }
    assert set(payload["recommendation"]["code"]) == {"regulab", "pytorch", "keras"}
    assert payload["recommendation"]["config"] == advice.recommendation
    assert payload["recommendation"]["techniques"] == advice.techniques
    assert payload["recommendation"]["params"]["epochs"] == advice.refit_epochs
    assert set(payload["diagnostics"]) >= {"irrelevant_features", "correlation", "label_noise"}
    assert [row["config"] for row in payload["ranked"]][0] == advice.recommendation
    assert {row["config"] for row in payload["evidence"]} == {
        row["config"] for row in payload["ranked"]
    }
    assert payload["expected_gain"]["metric"] == "test_accuracy"
    folds = {r.seed for r in advice.records if r.config_name == advice.recommendation}
    baseline = {r.seed for r in advice.records if r.config_name == "none"}
    assert len(payload["expected_gain"]["per_seed"]) == len(folds & baseline) >= 3
    assert payload["selected_features"] == advice.selected_features


# -- selection: one standard error over folds, finite only, never the test part ----------------

from regulab.advise._metric import selection_metric  # noqa: E402
from regulab.advise._refit import estimator_spec, train_command  # noqa: E402
from regulab.advise._select import one_se_choice  # noqa: E402
from regulab.estimators import ESTIMATORS, RegularizedLinearClassifier  # noqa: E402


def _by_name(name: str) -> tuple[int]:
    return (len(name),)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # a diverged baseline (NaN on one fold) is never best, tied or chosen
        (
            {"none": {0: float("nan"), 1: 0.1}, "l2": {0: 0.5, 1: 0.6}},
            ("l2", [], "l2"),
        ),
        ({"none": {0: float("inf"), 1: 0.1}, "l2": {0: 0.5, 1: 0.6}}, ("l2", [], "l2")),
        # within one SE of the best (SE over the best's folds: 0.05): the simpler wins
        (
            {"dropout+l2": {0: 0.40, 1: 0.50}, "l2": {0: 0.48, 1: 0.48}, "none": {0: 0.9, 1: 1}},
            ("dropout+l2", ["l2"], "l2"),
        ),
        # beyond one SE: the best stays
        (
            {"dropout+l2": {0: 0.40, 1: 0.42}, "l2": {0: 0.48, 1: 0.48}},
            ("dropout+l2", [], "dropout+l2"),
        ),
    ],
    ids=["nan-baseline", "inf-baseline", "tie-to-simpler", "clear-winner"],
)
def test_one_se_choice(values, expected):
    assert one_se_choice(values, _by_name) == expected


def test_one_se_choice_refuses_when_everything_diverged():
    with pytest.raises(DataError) as error:
        one_se_choice({"none": {0: float("nan")}}, _by_name)
    assert str(error.value).startswith("Every candidate diverged (non-finite validation loss)")


def _fixed_advice(monkeypatch, permute_test: bool, cross_validate: bool) -> Advice:
    """An advice whose epochs do not depend on the machine's speed."""
    advisor = importlib.import_module("regulab.advise._advisor")
    if not cross_validate:
        monkeypatch.setattr(advisor, "_CV_ROWS", 0)
    searching = importlib.import_module("regulab.advise._search")
    monkeypatch.setattr(searching, "_probe_seconds", lambda bundle, specs: (1e-3, 0.0))
    monkeypatch.setattr(searching, "_MAX_EPOCHS_SMALL", 4)
    monkeypatch.setattr(searching, "_CV_MAX_REPEATS", 1)
    original = advisor.prepare_data

    def prepare(*args, **kwargs):
        dataset, bundle = original(*args, **kwargs)
        if permute_test:
            order = np.random.default_rng(1).permutation(len(bundle.y_test))
            bundle = dataclasses.replace(bundle, y_test=bundle.y_test[order])
        return dataset, bundle

    monkeypatch.setattr(advisor, "prepare_data", prepare)
    data = make_synthetic(150, n_informative=3, n_irrelevant=5, seed=0)
    return advise(data, model="8-16-2", budget="1h", seeds=2, verbose=0)


@pytest.mark.parametrize("method", ["cv", "holdout"])
def test_permuting_the_test_labels_leaves_the_advice_unchanged(monkeypatch, method):
    """Issue 9: the pick is made on validation folds (or the validation part of one split);
    the test part is only reported."""
    plain = _fixed_advice(monkeypatch, permute_test=False, cross_validate=method == "cv")
    permuted = _fixed_advice(monkeypatch, permute_test=True, cross_validate=method == "cv")
    assert plain.data["selection"]["method"] == method
    assert permuted.recommendation == plain.recommendation
    assert permuted.candidates == plain.candidates
    assert [r.code for r in permuted.reasons] == [r.code for r in plain.reasons]
    assert permuted.diagnostics.to_dict() == plain.diagnostics.to_dict()
    for a, b in zip(plain.ranked, permuted.ranked):
        assert (a["config"], a["preferred"], a["tied"]) == (b["config"], b["preferred"], b["tied"])
        assert a["val_loss"] == pytest.approx(b["val_loss"])
    assert (
        permuted.to_json()["recommendation"]["params"]
        == (plain.to_json()["recommendation"]["params"])
    )
    assert [r.metrics["test_accuracy"] for r in permuted.records] != [
        r.metrics["test_accuracy"] for r in plain.records
    ]


CONFIGS = [
    # (config, layer sizes, cross-validated)
    (TrainConfig(dropout=(0.5,), l2=1e-3, epochs=3), [4, 128, 64, 3], False),
    (TrainConfig(dropout=(0.5, 0.3), batchnorm=True, epochs=3), [4, 16, 8, 3], False),
    (
        TrainConfig(model="4-8-3", early_stopping=("val_loss", 3), epochs=30),
        [4, 8, 3],
        True,
    ),
    (
        TrainConfig(model="linear", l1=1e-2, prox_l1=True, lr=1e-2, epochs=3),
        [4, 3],
        True,
    ),
    (
        TrainConfig(elastic_net=(1e-3, 0.5), prox_l1=True, early_stopping=("val_loss", 2)),
        [4, 128, 64, 3],
        False,
    ),
]


@pytest.mark.parametrize(("config", "sizes", "cross_validated"), CONFIGS)
def test_recommendation_params_build_the_estimator_and_the_train_command(
    config, sizes, cross_validated, tmp_path
):
    from regulab.cli import main

    name, params = estimator_spec(config, sizes, "classification", 2, cross_validated)
    assert json.loads(json.dumps(params)) == params  # the JSON form builds it too
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    y = np.arange(60) % 3
    estimator = ESTIMATORS[name](**{**params, "epochs": 1}).fit(X, y)
    assert estimator.predict(X).shape == (60,)
    if cross_validated and config.early_stopping:
        assert params["epochs"] == 2 and "early_stopping" not in params
    data = {"name": "iris", "task": "classification", "target": None, "source": "iris"}
    words = train_command(config, sizes, data, 2, cross_validated).split()
    assert words[:2] == ["regulab", "train"]
    words[words.index("--epochs") + 1] = "1"
    assert main([*words[1:], "--quiet", "--json", str(tmp_path / "run.json")]) == 0


def test_from_advice_builds_the_recommended_estimator_or_names_the_right_class():
    payload = {
        "recommendation": {
            "estimator": "RegularizedLinearClassifier",
            "params": {"l1": 0.01, "prox_l1": True, "elastic_net": None, "epochs": 2},
        }
    }
    estimator = RegularizedLinearClassifier.from_advice(payload)
    assert (estimator.l1, estimator.prox_l1, estimator.epochs) == (0.01, True, 2)
    from regulab.estimators import RegularizedMLPClassifier

    with pytest.raises(InvalidParameterError) as error:
        RegularizedMLPClassifier.from_advice(payload)
    assert str(error.value) == (
        "The advice recommends a RegularizedLinearClassifier, not a RegularizedMLPClassifier; "
        "use RegularizedLinearClassifier.from_advice(advice) or advice.estimator()."
    )


def test_refit_trains_the_recommendation_behind_the_advisors_scaling(interpretable_advice):
    advice, _ = interpretable_advice
    data = make_synthetic(300, n_informative=3, n_irrelevant=12, seed=0)
    model = advice.refit(data.X * 100 + 5, data.y)  # any units: the pipeline scales them
    assert type(model[-1]).__name__ == advice.to_json()["recommendation"]["estimator"]
    assert (model.predict(data.X * 100 + 5) == data.y).mean() > 0.7


def test_advise_save_refits_on_every_row_for_predict(tmp_path, capsys):
    from regulab.cli import main
    from regulab.data import load

    model_path, output = tmp_path / "model.safetensors", tmp_path / "pred.csv"
    assert main(["advise", "--data", "iris", "--budget", "8s", "--seeds", "2", "--quiet",
                 "--save", str(model_path)]) == 0  # fmt: skip
    assert "Recommended model refit on all 150 rows, saved to" in capsys.readouterr().out
    iris = load("iris")
    frame = pd.DataFrame(iris.X, columns=iris.feature_names)
    frame.to_csv(tmp_path / "iris.csv", index=False)
    assert main(["predict", "--model", str(model_path), "--data", str(tmp_path / "iris.csv"),
                 "-o", str(output)]) == 0  # fmt: skip
    predicted = pd.read_csv(output)["prediction"].to_numpy()
    assert (predicted == np.asarray(iris.classes)[iris.y]).mean() > 0.8


# -- the search: capacity candidates, folds, the Optuna strength search --------------------------

from types import SimpleNamespace  # noqa: E402

from regulab.advise._rules import capacity_candidates  # noqa: E402
from regulab.advise._strengths import strength_search  # noqa: E402


@pytest.mark.parametrize(
    ("features", "per_sample", "n_train", "expected"),
    [
        (100, 0.5, 480, ["linear+l2=0.001", "linear+l2=0.01", "linear+l2=0.1", "hidden=8"]),
        (20, 3.0, 4000, ["linear+l2=0.001", "linear+l2=0.01", "linear+l2=0.1", "hidden=64"]),
        (20, 0.5, 4000, []),  # 200 rows per feature, under one parameter per row
    ],
    ids=["few-rows-per-feature", "high-capacity", "neither"],
)
def test_capacity_candidates_follow_rows_per_feature_and_parameters_per_sample(
    features, per_sample, n_train, expected
):
    profile = _profile(features=features, per_sample=per_sample)
    found, reason = capacity_candidates(
        profile, [], n_train=n_train, n_outputs=2, early_stopping=False
    )
    assert found == expected
    assert (reason is None) == (not expected)
    if reason:
        assert reason.code == "capacity"
        assert f"{n_train / features:.1f} training rows per feature" in reason.sentence


def test_capacity_candidates_add_l1_and_elastic_net_linear_models_when_the_rules_ask():
    profile = _profile(features=100, per_sample=0.5)
    reasons = [Reason("irrelevant_features", ("l1",), 0.9, "x"), Reason("correlated_features",
               ("l2",), 0.7, "y")]  # fmt: skip
    found, _ = capacity_candidates(profile, reasons, n_train=480, n_outputs=2, early_stopping=True)
    assert "linear+l1=0.01" in found and "linear+elastic_net=0.01:0.5" in found
    assert found[-1].endswith("+early_stopping")


def test_cv_folds_partition_the_non_test_rows():
    from regulab.advise._search import cv_folds
    from regulab.experiment import prepare_data

    _, bundle = prepare_data(make_synthetic(200, n_informative=3, n_irrelevant=3, seed=0))
    folds = cv_folds(bundle, 1, seed=0, k=5)
    pool = len(bundle.X_train) + len(bundle.X_val)
    assert len(folds) == 5
    assert sum(len(part.X_val) for part, _ in folds) == pool
    assert all(len(part.X_train) + len(part.X_val) == pool for part, _ in folds)
    assert [seeds for _, seeds in folds] == [(5,), (6,), (7,), (8,), (9,)]  # repeat 1
    assert all(part.X_test is bundle.X_test for part, _ in folds)
    assert len({part.fingerprint for part, _ in folds}) == 5


def _scripted_fold_losses(fold, names):
    """Validation loss of an L2 strength: lowest at 1e-3, a little noise per fold."""
    return [
        SimpleNamespace(
            config_name=name,
            metrics={"val_loss": (math.log10(float(name.split("=")[1])) + 3) ** 2 + 0.01 * fold},
        )
        for name in names
    ]


def test_strength_search_prunes_on_fold_losses_and_stops_when_converged():
    records, note = strength_search(
        "l2=0.001", [0, 1, 2], _scripted_fold_losses, (0.01, 0.001), math.inf, 0, {"l2=0.001"}
    )
    assert "stopped because converged: 2 batches found nothing better" in note
    finished = {r.config_name for r in records}
    assert all(sum(r.config_name == name for r in records) == 3 for name in finished)
    assert "l2=0.001" not in finished
    pruned = int(re.search(r"(\d+) pruned", note).group(1))
    assert f"{len(finished)} finished, {pruned} pruned" in note


def test_strength_search_stops_at_the_deadline():
    records, note = strength_search(
        "l2=0.001", [0, 1], _scripted_fold_losses, (0.5, 0.1), 0.0, 0, set()
    )
    assert records == []
    assert note.endswith("stopped because the budget is spent.")


def _run_record(name, seed, *, epochs, best, reason="max_epochs", loss=0.5, seconds=10.0):
    history = [{"epoch": e, "val_loss": loss + 0.01 * abs(e - best)} for e in range(1, epochs + 1)]
    return RunRecord(
        "k",
        name,
        {},
        seed,
        "fp",
        "0",
        history,
        {"val_loss": loss},
        epochs,
        reason,
        "",
        best,
        {},
        {},
        seconds,
    )


class _ScriptedRunner:
    """Stands in for the advisor's Runner: returns scripted records and remembers configs."""

    overhead = 0.0
    metric = selection_metric(None, "classification")  # the advisor's default: log loss

    def parallel(self, runs):
        return 1

    def __init__(self, loss, best, reason="max_epochs"):
        self.loss, self.best, self.reason, self.trained = loss, best, reason, []

    def __call__(self, folds, configs, names, deadline=None):
        (_, seeds), (name,) = folds[0], names
        config = configs[name]
        self.trained.append(config)
        return [
            _run_record(
                name, s, epochs=config.epochs, best=self.best, reason=self.reason, loss=self.loss
            )
            for s in seeds
        ]


def _longer(runner, *, left, probe=0.0, chosen_best=10, reason="max_epochs"):
    """train_longer on scripted runs: two seeds that took 1 s per epoch for 10 epochs."""
    extend = importlib.import_module("regulab.advise._extend")
    config = TrainConfig(epochs=10, dropout=(0.2,), early_stopping=("val_loss", 3))
    records = [
        _run_record("dropout+early_stopping", s, epochs=10, best=chosen_best, reason=reason)
        for s in (0, 1)
    ] + [_run_record("none", s, epochs=10, best=10, loss=0.7) for s in (0, 1)]
    configs = {"dropout+early_stopping": config, "none": TrainConfig(epochs=10)}
    found, note = extend.train_longer(
        (None, (0, 1)),
        records,
        configs,
        "dropout+early_stopping",
        runner,
        1000.0,
        epoch_seconds=lambda bundle, specs: probe,
        clock=lambda: 1000.0 - left,
    )
    return found, configs, note


def test_train_longer_fills_the_time_left_from_measured_epoch_times():
    """Issue 8: large data left a third of the budget unused; the chosen config now trains
    on with as many epochs as the time left allows, by its measured epoch time."""
    runner = _ScriptedRunner(loss=0.4, best=20)
    found, configs, note = _longer(runner, left=60.0)
    (config,) = runner.trained
    # 2 seeds x 1 s per epoch x 1.15 safety, 2 s reserve: (60 - 2) / 2.3 = 25 epochs.
    assert config.epochs == 25 and config.early_stopping == ("val_loss", 8)
    assert configs["dropout+early_stopping"] is config  # the recommendation's epochs
    chosen = [r for r in found if r.config_name == "dropout+early_stopping"]
    assert [r.epochs_run for r in chosen] == [25, 25] and len(found) == 4
    assert "0.5000 -> 0.4000" in note and "budget is spent" in note


def test_train_longer_trusts_the_slower_of_probe_and_measurement():
    runner = _ScriptedRunner(loss=0.4, best=20, reason="patience_exhausted")
    _, _, note = _longer(runner, left=100.0, probe=4.0)
    # The probe says 4 s per epoch of both seeds: (100 - 2) / 4.6 = 21 epochs.
    assert runner.trained[0].epochs == 21
    assert "more epochs cannot help" in note


def test_train_longer_stops_when_more_epochs_cannot_help_or_time_is_short():
    runner = _ScriptedRunner(loss=0.4, best=20)
    found, configs, note = _longer(runner, left=500.0, chosen_best=4, reason="patience_exhausted")
    assert runner.trained == [] and "cannot change the answer" in note
    found, configs, note = _longer(runner, left=20.0)
    assert (
        runner.trained == []
        and "too few" in note
        and configs["dropout+early_stopping"].epochs == 10
    )


def test_more_epochs_can_help_reads_the_history_without_early_stopping():
    extend = importlib.import_module("regulab.advise._extend")
    improving = _run_record("l2", 0, epochs=10, best=10)
    flat = _run_record("l2", 1, epochs=10, best=3)
    improving.best_epoch = flat.best_epoch = None  # no early stopping: read the history
    assert extend.more_epochs_can_help([flat, improving], patience=3)
    assert not extend.more_epochs_can_help([flat], patience=3)


def test_train_longer_keeps_the_first_runs_when_validation_loss_does_not_improve():
    runner = _ScriptedRunner(loss=0.6, best=12)
    found, configs, note = _longer(runner, left=1000.0)
    assert runner.trained[0].epochs == 40  # at most 4x the comparison's epochs
    assert configs["dropout+early_stopping"].epochs == 10
    assert [r.epochs_run for r in found if r.config_name != "none"] == [10, 10]
    assert "runs stand" in note


def test_holdout_advice_recommends_the_epochs_it_trained(monkeypatch):
    advice = _fixed_advice(monkeypatch, permute_test=False, cross_validate=False)
    trained = {r.config["epochs"] for r in advice.records if r.config_name == advice.recommendation}
    assert trained == {advice.config.epochs} == {advice.estimator_spec()[1]["epochs"]}
    assert any("retrain" in note.lower() or "cannot change" in note for note in advice.notes)


def _fold_records(losses_by_config):
    """Records over folds 0..k-1 with the given validation losses and no sparsity."""
    return [
        RunRecord(
            "k",
            name,
            {},
            fold,
            "fp",
            "0",
            [],
            {"val_loss": loss},
            10,
            "max_epochs",
            "",
            None,
            {"total": 0.0},
            {},
            1.0,
        )
        for name, losses in losses_by_config.items()
        for fold, loss in enumerate(losses)
    ]


def test_one_se_prefers_the_better_family_then_stronger_regularization_not_fewer_techniques():
    from regulab.advise._metric import LOG_LOSS
    from regulab.advise._search import simplicity_key

    losses = {
        "batchnorm+dropout=0.3+early_stopping": [0.06, 0.14, 0.05, 0.13],
        "batchnorm+dropout=0.5+early_stopping": [0.07, 0.15, 0.06, 0.14],
        "l2+early_stopping": [0.075, 0.155, 0.065, 0.145],
        "l2=0.01+early_stopping": [0.08, 0.16, 0.07, 0.15],
        "linear+l2=0.01": [0.30, 0.35, 0.28, 0.33],
    }
    configs = {
        "batchnorm+dropout=0.3+early_stopping": TrainConfig(batchnorm=True, dropout=(0.3,)),
        "batchnorm+dropout=0.5+early_stopping": TrainConfig(batchnorm=True, dropout=(0.5,)),
        "l2+early_stopping": TrainConfig(l2=1e-3),
        "l2=0.01+early_stopping": TrainConfig(l2=1e-2),
        "linear+l2=0.01": TrainConfig(model="linear", l2=1e-2),
    }
    records = _fold_records(losses)
    key = simplicity_key(records, configs, (8, 3))
    values = LOG_LOSS.values(records)
    best, tied, chosen = one_se_choice(values, key)
    assert best == "batchnorm+dropout=0.3+early_stopping"
    assert set(tied) == {
        "batchnorm+dropout=0.5+early_stopping",
        "l2+early_stopping",
        "l2=0.01+early_stopping",
    }
    # the best family (batch norm + dropout), at its strongest tied rate, not the two-technique
    # l2 config; a tied linear model would still come first (fewer parameters)
    assert chosen == "batchnorm+dropout=0.5+early_stopping"
    assert key("l2=0.01+early_stopping") < key("l2+early_stopping")
    assert key("linear+l2=0.01") < key(chosen)


def test_one_se_takes_lambda_min_among_tied_linear_models_and_lambda_1se_when_interpretable():
    from regulab.advise._metric import LOG_LOSS
    from regulab.advise._search import simplicity_key

    losses = {
        "hidden=16+early_stopping": [0.300, 0.340, 0.280, 0.320],
        "linear+l2=0.01": [0.301, 0.342, 0.282, 0.321],
        "linear+l2=0.1": [0.310, 0.350, 0.290, 0.330],
        "linear+l1=0.03": [0.305, 0.345, 0.285, 0.325],
        "linear+l2=1": [0.45, 0.49, 0.43, 0.47],
    }
    configs = {
        "hidden=16+early_stopping": TrainConfig(model="8-16-3"),
        "linear+l2=0.01": TrainConfig(model="linear", l2=1e-2),
        "linear+l2=0.1": TrainConfig(model="linear", l2=1e-1),
        "linear+l1=0.03": TrainConfig(model="linear", l1=3e-2),
        "linear+l2=1": TrainConfig(model="linear", l2=1.0),
    }
    records = _fold_records(losses)
    for record in records:  # the L1 model is the sparse one
        if record.config_name == "linear+l1=0.03":
            record.sparsity["total"] = 0.5
    values = LOG_LOSS.values(records)
    key = simplicity_key(records, configs, (8, 3))
    best, tied, chosen = one_se_choice(values, key)
    assert best == "hidden=16+early_stopping"
    assert set(tied) == {"linear+l2=0.01", "linear+l2=0.1", "linear+l1=0.03"}
    # a linear model before the tied network, and among linear models the best (lambda_min)
    assert chosen == "linear+l2=0.01"
    one_se = simplicity_key(records, configs, (8, 3), linear_1se=True)
    assert one_se_choice(values, one_se)[2] == "linear+l1=0.03"  # sparser (lambda_1se)
    del configs["linear+l1=0.03"], values["linear+l1=0.03"]
    assert one_se_choice(values, one_se)[2] == "linear+l2=0.1"  # stronger


def test_linear_strength_variants_span_four_decades_in_half_decades():
    from regulab.advise._search import _strength_variants

    variants = _strength_variants("linear+l2=0.1", wide=True)
    assert variants[0] == "linear+l2=0.0001" and variants[-1] == "linear+l2=1"
    assert len(variants) == 9 and "linear+l2=0.3" in variants
    assert "l2=1+early_stopping" not in _strength_variants("l2+early_stopping", wide=True)


# -- large data: the phases share the budget by measured times ---------------------------------


def _timed_record(name, seed, seconds_per_epoch, epochs=5):
    record = _run_record(name, seed, epochs=epochs, best=epochs, seconds=seconds_per_epoch * epochs)
    for entry in record.history:
        entry["seconds"] = seconds_per_epoch
    record.sparsity = {"total": 0.0}
    return record


class _FinalsRunner(_ScriptedRunner):
    """Records the configs of every call, on any number of names."""

    notes: list = []

    def __call__(self, folds, configs, names, deadline=None):
        (_, seeds) = folds[0]
        self.trained += [configs[name] for name in names]
        self.names = list(names)
        return [
            _timed_record(name, s, 0.1, epochs=configs[name].epochs)
            for name in names
            for s in seeds
        ]


def _finals(screen_seconds, left):
    """The finals after a scripted screen on 1,000 of 10,000 rows (no validation part):
    ``screen_seconds`` per epoch of each config's screen runs."""
    holdout = importlib.import_module("regulab.advise._holdout")
    bundle = dataclasses.replace(_tiny_bundle(10_000), X_val=np.zeros((0, 4), np.float32))
    screened = [
        _timed_record(name, s, screen_seconds) for name in ("none", "l2", "dropout") for s in (0, 1)
    ]
    screened[2].metrics["val_loss"] = screened[3].metrics["val_loss"] = 0.3  # l2 leads
    screened[4].metrics["val_loss"] = screened[5].metrics["val_loss"] = 0.4
    configs = {name: TrainConfig(model="4-8-2") for name in ("none", "l2", "dropout")}
    runner, notes = _FinalsRunner(loss=0.3, best=1), []
    records, configs, epochs = holdout._finals(
        (bundle, (0, 1)),
        screened,
        configs,
        1000,
        TrainConfig(model="4-8-2"),
        runner,
        time.perf_counter() + left,
        notes,
        (4, 2),
    )
    return runner, epochs, notes


def _tiny_bundle(rows):
    from regulab.experiment._runner import DataBundle

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    return DataBundle(X, y, X[:50], y[:50], X[:50], y[:50], "classification", 2, tuple("abcd"), "t")


def test_finalist_epochs_come_from_their_measured_screen_times():
    """Issue 8: the finals' epoch cap comes from the seconds the finalists' own screen runs
    took per epoch and row, not from a new probe."""
    # 0.1 s per epoch on 1,000 rows -> 1 s per epoch on 10,000 rows, x 3 configs x 2 seeds.
    runner, epochs, notes = _finals(screen_seconds=0.1, left=100.0)
    assert {c.epochs for c in runner.trained} == {epochs}
    assert epochs == pytest.approx(0.4 * 100 / 6, abs=1)  # the finalists' 40% of what is left
    assert any("measured screen times" in note for note in notes)


def test_expensive_finals_keep_only_the_screens_best_against_the_baseline():
    runner, epochs, notes = _finals(screen_seconds=1.0, left=100.0)
    assert runner.names == ["none", "l2"]  # the baseline and the screen's best
    assert any("only the screen's best, l2, goes on" in note for note in notes)
    # 60 s would retrain l2 for 2 epochs against its 2: the finals take 85% instead.
    assert any("too few to be worth it: the finalists take 85%" in note for note in notes)
    assert epochs == pytest.approx(max(2, 0.4 * 100 / 40), abs=1)


def test_screen_rows_give_every_candidate_its_minimum_epochs():
    holdout = importlib.import_module("regulab.advise._holdout")
    # 1 ms per row-epoch for all screened runs, 100 s: 5 epochs of 20,000 rows.
    assert holdout.screen_rows(1e-3, 100.0, 60_000, 0) == 20_000
    # A CNN ten times slower gets 2,000 rows less a third of the validation part, at least
    # the 5,000-row floor; a cheap model never more than the limit or the data.
    assert holdout.screen_rows(1e-2, 300.0, 60_000, 3_000) == 5_000
    assert holdout.screen_rows(1e-2, 500.0, 60_000, 3_000) == 9_000
    assert holdout.screen_rows(1e-6, 500.0, 8_000, 0) == 8_000


def test_runner_starts_no_stack_that_would_end_after_the_deadline():
    """Runs that train one stack after another are checked against the deadline between
    stacks, by the time the stacks before took."""
    search = importlib.import_module("regulab.advise._search")
    bundle = _tiny_bundle(400)
    configs = {
        "none": TrainConfig(model="4-8-2", epochs=3, verbose=0),
        "batchnorm": TrainConfig(model="4-8-2", epochs=3, batchnorm=True, verbose=0),
        "wide": TrainConfig(model="4-32-2", epochs=3, verbose=0),
    }
    run = search.Runner(None, "t", 1, 0)
    names = list(configs)
    everything = run([(bundle, (0, 1))], configs, names, deadline=time.perf_counter() + 3600)
    assert len(everything) == 6 and run.runs == 6 and run.notes == []
    cut = run([(bundle, (0, 1))], configs, names, deadline=time.perf_counter())
    # the first stack (both seeds of the first config, which stack) always runs
    assert [(r.config_name, r.seed) for r in cut] == [("none", 0), ("none", 1)]
    (note,) = run.notes
    assert note.startswith("Skipped 4 of 6 runs that would have ended after the deadline (about ")
    assert run.overhead >= 0.0


def test_large_data_advice_keeps_to_its_budget(monkeypatch):
    """The screen, the finals and the longer training of the leader end within the budget
    (a tolerance for the last scoring), and the notes say what each phase did."""
    advisor = importlib.import_module("regulab.advise._advisor")
    holdout = importlib.import_module("regulab.advise._holdout")
    monkeypatch.setattr(advisor, "_CV_ROWS", 0)
    monkeypatch.setattr(holdout, "SCREEN_ROWS", 600)
    monkeypatch.setattr(holdout, "_MIN_SCREEN_ROWS", 300)
    data = make_synthetic(1500, n_informative=3, n_irrelevant=5, seed=0)
    advice = advise(data, model="8-32-2", budget="12s", seeds=2, verbose=0)
    assert advice.seconds <= 12 * 1.1
    text = " ".join(advice.notes)
    assert "Screened" in text and "finalists" in text
    assert any(
        note.startswith(("Used the time left", "Stopped", "Retrain")) for note in advice.notes
    )


def test_train_longer_counts_seeds_that_train_at_the_same_time():
    """With two worker processes (``jobs=2``) the two seeds train side by side: twice the
    epochs fit in the same time."""

    class TwoWorkers(_ScriptedRunner):
        def parallel(self, runs):
            return min(2, runs)

    sequential, parallel = _ScriptedRunner(loss=0.4, best=20), TwoWorkers(loss=0.4, best=20)
    _longer(sequential, left=40.0)
    _longer(parallel, left=40.0)
    # (40 - 2) s / (2 seeds x 1 s x 1.15) = 16 epochs one after the other, 33 side by side.
    assert [sequential.trained[0].epochs, parallel.trained[0].epochs] == [16, 33]


def test_cheap_finals_get_the_full_epoch_cap():
    """When time is plentiful the finals train the full cap (the patience that comes with
    it, as before); the time left still extends the leader."""
    runner, epochs, notes = _finals(screen_seconds=0.001, left=100.0)
    assert epochs == 40 and "up to 85% of the time left" in notes[-1]


def test_a_fold_cut_at_the_deadline_is_set_aside_so_every_config_has_the_same_folds(
    monkeypatch,
):
    search = importlib.import_module("regulab.advise._search")
    bundle = _tiny_bundle(400)
    configs = {
        "none": TrainConfig(model="4-8-2", epochs=2, verbose=0),
        "batchnorm": TrainConfig(model="4-8-2", epochs=2, batchnorm=True, verbose=0),
    }
    run = search.Runner(None, "t", 1, 0)
    folds = [(bundle, (0,)), (bundle, (1,)), (bundle, (2,))]
    # expected seconds of each next stack: fold 0 whole, fold 1 cut after its first stack
    expected = iter([0.0, 0.0, 0.0, 1e9])
    monkeypatch.setattr(run, "_expected", lambda records, size: next(expected))
    records = run(folds, configs, list(configs), deadline=time.perf_counter() + 3600)
    assert sorted((r.config_name, r.seed) for r in records) == [("batchnorm", 0), ("none", 0)]
    (note,) = run.notes
    assert "Skipped 3 of 6 runs" in note
    assert "set aside the 1 runs of a fold that not every config finished" in note
