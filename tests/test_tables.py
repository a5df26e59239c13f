"""Real tables: reading, column kinds, dropped columns, leaks, and the fitted preprocessing."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from regulab.errors import DataError, InvalidParameterError
from regulab.tables import (
    MAX_MISSING_FRACTION,
    NULL_STRINGS,
    TablePreprocessor,
    TableSchema,
    TransformReport,
    find_leaks,
    infer_schema,
    load_penguins_frame,
    read_table,
    read_table_chunks,
)


def mixed_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numeric, text, Yes/No, bool, category and high-cardinality columns with missing cells."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows).round(1),
            "income": rng.integers(1_000, 90_000, rows).astype(float),
            "color": rng.choice(["red", "green", "blue", "violet"], rows, p=[0.5, 0.3, 0.18, 0.02]),
            "smoker": rng.choice(["Yes", "No"], rows),
            "member": rng.random(rows) < 0.4,
            "grade": pd.Categorical(rng.choice(["A", "B", "C"], rows)),
            "city": [f"city{int(k)}" for k in rng.zipf(1.5, rows) % 80],
        }
    )
    for column, share in (("age", 0.1), ("income", 0.05), ("color", 0.1), ("city", 0.05)):
        frame.loc[rng.random(rows) < share, column] = np.nan
    return frame


# ---------------------------------------------------------------- reading -----------------


@pytest.mark.parametrize("null", ["", "NA", "N/A", "?", "null", "NaN", "none", "None", " n/a "])
def test_null_strings_are_missing_in_numeric_and_text_columns(null: str) -> None:
    text = f"x,c\n1.5,a\n{null},b\n3,{null}\n"
    frame = read_table(io.StringIO(text))
    assert frame["x"].dtype == np.float64
    assert frame["x"].isna().tolist() == [False, True, False]
    assert frame["c"].isna().tolist() == [False, False, True]
    assert null.strip().lower() in NULL_STRINGS


@pytest.mark.parametrize(
    ("cells", "kind"),
    [
        (["1", "2.5", "", "4"], "numeric"),
        (["a", "b", "a", "?"], "categorical"),
        (["Yes", "No", "No", "Yes"], "boolean"),
        (["True", "False", "NA", "True"], "boolean"),
        (["y", "n", "n", "y"], "boolean"),
        (["1", "0", "1", "0"], "numeric"),
    ],
)
def test_column_kinds_from_a_csv(cells: list[str], kind: str) -> None:
    rows = "\n".join(f"{cell},{k % 2}" for k, cell in enumerate(cells * 3))
    frame = read_table(io.StringIO("col,y\n" + rows + "\n"))
    schema = infer_schema(frame, target="y")
    assert [(c.name, c.kind) for c in schema.columns] == [("col", kind)]


def test_category_dtype_and_bool_columns() -> None:
    frame = pd.DataFrame(
        {"g": pd.Categorical(["a", "b", "a", "c"]), "flag": [True, False, True, True]}
    )
    schema = infer_schema(frame)
    assert [(c.kind, c.n_levels) for c in schema.columns] == [("categorical", 3), ("boolean", 2)]


def test_chunks_keep_file_rows_and_match_the_whole_table(tmp_path) -> None:
    frame = mixed_frame(50)
    frame["grade"] = frame["grade"].astype(str)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    whole = read_table(path)
    chunks = list(read_table_chunks(path, chunksize=16))
    assert [len(c) for c in chunks] == [16, 16, 16, 2]
    assert chunks[1].index[0] == 16
    pd.testing.assert_frame_equal(pd.concat(chunks), whole, check_dtype=False)
    frame.to_parquet(tmp_path / "t.parquet")
    parquet = list(read_table_chunks(tmp_path / "t.parquet", chunksize=20))
    assert [c.index[0] for c in parquet] == [0, 20, 40]


def test_unreadable_sources_are_data_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "t.txt").write_text("a\n1\n")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(tmp_path / "t.txt")


# ---------------------------------------------------------------- dropped columns ---------


def _with(column: object, rows: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"col": column, "x": rng.normal(size=rows), "y": rng.integers(0, 2, rows)})


_ROWS = 40
_RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("name", "column", "code"),
    [
        ("text unique per row", [f"user{k}" for k in _RNG.permutation(_ROWS)], "id"),
        ("consecutive integers, shuffled", _RNG.permutation(_ROWS) + 1, "id"),
        ("integers counting from 0", np.arange(_ROWS), "id"),
        ("constant", np.full(_ROWS, 3.0), "constant"),
        ("constant text", ["same"] * _ROWS, "constant"),
        ("mostly missing", [1.0] + [np.nan] * (_ROWS - 1), "missing"),
        ("real float measurement, all distinct", _RNG.normal(size=_ROWS), None),
        ("distinct integers that are not a range", _RNG.choice(10**6, _ROWS, replace=False), None),
        ("text with repeats", ["a", "b"] * (_ROWS // 2), None),
        ("one value and missing cells", [1.0, np.nan] * (_ROWS // 2), None),
    ],
)
def test_dropped_columns_and_their_reasons(name: str, column: object, code: str | None) -> None:
    schema = infer_schema(_with(column), target="y")
    dropped = {d.name: d for d in schema.dropped}
    if code is None:
        assert "col" in schema.names(), name
    else:
        assert dropped["col"].code == code, name
        assert "col" not in schema.names()
        assert "col (" in schema.summary()


def test_unnamed_leading_index_is_an_id(tmp_path) -> None:
    frame = _with(np.random.default_rng(0).normal(size=_ROWS))
    frame.index = np.arange(100, 100 + _ROWS) * 7  # not a range: caught by its name
    frame.to_csv(tmp_path / "t.csv")
    schema = infer_schema(read_table(tmp_path / "t.csv"), target="y")
    assert [(d.name, d.code) for d in schema.dropped] == [("Unnamed: 0", "id")]


def test_missing_threshold_is_stated_and_applies_above_it() -> None:
    kept = [np.nan] * 18 + [1.0, 2.0]  # 90% missing: kept
    assert "col" in infer_schema(_with(kept, rows=20)).names()
    gone = infer_schema(_with([np.nan] * 39 + [2.0])).dropped[0]
    assert gone.reason == f"98% missing, more than {MAX_MISSING_FRACTION:.0%}"


# ---------------------------------------------------------------- overrides ---------------


def test_overrides_win_over_inferred_kinds_and_drops() -> None:
    frame = pd.DataFrame(
        {
            "zip": [10, 20, 10, 30] * 5,
            "k": np.arange(20),
            "t": ["1", "2", "3", "4"] * 5,
            "same": [1.0] * 20,
            "y": [0, 1] * 10,
        }
    )
    schema = infer_schema(frame, target="y", categorical=["zip"], numeric=["k", "same"], drop=["t"])
    assert [(c.name, c.kind, c.by_user) for c in schema.columns] == [
        ("zip", "categorical", True),
        ("k", "numeric", True),
        ("same", "numeric", True),
    ]
    assert [(d.name, d.code) for d in schema.dropped] == [("t", "user")]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"drop": ["colour"]}, DataError, "'colour'.*Did you mean 'color'"),
        ({"numeric": ["agee"]}, DataError, "'agee'.*Did you mean 'age'"),
        (
            {"numeric": ["color"]},
            DataError,
            r"Column 'color' is numeric but row \d+ holds the text",
        ),
        ({"numeric": ["age"], "categorical": ["age"]}, InvalidParameterError, "both"),
        ({"drop": "age"}, InvalidParameterError, "list of column names"),
        ({"categorical": ["smoker"], "target": "smoker"}, InvalidParameterError, "target"),
        ({"target": "smokr"}, DataError, "Did you mean 'smoker'"),
    ],
)
def test_override_errors_name_the_column(options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        infer_schema(mixed_frame(), **options)


def test_schema_is_plain_data_and_prints_short_lines() -> None:
    frame = mixed_frame()
    frame["id"] = [f"r{k}" for k in range(len(frame))]
    schema = infer_schema(frame)
    assert TableSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    assert schema.summary() == (
        "2 numeric, 2 boolean, 3 categorical (1 high-cardinality: grouped to 20 levels); "
        "dropped: id (ID: text unique per row)"
    )
    assert schema.column("city").high_cardinality and schema.column("city").n_levels > 40
    assert len(str(schema).splitlines()) == 1 + len(schema.columns)


# ---------------------------------------------------------------- leaks -------------------


def test_index_of_a_file_sorted_by_the_target_is_a_possible_leak() -> None:
    rng = np.random.default_rng(0)
    y = np.sort(rng.choice(["no", "yes"], 400, p=[0.8, 0.2]))
    frame = pd.DataFrame(
        {
            "row": np.arange(400),
            "noise": rng.normal(size=400),
            "level": rng.choice(["a", "b", "c"], 400),
        }
    )
    leaks = find_leaks(frame, y, "classification")
    assert [name for name, _ in leaks] == ["row"] and leaks[0][1] >= 0.98
    target = np.sort(rng.normal(size=400))
    assert [n for n, _ in find_leaks(frame, target, "regression")] == ["row"]


def test_a_text_copy_of_the_target_is_a_leak_and_noise_is_not() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    frame = pd.DataFrame(
        {"copy": np.array(["x", "y", "z"], dtype=object)[y], "noise": rng.normal(size=300)}
    )
    frame.loc[::50, "copy"] = np.nan  # a few missing cells do not hide it
    assert [n for n, _ in find_leaks(frame, y, "classification")] == ["copy"]
    assert find_leaks(frame[["noise"]], y, "classification") == []


# ---------------------------------------------------------------- preprocessing -----------


def _split(frame: pd.DataFrame, n_train: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame.iloc[:n_train], frame.iloc[n_train:]


def test_transform_equals_the_fitted_sklearn_column_transformer() -> None:
    frame = mixed_frame(400)
    train, rest = _split(frame, 300)
    rest = rest.copy()
    rest.loc[rest.index[:5], "color"] = "unseen"
    rest.loc[rest.index[5:8], "city"] = "nowhere"
    pre = TablePreprocessor(infer_schema(train)).fit(train)
    reference = pre.column_transformer().fit(train)
    for rows in (train, rest):
        expected = reference.transform(rows)
        assert expected.shape[1] == pre.n_features_out_
        np.testing.assert_allclose(pre.transform(rows), expected, rtol=0, atol=1e-6)
    assert pre.transform(rest).dtype == np.float32


def test_feature_names_and_groups_speak_the_users_columns() -> None:
    frame = mixed_frame(400)
    pre = TablePreprocessor(infer_schema(frame)).fit(frame)
    names = pre.feature_names_out_
    assert names[:4] == ["age", "age_(missing)", "income", "income_(missing)"]
    assert [names[i] for i in pre.groups_["color"]] == [
        "color_blue",
        "color_green",
        "color_red",
        "color_(missing)",
        "color_(other)",
    ]  # violet (2%: under 5 rows) is grouped
    city = [names[i] for i in pre.groups_["city"]]
    assert city[-1] == "city_(other)" and 5 < len(city) <= 20
    flat = sorted(i for group in pre.groups_.values() for i in group)
    assert flat == list(range(len(names)))


def test_high_cardinality_column_keeps_its_most_frequent_levels() -> None:
    levels = np.repeat([f"v{k:02d}" for k in range(60)], np.arange(60) + 5)
    frame = pd.DataFrame({"v": levels, "x": np.arange(len(levels), dtype=float) / 7})
    schema = infer_schema(frame)
    assert schema.column("v").high_cardinality
    pre = TablePreprocessor(schema).fit(frame)
    kept = [pre.feature_names_out_[i] for i in pre.groups_["v"]]
    assert kept == [f"v_v{k}" for k in range(41, 60)] + ["v_(other)"]
    assert "v: 19 levels kept, 41 rare levels" in pre.notes()[1]


def test_state_json_round_trip_gives_the_identical_transform() -> None:
    frame = mixed_frame(300)
    pre = TablePreprocessor(infer_schema(frame)).fit(frame)
    state = json.loads(json.dumps(pre.to_state(), allow_nan=False))
    again = TablePreprocessor.from_state(state)
    assert again.feature_names_out_ == pre.feature_names_out_
    np.testing.assert_array_equal(again.transform(frame), pre.transform(frame))
    with pytest.raises(DataError, match="Not a table preprocessing state"):
        TablePreprocessor.from_state({"format": "other"})


def test_chunked_transform_equals_one_pass() -> None:
    frame = mixed_frame(100)
    pre = TablePreprocessor(infer_schema(frame)).fit(frame)
    small = TablePreprocessor.from_state(pre.to_state())
    small.chunk_rows = 7
    np.testing.assert_array_equal(small.transform(frame), pre.transform(frame))


def test_unseen_categories_empty_cells_and_extra_columns_are_counted() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 5, "c": ["a", "b"] * 10})
    pre = TablePreprocessor(infer_schema(train)).fit(train)
    raw = pd.DataFrame({"x": ["5", "", "NA", 2], "c": ["a", "zzz", None, "zzz"], "note": 1})
    report = TransformReport()
    X = pre.transform(raw, report=report)
    assert pre.feature_names_out_ == ["x", "c_a", "c_b"]  # no missing in training
    assert report.missing == {"x": 2, "c": 1} and report.unseen == {"c": 2}
    assert report.unseen_examples == {"c": ["zzz"]} and report.extra_columns == ["note"]
    np.testing.assert_array_equal(X[1:, 1:], 0.0)  # unseen and missing: no level column
    assert X[1, 0] == X[2, 0] == pytest.approx((2.5 - 2.5) / np.std([1, 2, 3, 4]))
    lines = report.lines()
    assert lines[0].startswith("3 empty cells") and "'zzz'" in lines[1] and "note" in lines[2]


def test_missing_column_and_text_in_a_numeric_column_name_column_and_row(tmp_path) -> None:
    train = mixed_frame(100)
    pre = TablePreprocessor(infer_schema(train)).fit(train)
    with pytest.raises(DataError, match="lacks column 'smoker'"):
        pre.transform(train.drop(columns=["smoker"]))
    raw = train.astype({"income": object})
    raw.loc[57, "income"] = "unknown"
    raw.to_csv(tmp_path / "raw.csv", index=False)
    with pytest.raises(
        DataError, match=r"Column 'income' is numeric but row 58 holds the text 'unknown'"
    ):
        for chunk in read_table_chunks(tmp_path / "raw.csv", chunksize=20):
            pre.transform(chunk)


def test_no_leakage_statistics_come_from_training_rows_only() -> None:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "c"], 200)})
    validation = pd.DataFrame({"x": [1e6, -1e6, 5e5] * 10, "c": ["only_in_validation"] * 30})
    schema = infer_schema(pd.concat([train, validation], ignore_index=True))
    pre = TablePreprocessor(schema).fit(train)
    state = pre.to_state()
    x, c = state["columns"]
    assert x["median"] == pytest.approx(np.median(train["x"]))
    assert x["mean"] == pytest.approx(train["x"].mean())
    assert x["scale"] == pytest.approx(train["x"].std(ddof=0))
    assert c["levels"] == ["a", "b", "c"] and "only_in_validation" not in json.dumps(state)


def test_a_column_missing_in_every_training_row_keeps_its_place() -> None:
    frame = pd.DataFrame({"x": [np.nan] * 6 + [1.0, 2.0], "c": ["a", "b"] * 4})
    schema = infer_schema(frame, numeric=["x"])
    train = frame.iloc[:6]
    pre = TablePreprocessor(schema, min_frequency=1).fit(train)
    expected = pre.column_transformer().fit(train).transform(frame)
    np.testing.assert_allclose(pre.transform(frame), expected, atol=1e-6)
    assert pre.feature_names_out_[:2] == ["x", "x_(missing)"]
    json.dumps(pre.to_state(), allow_nan=False)


def test_penguins_is_a_real_mixed_table() -> None:
    frame = load_penguins_frame()
    assert frame.shape == (344, 8) and frame["species"].nunique() == 3
    assert frame["sex"].isna().sum() == 11 and frame["bill_length_mm"].isna().sum() == 2
    schema = infer_schema(frame, target="species")
    assert schema.names("categorical") == ["island", "sex"]
    X = TablePreprocessor(schema).fit_transform(frame)
    assert np.isfinite(X).all() and X.shape[0] == 344
