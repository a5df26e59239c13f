"""One original column, one unit: on a table, what the user reads names the original columns
(``noise_cat``), not their encoded inputs (``noise_cat_red``): sparsity's dropped features,
the irrelevant and correlated findings, ``important_features`` and the code snippet. Numeric
data reads exactly as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _cli import invoke

from regulab.advise import advise
from regulab.advise._code import code_snippets
from regulab.advise._plan import important_factors, input_columns
from regulab.config import TrainConfig
from regulab.data import load, make_synthetic
from regulab.diagnose import diagnose_data
from regulab.errors import InvalidParameterError
from regulab.estimators import RegularizedLinearClassifier
from regulab.models import LinearModel
from regulab.penalties import L1, sparsity
from regulab.training import train

LEVELS = ["blue", "green", "red"]


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """``x`` decides the label; ``twin`` copies it; ``noise_cat`` (3 levels), ``flag``
    (yes/no) and ``z`` carry nothing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "twin": x + 0.01 * rng.normal(size=n),
            "noise_cat": rng.choice(LEVELS, size=n),
            "flag": rng.choice(["yes", "no"], size=n),
            "z": rng.normal(size=n),
            "label": np.where(x + 0.3 * rng.normal(size=n) > 0, "pos", "neg"),
        }
    )


@pytest.fixture(scope="module")
def table():
    return load(_frame(), target="label")


# -- sparsity ------------------------------------------------------------------------------------


def test_a_categorical_with_all_levels_zero_is_dropped_by_its_name(table):
    groups = table.table.groups
    model = LinearModel(table.n_features, 2, seed=0)
    with torch.no_grad():
        model.linears[0].weight[:, groups["noise_cat"]] = 0.0
        model.linears[0].weight[:, groups["flag"][0]] = 0.0  # one level of flag only
    report = sparsity(model, table.feature_names, groups)
    assert report.dropped_features == ["noise_cat"]
    assert report.dropped_encoded == [f"noise_cat_{level}" for level in LEVELS] + ["flag_no"]
    assert report.n_columns == 5
    assert report.to_dict()["dropped_features"] == ["noise_cat"]
    assert report.to_dict()["dropped_encoded"] == report.dropped_encoded


def test_without_groups_the_report_is_unchanged(table):
    model = LinearModel(table.n_features, 2, seed=0)
    with torch.no_grad():
        model.linears[0].weight[:, [2, 3, 4]] = 0.0
    report = sparsity(model, table.feature_names)
    assert report.dropped_features == [f"noise_cat_{level}" for level in LEVELS]
    assert report.dropped_encoded is None and report.n_columns is None
    assert set(report.to_dict()) == {"per_layer", "total", "dropped_features"}


@pytest.mark.parametrize(
    "groups", [{"a": [0], "b": [1]}, {"a": [0, 1], "b": [1, 2]}, {"a": [0, 1], "b": []}]
)
def test_groups_that_do_not_cover_each_input_once_are_refused(groups):
    with pytest.raises(InvalidParameterError, match="exactly one non-empty group"):
        sparsity(torch.nn.Linear(3, 2), ["p", "q", "r"], groups)


@pytest.mark.parametrize("module", ["linear_model", "torch_linear"])
def test_training_with_column_groups_reports_original_columns(table, module):
    """Both training paths (Regulab's stack and the generic torch.optim one) name columns."""
    model = (
        LinearModel(table.n_features, 2, seed=0)
        if module == "linear_model"
        else torch.nn.Sequential(torch.nn.Linear(table.n_features, 2))
    )
    result = train(
        model,
        table.X,
        table.y,
        penalties=[L1(50.0, proximal=True)],  # strong enough to zero every weight
        lr=0.1,
        epochs=3,
        verbose=0,
        feature_names=table.feature_names,
        column_groups=table.table.groups,
    )
    assert result.sparsity.dropped_features == list(table.table.groups)
    assert result.sparsity.dropped_encoded == list(table.feature_names)


def test_estimator_on_a_dataframe_reports_dropped_columns():
    frame = _frame()
    clf = RegularizedLinearClassifier(l1=0.03, random_state=0, device="cpu")
    clf.fit(frame.drop(columns="label"), frame["label"])
    dropped = clf.sparsity_.dropped_features
    # the three noise columns go; of the near-copies x and twin the lasso keeps one
    assert dropped[-3:] == ["noise_cat", "flag", "z"]
    assert len({"x", "twin"} - set(dropped)) == 1 and len(dropped) <= 4
    assert "noise_cat_red" in clf.sparsity_.dropped_encoded


# -- diagnostics ---------------------------------------------------------------------------------


def test_an_irrelevant_categorical_is_named_once(table):
    finding = diagnose_data(table)["irrelevant_features"]
    assert finding.details["features"] == ["noise_cat", "flag", "z"]
    assert finding.value == 3 and finding.details["share"] == pytest.approx(3 / 5)
    assert finding.reading.startswith("3 of 5 columns look irrelevant")
    assert len(finding.details["column_p_values"]) == 5
    assert len(finding.details["p_values"]) == table.n_features  # still per encoded input


def test_correlation_names_columns_and_ignores_a_categoricals_own_levels(table):
    finding = diagnose_data(table)["correlation"]
    assert finding.details["groups"] == [["x", "twin"]]  # not [flag_no, flag_yes] (r = -1)
    assert finding.reading.startswith("Largest |r| between two columns")
    # one level per categorical left out of the conditioning: finite, set by x and twin
    assert finding.details["condition_number"] is not None
    assert 10 < finding.details["condition_number"] < 1e3


def test_columns_empty_on_the_same_rows_are_not_correlated_by_their_indicators():
    """Two independent measurements missing on the same rows share an identical missing
    indicator (|r| = 1); their values do not correlate, and neither does the finding."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame.loc[:9, ["a", "b"]] = np.nan
    frame["label"] = np.where(rng.normal(size=300) > 0, "y", "n")
    dataset = load(frame, target="label")
    assert dataset.table.preprocessor.indicator_columns_ == [1, 3]
    finding = diagnose_data(dataset)["correlation"]
    assert finding.value < 0.5  # the largest |r| between the two columns
    assert finding.details["groups"] == []
    assert finding.details["condition_number"] < 10


def test_numeric_data_reads_as_before():
    data = make_synthetic(200, n_informative=3, n_irrelevant=10, seed=0)
    plain = diagnose_data(data)
    alone = {name: [index] for index, name in enumerate(data.feature_names)}
    grouped = diagnose_data(data, groups=alone)
    for name in ("irrelevant_features", "correlation"):
        assert grouped[name].value == plain[name].value
        details = {k: v for k, v in grouped[name].details.items() if k != "column_p_values"}
        assert details == plain[name].details
        assert grouped[name].reading.replace("columns", "features") == plain[name].reading
    assert "column_p_values" not in plain["irrelevant_features"].details
    assert plain["irrelevant_features"].reading.split(" look")[0] == "10 of 13 features"


# -- important features and the code snippet ------------------------------------------------------


def test_important_features_take_original_names_and_spare_every_level(table):
    factors = important_factors(table, ["noise_cat"])
    spared = [name for name, f in zip(table.feature_names, factors) if f == 0.25]
    assert spared == [f"noise_cat_{level}" for level in LEVELS]
    assert list(input_columns(table)) == ["x", "twin", "noise_cat", "flag", "z"]


def test_an_encoded_or_unknown_name_is_refused_with_the_valid_names(table):
    with pytest.raises(InvalidParameterError) as error:
        important_factors(table, ["x", "noise_cat_red"])
    assert str(error.value) == (
        "Important feature 'noise_cat_red' is not a column of dataframe (5 columns: x, twin, "
        "noise_cat, flag, z). Did you mean 'noise_cat'?"
    )


def test_cli_unknown_important_column_is_one_line_exit_2(tmp_path):
    path = tmp_path / "t.csv"
    _frame(80).to_csv(path, index=False)
    code, _, err = invoke(
        "advise", "--data", path, "--target", "label", "--important-features", "colour"
    )
    assert code == 2
    message = err.strip()
    assert "\n" not in message
    assert "'colour' is not a column" in message and "x, twin, noise_cat, flag, z" in message


def test_snippet_names_the_spared_columns(table):
    factors = important_factors(table, ["flag"])
    config = TrainConfig(l1=1e-3, prox_l1=True, feature_factors=factors)
    code = code_snippets(config, [table.n_features, 2], columns=table.table.groups)["regulab"]
    assert "spares flag (all its encoded inputs)" in code
    plain = code_snippets(config, [table.n_features, 2])["regulab"]
    assert "# penalty factor per input\n" in plain


def test_advise_on_a_table_speaks_columns():
    frame = _frame(300)
    advice = advise(
        frame,
        target="label",
        important_features=["noise_cat"],
        interpretable=True,
        budget="6s",
        seeds=2,
        verbose=0,
    )
    columns = ["x", "twin", "noise_cat", "flag", "z"]
    assert list(advice.important_features) == ["noise_cat"]
    assert set(advice.selected_features) <= set(columns)
    assert set(advice.diagnostics["irrelevant_features"].details["features"]) <= set(columns)
    for record in advice.records:
        assert set(record.sparsity["dropped_features"]) <= set(columns)
        assert record.sparsity["n_columns"] == 5
    assert "spares noise_cat" in advice.code["regulab"]
    irrelevant = [r.sentence for r in advice.reasons if r.code == "irrelevant_features"]
    assert irrelevant and " of 5 columns look irrelevant" in irrelevant[0]
