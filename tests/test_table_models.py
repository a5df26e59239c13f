"""Models of mixed tables: estimators fitted on a raw DataFrame, model files that carry the
table preprocessing as JSON state, and ``predict_file`` on the raw CSV/Parquet file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from _cli import invoke
from sklearn.model_selection import cross_val_score

from regulab._format import ModelFileError
from regulab.errors import DataError
from regulab.estimators import (
    RegularizedLinearClassifier,
    RegularizedLinearRegressor,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
)
from regulab.io import load, predict_file, preprocessing_of, read_config, save
from regulab.models import MLP
from regulab.tables import TablePreprocessor, TransformReport, infer_schema
from regulab.training import predict, predict_proba

FAST = {"epochs": 3, "learning_rate": 1e-2, "random_state": 0, "device": "cpu"}
CITIES = ["Lima", "Oslo", "Pune", "Kyiv"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def mixed_table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Numbers with empty cells, text, Yes/No, booleans and a pandas category; a label and a
    numeric target that depend on several of them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "city": rng.choice(CITIES, n),
            "smoker": rng.choice(["Yes", "No"], n),
            "member": rng.random(n) > 0.5,
            "grade": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "score": rng.normal(size=n).round(3),
        }
    )
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.05, "city"] = None
    signal = (frame["smoker"] == "Yes") * 1.5 + frame["score"] + (frame["city"] == "Oslo")
    labels = np.where(signal > 0.8, "high", "low")
    return frame, labels, signal.to_numpy(dtype=np.float64)


ESTIMATORS = [
    RegularizedLinearClassifier(**FAST),
    RegularizedMLPClassifier((8,), **FAST),
    RegularizedLinearRegressor(**FAST),
    RegularizedMLPRegressor((8,), **FAST),
]


def _fit(estimator, frame, labels, values):
    target = labels if estimator._task == "classification" else values
    return estimator.fit(frame, target)


# -- estimators on a raw DataFrame ---------------------------------------------------------------
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimator_fits_and_predicts_a_mixed_frame(estimator, tmp_path):
    frame, labels, values = mixed_table()
    fitted = _fit(estimator, frame, labels, values)
    assert fitted.feature_names_in_.tolist() == list(frame.columns)
    assert fitted.n_features_in_ == 6
    pre = fitted.preprocessor_
    assert fitted.model_.architecture.sizes[0] == pre.n_features_out_ > 6
    assert "city_Oslo" in pre.feature_names_out_ and "age_(missing)" in pre.feature_names_out_
    new = frame.head(20).copy()
    new.loc[0, "city"] = "Rome"  # unseen level
    new.loc[1, "score"] = np.nan  # empty where training had none
    predictions = fitted.predict(new)
    assert predictions.shape == (20,)
    assert np.isfinite(fitted.score(frame, labels if fitted._task == "classification" else values))
    loaded = load(fitted.save(tmp_path / "m.safetensors"))  # JSON state, no pickle
    assert loaded.preprocessor_.to_state() == pre.to_state()
    np.testing.assert_array_equal(loaded.predict(new), predictions)
    if fitted._task == "classification":
        assert set(predictions) <= {"high", "low"}
        np.testing.assert_array_equal(loaded.predict_proba(new), fitted.predict_proba(new))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_an_all_numeric_frame_keeps_the_numeric_path(estimator):
    frame, labels, values = mixed_table()
    numbers = frame[["score"]].assign(twice=frame["score"] * 2, one=1.0)
    by_frame = _fit(estimator, numbers, labels, values)
    by_array = _fit(type(estimator)(**estimator.get_params()), numbers.to_numpy(), labels, values)
    assert not hasattr(by_frame, "preprocessor_")
    assert by_frame.feature_names_in_.tolist() == ["score", "twice", "one"]
    np.testing.assert_array_equal(by_frame.predict(numbers), by_array.predict(numbers.to_numpy()))


def test_refit_on_numbers_forgets_the_table():
    frame, labels, _ = mixed_table()
    clf = RegularizedLinearClassifier(**FAST).fit(frame, labels)
    clf.fit(frame[["score"]].to_numpy(), labels)
    assert not hasattr(clf, "preprocessor_") and not hasattr(clf, "feature_names_in_")


def test_a_table_model_refuses_an_array():
    frame, labels, _ = mixed_table()
    clf = RegularizedLinearClassifier(**FAST).fit(frame, labels)
    with pytest.raises(DataError, match="fitted on a table; pass a pandas DataFrame"):
        clf.predict(np.zeros((2, 6)))


def test_validation_frame_is_encoded_with_the_training_statistics():
    frame, labels, _ = mixed_table()
    clf = RegularizedLinearClassifier(**{**FAST, "early_stopping": True, "patience": 1})
    clf.fit(frame.iloc[:200], labels[:200], X_val=frame.iloc[200:], y_val=labels[200:])
    medians = {s["name"]: s.get("median") for s in clf.preprocessor_.state_}
    assert medians["age"] == pytest.approx(frame["age"].iloc[:200].median())
    assert "val_loss" in clf.history_[0]


def test_partial_fit_keeps_the_first_calls_preprocessing():
    frame, labels, _ = mixed_table()
    clf = RegularizedMLPClassifier((8,), **FAST)
    clf.partial_fit(frame.iloc[:150], labels[:150], classes=["high", "low"])
    first = clf.preprocessor_.to_state()
    later = frame.iloc[150:].assign(city="Rome", age=frame["age"].iloc[150:] + 100)
    clf.partial_fit(later, labels[150:])
    assert clf.preprocessor_.to_state() == first
    assert clf.n_iter_ == 2


def test_cross_validation_fits_the_preprocessing_per_fold():
    frame, labels, _ = mixed_table()
    scores = cross_val_score(RegularizedLinearClassifier(**FAST), frame, labels, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_every_column_dropped_is_refused():
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(20)], "const": ["x"] * 20})
    with pytest.raises(DataError, match="no usable feature column.*id .ID"):
        RegularizedLinearClassifier(**FAST).fit(frame, [0, 1] * 10)


# -- predict_file on the raw file ----------------------------------------------------------------
@pytest.fixture(scope="module")
def table_models(tmp_path_factory):
    """A saved classifier and regressor fitted on the mixed table, and its raw CSV."""
    folder = tmp_path_factory.mktemp("table_models")
    frame, labels, values = mixed_table()
    clf = RegularizedLinearClassifier(**FAST).fit(frame, labels)
    reg = RegularizedMLPRegressor((8,), **FAST).fit(frame, values)
    frame.assign(label=labels).to_csv(folder / "raw.csv", index=False)
    return SimpleNamespace(
        folder=folder,
        frame=frame,
        clf=clf,
        reg=reg,
        clf_path=clf.save(folder / "clf.safetensors"),
        reg_path=reg.save(folder / "reg.safetensors"),
    )


@pytest.mark.parametrize("which", ["clf", "reg"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_file_equals_predict_on_the_raw_frame(table_models, which, suffix, tmp_path):
    m = table_models
    estimator, path = getattr(m, which), getattr(m, f"{which}_path")
    data = tmp_path / f"raw{suffix}"
    raw = pd.read_csv(m.folder / "raw.csv")  # what a user holds: text, not category dtypes
    raw.to_csv(data, index=False) if suffix == ".csv" else raw.to_parquet(data)
    out = predict_file(path, data, tmp_path / "pred.csv", target="label")
    assert out["prediction"].tolist() == estimator.predict(m.frame).tolist()
    assert out["label"].tolist() == raw["label"].tolist()
    if which == "clf":
        assert list(out.columns) == ["prediction", "proba_high", "proba_low", "label"]
        np.testing.assert_array_equal(
            out[["proba_high", "proba_low"]], m.clf.predict_proba(m.frame)
        )
    assert pd.read_csv(tmp_path / "pred.csv").shape == out.shape


def _unseen(frame):
    frame.loc[:2, "city"] = "Rome"


def _empty(frame):
    frame.loc[:3, "age"] = "NA"
    frame.loc[4, "grade"] = ""


def _extra(frame):
    frame["comment"] = "fine"


# name -> (edit of the raw table, report attribute, what it holds, fragment of the note)
NOTES = {
    "unseen category": (_unseen, "unseen", {"city": 3}, "3 cells hold categories unseen"),
    "empty cells": (_empty, "missing", {"age": 4, "grade": 1}, "empty cells filled"),
    "extra column": (_extra, "extra_columns", ["comment"], "ignored columns"),
}


@pytest.mark.parametrize("case", list(NOTES))
def test_predict_file_counts_what_it_met(table_models, case, tmp_path):
    edit, attribute, expected, fragment = NOTES[case]
    raw = table_models.frame.head(30).astype({"grade": object, "age": object})
    raw.loc[:, "age"] = raw["age"].fillna(41.0)  # only the edit's empty cells are counted
    raw.loc[:, "city"] = raw["city"].fillna("Lima")
    edit(raw)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    report = TransformReport()
    out = predict_file(
        table_models.clf_path, tmp_path / "raw.csv", tmp_path / "p.csv", report=report
    )
    assert len(out) == 30
    got = getattr(report, attribute)
    assert (got if isinstance(got, list) else {k: v for k, v in got.items() if v}) == expected
    assert len(report.lines()) == 1 and fragment in report.lines()[0]


def _lacking(frame):
    return frame.drop(columns=["city"])


def _text_in_numbers(frame):
    frame = frame.astype({"score": object})
    frame.loc[6, "score"] = "abc"
    return frame


# name -> (edit of the raw table, fragments of the one error line)
ERRORS = {
    "missing column": (_lacking, ["lacks 1 feature column(s)", "city"]),
    "text in a numeric column": (_text_in_numbers, ["Column 'score'", "row 7", "'abc'"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_predict_file_refuses_what_it_cannot_encode(table_models, case, tmp_path):
    edit, fragments = ERRORS[case]
    edit(table_models.frame.copy()).to_csv(tmp_path / "raw.csv", index=False)
    with pytest.raises(DataError) as error:
        predict_file(table_models.clf_path, tmp_path / "raw.csv", tmp_path / "p.csv", chunk_rows=4)
    message = str(error.value)
    assert "\n" not in message and all(f in message for f in fragments), message
    assert not (tmp_path / "p.csv").exists()


def test_a_large_file_predicts_in_chunks_as_whole(table_models, tmp_path):
    frame, labels, _ = mixed_table(n=20_000, seed=1)
    frame.loc[::97, "city"] = "Rome"
    frame.to_csv(tmp_path / "big.csv", index=False)
    reports = [TransformReport(), TransformReport()]
    outputs = [
        predict_file(
            table_models.clf_path,
            tmp_path / "big.csv",
            tmp_path / f"p{rows}.csv",
            report=report,
            chunk_rows=rows,
        )
        for rows, report in zip([1_500, 100_000], reports)
    ]
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    assert reports[0] == reports[1] and reports[0].n_rows == 20_000
    assert reports[0].unseen["city"] == len(range(0, 20_000, 97))
    assert (tmp_path / "p1500.csv").read_bytes() == (tmp_path / "p100000.csv").read_bytes()


# -- the table state in a model file -------------------------------------------------------------
@pytest.fixture
def raw_model_file(tmp_path):
    """A raw MLP whose ``preprocessing`` block holds a table state (``train --save``)."""
    frame, labels, _ = mixed_table()
    pre = TablePreprocessor(infer_schema(frame)).fit(frame)
    model = MLP([pre.n_features_out_, 8, 2], seed=0)
    dataset = SimpleNamespace(
        classes=np.array(["high", "low"]), feature_names=pre.feature_names_out_
    )
    width = pre.n_features_out_
    entry = preprocessing_of(dataset, np.zeros(width), np.ones(width), pre.to_state())
    return save(model, tmp_path / "raw.safetensors", preprocessing=entry), model, pre, frame


def test_preprocessing_block_carries_the_table_state(raw_model_file, tmp_path):
    path, model, pre, frame = raw_model_file
    assert read_config(path)["preprocessing"]["table"] == json.loads(json.dumps(pre.to_state()))
    frame.to_csv(tmp_path / "raw.csv", index=False)
    out = predict_file(path, tmp_path / "raw.csv", tmp_path / "p.csv", chunk_rows=64)
    encoded = pre.transform(frame)
    labels = np.array(["high", "low"])[predict(model, encoded, task="classification")]
    assert out["prediction"].tolist() == labels.tolist()
    np.testing.assert_allclose(out[["proba_high", "proba_low"]], predict_proba(model, encoded))


def _one_byte(path: Path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert len(old) == len(new) and old in raw
    path.write_bytes(raw.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new",
    [(b'\\"Oslo\\"', b'\\"Osla\\"'), (b'\\"min_frequency\\": 5', b'\\"min_frequency\\": 6')],
    ids=["level", "setting"],
)
@pytest.mark.parametrize("kind", ["estimator", "raw model"])
def test_a_tampered_table_block_is_refused(table_models, raw_model_file, kind, old, new, tmp_path):
    source = table_models.clf_path if kind == "estimator" else raw_model_file[0]
    path = tmp_path / "edited.safetensors"
    path.write_bytes(Path(source).read_bytes())
    _one_byte(path, old, new)
    with pytest.raises(ModelFileError, match="SHA-256"):
        load(path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        predict_file(path, table_models.folder / "raw.csv", tmp_path / "p.csv")
    assert not (tmp_path / "p.csv").exists()


# -- the command line ----------------------------------------------------------------------------
def test_cli_predict_prints_one_note(table_models, tmp_path):
    raw = table_models.frame.head(40).assign(comment="x")
    raw.loc[:4, "city"] = "Rome"
    raw.to_csv(tmp_path / "raw.csv", index=False)
    code, out, err = invoke(
        "predict", "--model", table_models.clf_path, "--data", tmp_path / "raw.csv",
        "-o", tmp_path / "p.csv",
    )  # fmt: skip
    assert code == 0, err
    note, done = out.split("\n40 predictions written to")
    assert note.startswith("Note: ") and note.count("Note:") == 1
    text = " ".join(note.split())
    assert "categories unseen" in text and "ignored columns" in text and "comment" in text
    assert all(len(line) <= 80 for line in note.splitlines())
    assert len(pd.read_csv(tmp_path / "p.csv")) == 40
