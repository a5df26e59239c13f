"""Tables as users hold them, through load, split, the advisor's folds and the CLI (issue 19,
items 1, 2, 3, 7, 8): column kinds, dropped columns, leaks, preprocessing fitted on training
rows only, a DataFrame and the built-in penguins."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import invoke

from regulab.advise._search import cv_folds
from regulab.data import load, split
from regulab.experiment._compare import prepare_data
from regulab.io import read_config
from regulab.tables import TablePreprocessor, infer_schema


def _mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A mixed table: an ID, text, Yes/No, empty cells, a numeric signal, a string target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    target = np.where(x + rng.normal(scale=0.7, size=n) > 0, "Yes", "No")
    x_cells = x.round(3).astype(object)
    x_cells[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in rng.permutation(n)],
            "city": rng.choice(["Paris", "Rome", "Oslo"], size=n),
            "smoker": rng.choice(["Yes", "No"], size=n),
            "x": x_cells,
            "note": rng.choice(["a", "b", "NA", "?"], size=n),
            "churn": target,
        }
    )


def test_refit_keeps_the_layout_and_takes_statistics_from_its_rows_only() -> None:
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0, 1e6, None], "c": ["a", "a", "a", "b", "z", "z"]}
    )
    layout = TablePreprocessor(infer_schema(frame), min_frequency=1).fit(frame)
    train = layout.refit(frame.iloc[:4])
    assert train.feature_names_out_ == layout.feature_names_out_
    assert train.groups_ == layout.groups_
    spec = train.state_[0]
    assert spec["median"] == 2.5 and spec["mean"] == pytest.approx(2.5)
    assert spec["unused_missing"]  # no missing x in the training rows: indicator stays 0
    assert train.state_[1]["unused"] == ["z"]
    out = train.transform(frame)
    z_column = layout.feature_names_out_.index("c_z")
    assert not out[:, z_column].any() and not out[:, 1].any()
    # the same rows refit as a plain fit on them gives the same encoding of known levels
    plain = TablePreprocessor(layout.schema, min_frequency=1).fit(frame.iloc[:4])
    kept = [layout.feature_names_out_.index(n) for n in plain.feature_names_out_]
    np.testing.assert_allclose(out[:4][:, kept], plain.transform(frame.iloc[:4]), atol=1e-6)


def test_a_csv_as_users_hold_it_becomes_a_table_dataset(tmp_path: Path, caplog) -> None:
    frame = _mixed_frame()
    frame.loc[5, "churn"] = None  # an empty target: the row is dropped with a note
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="regulab"):
        dataset = load(str(path), target="churn")
    assert dataset.table is not None and dataset.n_samples == 119
    assert dataset.classes == ["No", "Yes"] and dataset.task == "classification"
    kinds = {c.name: c.kind for c in dataset.table.schema.columns}
    assert kinds == {
        "city": "categorical",
        "smoker": "boolean",
        "x": "numeric",
        "note": "categorical",
    }
    assert [d.name for d in dataset.table.schema.dropped] == ["customer_id"]
    assert dataset.feature_names == dataset.table.preprocessor.feature_names_out_
    assert "note_(missing)" in dataset.feature_names  # "NA" and "?" are empty cells
    assert dataset.table.groups["city"] == [0, 1, 2]
    text = caplog.text
    assert "Dropped 1 row with an empty target 'churn'" in text
    assert "dropped customer_id: ID: text unique per row" in text
    assert max(len(line) for line in dataset.table.notes) <= 80


def test_a_complete_numeric_csv_keeps_the_plain_path(tmp_path: Path) -> None:
    iris = load("iris")
    frame = pd.DataFrame(iris.X, columns=iris.feature_names).assign(y=iris.y)
    frame.to_csv(tmp_path / "iris.csv", index=False)
    dataset = load(str(tmp_path / "iris.csv"), target="y")
    assert dataset.table is None
    np.testing.assert_array_equal(dataset.X, iris.X)
    assert split(dataset, seed=0).preprocessor is None


def test_split_refits_on_training_rows_and_flags_a_leak(caplog) -> None:
    frame = _mixed_frame(200).sort_values("churn").reset_index(drop=True)
    frame["row"] = np.arange(len(frame))  # an index of a file sorted by the target
    frame["copy"] = frame["churn"].map({"Yes": "high", "No": "low"})
    with caplog.at_level(logging.INFO, logger="regulab"):
        dataset = load(frame, target="churn")
        parts = split(dataset, seed=0)
    assert "row" in [d.name for d in dataset.table.schema.dropped]
    # a text ID of a file sorted by the target follows it too (codes in row order)
    assert {"row", "copy"} <= {name for name, _ in parts.leaks}
    assert "x" not in {name for name, _ in parts.leaks}
    assert "Possible leak: column 'copy'" in caplog.text and "kept" in caplog.text
    train = dataset.table.frame.iloc[parts.train_index]
    x_spec = parts.preprocessor.state_[[s["name"] for s in parts.preprocessor.state_].index("x")]
    assert x_spec["median"] == pytest.approx(np.nanmedian(train["x"].astype(float)))
    assert np.all(parts.mean == 0) and np.all(parts.scale == 1)


def test_each_fold_fits_its_preprocessing_on_its_training_rows_only() -> None:
    frame = _mixed_frame(150, seed=1)
    extreme = frame.index[:6]
    frame.loc[extreme, "city"] = "Atlantis"  # a level on 6 rows only...
    frame.loc[extreme, "x"] = 1e5  # ...with extreme values
    dataset, bundle = prepare_data(frame, target="churn")
    assert bundle.table is not None and len(bundle.table.frame) == len(bundle.X_train) + len(
        bundle.X_val
    )
    column = dataset.feature_names.index("city_Atlantis")
    raw = bundle.table.frame
    folds = cv_folds(bundle, 0, seed=0)
    dead = 0
    for (part, _), rows in zip(folds, _fold_rows(bundle, 0, 0), strict=True):
        train = raw.iloc[rows]
        assert len(part.X_train) == len(rows)
        states = {s["name"]: s for s in part.table.fitted.state_}
        x = train["x"].astype(float)
        assert states["x"]["median"] == pytest.approx(np.nanmedian(x))
        assert states["x"]["mean"] == pytest.approx(x.fillna(np.nanmedian(x)).mean())
        atlantis = int((train["city"] == "Atlantis").sum())
        assert ("Atlantis" in states["city"]["unused"]) == (atlantis < 5)
        if atlantis < 5:  # treated as unseen: its column is zero in both parts
            dead += 1
            assert not part.X_train[:, column].any() and not part.X_val[:, column].any()
    assert dead >= 1  # some fold validates on enough of the rare rows to leave < 5 in training


def _fold_rows(bundle, repeat: int, seed: int) -> list[np.ndarray]:
    """The training rows of each fold, as cv_folds draws them."""
    from sklearn.model_selection import StratifiedKFold

    y = np.concatenate([bundle.y_train, bundle.y_val])
    splitter = StratifiedKFold(5, shuffle=True, random_state=seed + repeat)
    return [train for train, _ in splitter.split(np.zeros(len(y)), y)]


def test_column_options_override_kinds_and_drop(tmp_path: Path) -> None:
    frame = _mixed_frame(60)
    frame["zip"] = np.arange(60) % 4 + 1000
    dataset = load(frame, target="churn", categorical=["zip"], drop=["note"])
    kinds = {c.name: c.kind for c in dataset.table.schema.columns}
    assert kinds["zip"] == "categorical" and "note" not in kinds
    assert "zip_1000" in dataset.feature_names


def test_advise_a_dataframe_and_save_the_table_state(tmp_path: Path) -> None:
    from regulab.advise import advise
    from regulab.advise._refit import save_refit

    frame = _mixed_frame(150)
    advice = advise(frame, target="churn", budget="3s", verbose=0)
    columns = advice.to_json()["data"]["columns"]
    assert columns["kinds"]["smoker"] == "boolean"
    assert columns["dropped"][0]["name"] == "customer_id"
    assert columns["possible_leaks"] == []
    path = save_refit(advice, advice.dataset, tmp_path / "m.safetensors")
    table = read_config(path)["preprocessing"]["table"]
    assert [c["name"] for c in table["columns"]] == ["city", "smoker", "x", "note"]


def test_cli_advises_a_raw_csv_and_saves_its_preprocessing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    frame = _mixed_frame(150)
    frame["copy"] = frame["churn"].map({"Yes": "y", "No": "n"})  # a leak, kept
    frame.loc[3, "city"] = ""
    frame.to_csv(tmp_path / "f.csv", index=False)
    code, out, err = invoke(
        "advise",
        "--data",
        "f.csv",
        "--target",
        "churn",
        "--budget",
        "5s",
        "--quiet",
        "--save",
        "m.safetensors",
        "--json",
        "a.json",
    )
    assert code == 0, err
    assert out.count("dropped customer_id: ID: text unique per row") == 1
    assert out.count("Columns: ") == 1 and "boolean: smoker" in out.replace("\n", " ")
    assert "Possible leak: column 'copy'" in out
    advice = json.loads((tmp_path / "a.json").read_text())
    assert advice["data"]["columns"]["possible_leaks"][0]["name"] == "copy"
    assert any("Possible leak: column 'copy'" in note for note in advice["notes"])
    assert "table" in read_config(tmp_path / "m.safetensors")["preprocessing"]


def test_cli_lists_and_advises_the_penguins() -> None:
    code, out, err = invoke("datasets")
    assert "penguins" in out
    code, out, err = invoke("advise", "--data", "penguins", "--budget", "3s", "--quiet")
    assert code == 0, err
    assert "categorical: island, sex" in out
