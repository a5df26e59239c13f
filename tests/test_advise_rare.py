"""Rare classes (issue 19, item 6): the diagnosis names them, runs record balanced accuracy
and ROC AUC, ``--metric`` drives the choice, and the majority-class baseline stands beside
every score so that no advice claims a gain it already has."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from _cli import invoke
from sklearn.dummy import DummyClassifier
from sklearn.metrics import balanced_accuracy_score, log_loss, roc_auc_score

from regulab.advise import advise
from regulab.advise._baseline import MAJORITY_NOTE, majority_metrics
from regulab.advise._metric import selection_metric
from regulab.data import Dataset
from regulab.diagnose import diagnose_data
from regulab.errors import InvalidParameterError
from regulab.experiment._runner import DataBundle
from regulab.training._metrics import member_metrics


def _rare_table(signal: float, rows: int = 400, seed: int = 0) -> Dataset:
    """A binary table with 6% positives; ``signal`` shifts the positives' first two
    features (0: pure noise)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(rows, np.int64)
    y[: int(0.06 * rows)] = 1
    y = y[rng.permutation(rows)]
    X = rng.normal(size=(rows, 6)).astype(np.float32)
    X[:, :2] += signal * y[:, None]
    return Dataset(X, y, "classification", [f"x{i}" for i in range(6)], "rare", ["no", "yes"])


@pytest.fixture
def quick(monkeypatch):
    """Epochs that do not depend on the machine's speed; a few epochs, 3 folds, no strength
    tuning (for speed)."""
    searching = importlib.import_module("regulab.advise._search")
    experiment = importlib.import_module("regulab.advise._experiment")
    folds = experiment.cv_folds
    monkeypatch.setattr(
        experiment,
        "cv_folds",
        lambda bundle, repeat, seed, k=3: folds(bundle, repeat, seed, min(k, 3)),
    )
    monkeypatch.setattr(searching, "_estimate_epoch_seconds", lambda bundle, specs: 1e-3)
    monkeypatch.setattr(searching, "_MAX_EPOCHS_SMALL", 20)
    monkeypatch.setattr(searching, "_CV_MAX_REPEATS", 0)
    monkeypatch.setattr(searching, "strength_search", lambda leader, *a, **k: ([], "skipped"))
    monkeypatch.setattr(searching, "_strength_variants", lambda name, wide=False: [])


def test_diagnosis_names_a_rare_class_with_counts_and_shares():
    finding = diagnose_data(_rare_table(1.0))["class_balance"]
    assert finding.details["counts"] == [376, 24]
    assert finding.details["minority_class"] == "yes" and finding.details["rare"] is True
    assert finding.details["minority_share"] == pytest.approx(0.06)
    assert finding.reading.startswith("Rare class: yes has 24 of 400 rows (6.0%); no has 376")
    assert "predicting the majority class scores 94.0% accuracy" in finding.reading


@pytest.mark.parametrize(("classes", "outputs"), [(2, 1), (2, 2), (3, 3)])
def test_run_metrics_are_sklearns_balanced_accuracy_and_roc_auc(classes, outputs):
    rng = np.random.default_rng(0)
    truth = np.arange(60) % classes
    scores = rng.normal(size=(2, 60, outputs)).astype(np.float32)
    kind = "binary" if outputs == 1 else "multiclass"
    records = member_metrics(torch.as_tensor(scores), torch.as_tensor(truth), kind, full=True)
    for member, record in zip(scores, records):
        if outputs == 1:
            predicted, expected_auc = (
                (member[:, 0] > 0).astype(int),
                roc_auc_score(truth, member[:, 0]),
            )
        else:
            proba = torch.softmax(torch.as_tensor(member, dtype=torch.float64), 1).numpy()
            predicted = member.argmax(1)
            expected_auc = (
                roc_auc_score(truth, proba[:, 1])
                if classes == 2
                else roc_auc_score(truth, proba, multi_class="ovr", average="macro")
            )
        assert record["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(truth, predicted), abs=1e-12
        )
        assert record["roc_auc"] == pytest.approx(expected_auc, abs=1e-6)


def test_majority_baseline_is_sklearns_dummy_classifier():
    data = _rare_table(0.0)
    X, y = data.X, data.y
    bundle = DataBundle(
        X_train=X[:300],
        y_train=y[:300],
        X_val=X[300:],
        y_val=y[300:],
        X_test=X[300:],
        y_test=y[300:],
        task="classification",
        n_outputs=1,
        feature_names=tuple(data.feature_names),
        fingerprint="fp",
    )
    dummy = DummyClassifier(strategy="prior").fit(X[:300], y[:300])
    metrics = majority_metrics(bundle)
    assert metrics["val_loss"] == pytest.approx(
        log_loss(y[300:], dummy.predict_proba(X[300:])), rel=1e-5
    )
    assert metrics["val_accuracy"] == pytest.approx(dummy.score(X[300:], y[300:]))
    assert metrics["val_balanced_accuracy"] == 0.5 and metrics["val_roc_auc"] == 0.5


@pytest.mark.parametrize(
    ("name", "task", "message"),
    [
        ("auc", "classification", "Unknown metric 'auc'; choose one of: log_loss"),
        ("r2", "classification", "The metric 'r2' does not apply to classification"),
        ("roc_auc", "regression", "The metric 'roc_auc' does not apply to regression"),
    ],
)
def test_metric_names_are_checked_against_the_task(name, task, message):
    with pytest.raises(InvalidParameterError, match=message):
        selection_metric(name, task)


def test_rare_class_advice_reports_roc_auc_beside_the_baseline(quick):
    advice = advise(_rare_table(2.5), model="6-8-2", budget="1h", seeds=2, verbose=0).to_json()
    assert advice["metrics"]["selection"] == "log_loss"
    assert advice["metrics"]["headline"] == "test_roc_auc"
    assert advice["expected_gain"]["metric"] == "test_roc_auc"
    assert any(note.startswith("A class is rare (") for note in advice["notes"])
    baseline = advice["baseline"]
    assert baseline["strategy"] == "prior"
    assert baseline["metrics"]["test_roc_auc"] == 0.5
    assert baseline["metrics"]["val_accuracy"] == pytest.approx(0.94, abs=0.02)
    for row in advice["evidence"]:
        for key in ("val_loss", "test_roc_auc", "test_accuracy"):
            assert f"{key}_mean" in row and f"baseline_{key}" in row
    # features with signal: the recommendation beats the majority class on log loss
    assert baseline["beaten"] is True and advice["expected_gain"]["beats_majority"] is True
    assert not any(note.startswith(MAJORITY_NOTE) for note in advice["notes"])


def test_no_gain_is_claimed_when_the_majority_class_wins(quick):
    advice = advise(_rare_table(0.0), model="6-8-2", budget="1h", seeds=2, verbose=0)
    assert advice.baseline["beaten"] is False
    assert advice.gain["beats_majority"] is False
    assert any(note.startswith(MAJORITY_NOTE) for note in advice.notes)
    from regulab.advise._report import _gain_sentence

    sentence = _gain_sentence(advice)
    assert sentence.startswith("No model beats predicting the majority class here")
    assert "gain:" not in sentence


def test_metric_option_drives_the_selection(quick, tmp_path):
    data = _rare_table(2.5)
    path = tmp_path / "rare.csv"
    frame = np.column_stack([data.X, data.y])
    header = ",".join([*data.feature_names, "y"])
    np.savetxt(path, frame, delimiter=",", header=header, comments="", fmt="%.6g")
    out = tmp_path / "advice.json"
    code, output, errors = invoke(
        "advise", "--data", path, "--target", "y", "--metric", "roc_auc", "--json", out,
        "--budget", "1h", "--model", "6-8-2", "--quiet",
    )  # fmt: skip
    assert code == 0, errors
    advice = json.loads(out.read_text())
    assert advice["metrics"]["selection"] == "roc_auc"
    assert advice["metrics"]["selection_key"] == "val_roc_auc"
    assert advice["metrics"]["headline"] == "test_roc_auc"
    rows = [r for r in advice["evidence"] if not r["diverged"]]
    means = [r["val_roc_auc_mean"] for r in rows]
    assert means == sorted(means, reverse=True)  # ranked best first, higher is better
    best = next(r for r in advice["evidence"] if r["best"])
    assert best["val_roc_auc_mean"] == max(means)
    assert "val_roc_auc ± CI" in output
    assert "Majority-class baseline (same folds)" in output
