"""The ``regulab`` command line, end to end.

A few tests run the real program in a subprocess (the console script or ``python -m
regulab.cli``); most call :func:`regulab.cli.main` in-process, which runs exactly the same
code and saves the 5-10 s that importing torch costs each new process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine

from regulab import __version__
from regulab.cli import main

# One torch/BLAS thread in every child process: the machine is small and shared, and it
# keeps the numbers identical to the in-process runs (which use one torch thread too).
ENV = {
    **{k: v for k, v in os.environ.items() if k != "REGULAB_DEBUG"},
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
SCRIPT = Path(sys.executable).with_name("regulab")
SUBPROCESS_TIMEOUT = 240


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def invoke(*args: Any) -> tuple[int, str, str]:
    """Run ``regulab ARGS`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def assert_usage_error(code: int, err: str, *fragments: str) -> str:
    """Exit code 2 and exactly one stderr line ``regulab: error: ...`` holding ``fragments``."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("regulab: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def store_rows(path: Path, sql: str = "SELECT count(*) FROM runs") -> Any:
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        return conn.execute(sql).fetchone()[0]


# ----------------------------------------------------------------------------- basics
def test_version_and_datasets() -> None:
    code, out, err = invoke("--version")
    assert (code, out.strip(), err) == (0, f"regulab, version {__version__}", "")
    code, out, err = invoke("datasets")
    assert code == 0 and err == ""
    for name in ("digits", "mnist", "iris", "wine"):
        assert name in out


TRAIN_KEYS = {
    "schema_version",
    "config",
    "data",
    "test_metrics",
    "epochs_run",
    "stop_reason",
    "stop_message",
    "best_epoch",
    "sparsity",
    "seconds",
    "history",
}


@pytest.fixture(scope="module")
def real_processes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two subprocess checks, started together: each new process spends most of its
    time importing torch, and the two imports overlap."""
    folder = tmp_path_factory.mktemp("real")
    script = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "regulab.cli"]
    train = (
        "train --data iris --model 4-16-3 --dropout 0.2 --l2 1e-3 --early-stopping val_loss:2 "
        "--epochs 5 --json out.json --quiet"
    ).split()
    mistake = ["compare", "--data", "irsi", "--store", "s.sqlite"]
    started = {
        "train": subprocess.Popen(script + train, **_pipes(folder)),
        "mistake": subprocess.Popen(
            [sys.executable, "-m", "regulab.cli", *mistake], **_pipes(folder)
        ),
    }
    done = {}
    try:
        for name, process in started.items():
            out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
            done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return {"folder": folder, **done}


def _pipes(cwd: Path) -> dict[str, Any]:
    return {
        "cwd": cwd,
        "env": ENV,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
    }


def test_train_json_in_a_subprocess(real_processes: dict[str, Any]) -> None:
    # The console script (or python -m regulab.cli without it).
    done, tmp_path = real_processes["train"], real_processes["folder"]
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "iris: test results" in done.stdout
    for label in ("test accuracy", "test loss", "epochs run", "stop reason", "sparsity"):
        assert label in done.stdout

    payload = json.loads((tmp_path / "out.json").read_text())
    assert set(payload) == TRAIN_KEYS
    assert payload["schema_version"] == 1
    config = payload["config"]
    assert config["model"] == "4-16-3" and config["dropout"] == [0.2]
    assert config["l2"] == 1e-3 and config["early_stopping"] == ["val_loss", 2]
    assert config["epochs"] == 5 and config["verbose"] == 0
    data = payload["data"]
    assert data["name"] == "iris" and data["task"] == "classification"
    assert data["n_features"] == 4
    assert data["n_train"] + data["n_val"] + data["n_test"] == 150
    assert set(payload["test_metrics"]) == {
        "loss",
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "roc_auc",
    }
    assert all(isinstance(v, float) for v in payload["test_metrics"].values())
    assert 0.0 <= payload["test_metrics"]["accuracy"] <= 1.0
    assert isinstance(payload["epochs_run"], int) and 1 <= payload["epochs_run"] <= 5
    assert payload["stop_reason"] in {"max_epochs", "patience_exhausted"}
    assert isinstance(payload["stop_message"], str) and payload["stop_message"]
    best = payload["best_epoch"]
    assert best is None or (isinstance(best, int) and 1 <= best <= payload["epochs_run"])
    assert set(payload["sparsity"]) == {"per_layer", "total", "dropped_features"}
    assert isinstance(payload["sparsity"]["total"], float)
    assert isinstance(payload["seconds"], float) and payload["seconds"] > 0
    history = payload["history"]
    assert isinstance(history, list) and len(history) == payload["epochs_run"]
    assert [record["epoch"] for record in history] == list(range(1, len(history) + 1))
    for record in history:
        assert {"loss", "val_loss", "val_accuracy"} <= set(record)
        assert all(isinstance(value, (int, float)) for value in record.values())


# ----------------------------------------------------------------------------- predict
@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wine with its classes as strings in a 'cultivar' column."""
    frame = load_wine(as_frame=True).frame
    names = np.array(["barolo", "grignolino", "barbera"])
    frame["cultivar"] = names[frame.pop("target").to_numpy()]
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_save_then_predict_original_labels(tmp_path: Path, wine_csv: Path) -> None:
    model = tmp_path / "m.safetensors"
    code, out, err = invoke(
        "train", "--data", wine_csv, "--target", "cultivar", "--model", "13-16-3",
        "--epochs", "5", "--save", model, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert f"Model saved to {model}" in out and model.exists()

    features = tmp_path / "features.csv"
    pd.read_csv(wine_csv).drop(columns="cultivar").to_csv(features, index=False)
    predictions = tmp_path / "pred.csv"
    code, out, err = invoke("predict", "--model", model, "--data", features, "-o", predictions)
    assert code == 0, err
    assert "178 predictions written" in out
    table = pd.read_csv(predictions)
    assert len(table) == 178
    labels = {"barolo", "grignolino", "barbera"}
    assert set(table["prediction"]) <= labels
    proba = [column for column in table if column.startswith("proba_")]
    assert sorted(proba) == sorted(f"proba_{label}" for label in labels)
    np.testing.assert_allclose(table[proba].sum(axis=1), 1.0, atol=1e-5)
    chosen = table[proba].idxmax(axis=1).str.removeprefix("proba_")
    assert (chosen == table["prediction"]).all()

    # With the labelled file, --target leaves the column out and copies it to the output.
    with_target = tmp_path / "pred_target.csv"
    code, _, err = invoke(
        "predict", "--model", model, "--data", wine_csv, "-o", with_target, "--target", "cultivar"
    )
    assert code == 0, err
    copied = pd.read_csv(with_target)
    assert (copied["cultivar"] == pd.read_csv(wine_csv)["cultivar"]).all()
    assert (copied["prediction"] == table["prediction"]).all()


# ----------------------------------------------------------------------------- compare
COMPARE = (
    "compare --data iris --model 4-16-3 --techniques none,l2,dropout+early_stopping "
    "--seeds 2 --epochs 3 --quiet"
).split()


@pytest.fixture(scope="module")
def iris_compare(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One compare with a store, JSON and report; what later tests inspect and resume."""
    folder = tmp_path_factory.mktemp("compare")
    paths = {name: folder / name for name in ("s.sqlite", "c.json", "r.html")}
    args = [
        *COMPARE,
        "--store", paths["s.sqlite"], "--json", paths["c.json"], "--report", paths["r.html"],
        "--jobs", "1",
    ]  # fmt: skip
    code, out, err = invoke(*args)
    assert code == 0, err
    return {
        "args": args,
        "out": out,
        "folder": folder,
        "store": paths["s.sqlite"],
        "json": json.loads(paths["c.json"].read_text()),
        "report": paths["r.html"],
    }


COMPARE_KEYS = {
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
CONFIGS = {"none", "l2", "dropout+early_stopping"}


def test_compare_json_and_report(iris_compare: dict[str, Any]) -> None:
    payload = iris_compare["json"]
    assert set(payload) == COMPARE_KEYS
    assert payload["schema_version"] == 2 and payload["metric"] == "val_accuracy"
    assert payload["test_metric"] == "test_accuracy" and payload["diverged"] == []
    assert payload["resumed"] == 0
    assert {row["config"] for row in payload["configs"]} == CONFIGS
    assert payload["best"] in CONFIGS and payload["preferred"] in CONFIGS
    assert set(payload["tied"]) <= CONFIGS - {payload["best"]}
    assert len(payload["runs"]) == 6
    assert {(run["config"], run["seed"]) for run in payload["runs"]} == {
        (config, seed) for config in CONFIGS for seed in (0, 1)
    }
    for row in payload["configs"]:
        assert {"val_accuracy_mean", "test_accuracy_mean", "gap_mean", "diverged"} <= set(row)
    assert payload["data"]["name"] == "iris" and payload["data"]["model"] == "4-16-3"
    assert "iris: comparison" in iris_compare["out"]
    assert f"Report written to {iris_compare['report']}" in iris_compare["out"]
    html = iris_compare["report"].read_text()
    for section in ("comparison", "learning-curves", "generalization-gap", "sparsity"):
        assert f'id="{section}"' in html


def test_compare_table_and_report_show_a_diverged_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import regulab.experiment as experiment

    real = experiment.compare

    def diverging(*args: Any, **kwargs: Any) -> Any:  # SGD with a huge L2 overflows
        kwargs.update(optimizer="sgd", lr=0.1, techniques="none,l2=1e30")
        return real(args[0], **kwargs)

    monkeypatch.setattr(experiment, "compare", diverging)
    report = tmp_path / "r.html"
    code, out, err = invoke(
        "compare", "--data", "iris", "--model", "4-16-3", "--seeds", "2", "--epochs", "2",
        "--store", tmp_path / "s.sqlite", "--jobs", "1", "--quiet", "--report", report,
    )  # fmt: skip
    assert code == 0, err
    assert re.search(r"^L2 1e30 +diverged ", out, re.MULTILINE), out
    assert "Diverged (a non-finite loss or val_accuracy; never chosen): l2=1e30." in out
    assert '<span class="badge diverged">✗ diverged</span>' in report.read_text()


def test_compare_rerun_resumes_from_the_store(
    iris_compare: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import regulab.experiment._runner as runner

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a resumed compare must not train")

    monkeypatch.setattr(runner, "run_task", no_training)  # nothing retrains: much faster
    code, out, err = invoke(*iris_compare["args"])
    assert code == 0, err
    assert "6 run(s) reused from the store." in out
    payload = json.loads((iris_compare["folder"] / "c.json").read_text())
    first = iris_compare["json"]
    assert payload["resumed"] == 6
    assert payload["experiment"] == first["experiment"]
    assert payload["runs"] == first["runs"]  # stored records, timings included
    assert payload["configs"] == first["configs"]
    assert iris_compare["report"].exists()
    assert store_rows(iris_compare["store"]) == 6
    assert store_rows(iris_compare["store"], "SELECT count(DISTINCT run_key) FROM runs") == 6


def test_runs_list_show_export(iris_compare: dict[str, Any], tmp_path: Path) -> None:
    store = iris_compare["store"]
    code, out, err = invoke("runs", "list", "--store", store)
    assert code == 0, err
    ids = [
        line.split()[1] for line in out.splitlines() if line.startswith("│ ") and "compare" in line
    ]
    assert ids == [str(i) for i in range(1, 7)]

    exported = tmp_path / "runs.csv"
    code, out, err = invoke("runs", "export", "--store", store, "--csv", exported)
    assert code == 0, err
    with open(exported, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 6 and len({row["run_key"] for row in rows}) == 6
    assert {row["config_name"] for row in rows} == CONFIGS
    assert {row["experiment"] for row in rows} == {iris_compare["json"]["experiment"]}
    assert all(row["metrics.test_accuracy"] for row in rows)

    code, out, err = invoke("runs", "show", "1", "--store", store)
    assert code == 0, err
    record = json.loads(out)
    assert record["config_name"] == "none" and record["seed"] == 0
    assert record["config"]["model"] == "4-16-3"
    assert len(record["history"]) == record["epochs_run"]

    code, _, err = invoke("runs", "show", "999", "--store", store)
    assert_usage_error(code, err, "No run with id 999", "from 1 to 6")


def test_report_from_the_store(iris_compare: dict[str, Any], tmp_path: Path) -> None:
    output = tmp_path / "out.html"
    code, out, err = invoke("report", "--store", iris_compare["store"], "-o", output)
    assert code == 0, err
    assert f"Report written to {output}" in out
    html = output.read_text()
    assert 'id="comparison"' in html and "dropout+early_stopping" in html


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows without what depends on timing (seconds; and 'preferred', whose last
    tie-breaker is the time per run)."""
    return [
        {k: v for k, v in row.items() if k not in {"seconds_mean", "preferred"}} for row in rows
    ]


def test_two_jobs_give_the_same_numbers(iris_compare: dict[str, Any], tmp_path: Path) -> None:
    # Two worker processes, and the 6 runs split into 2 stacks instead of 1 (min_tasks):
    # every run still follows exactly the path it follows alone.
    code, out, err = invoke(
        *COMPARE, "--store", tmp_path / "s2.sqlite", "--json", tmp_path / "c2.json", "--jobs", "2"
    )
    assert code == 0, err
    parallel = json.loads((tmp_path / "c2.json").read_text())
    serial = iris_compare["json"]
    assert parallel["resumed"] == 0
    assert comparable(parallel["configs"]) == comparable(serial["configs"])
    assert [(r["config"], r["seed"], r["metrics"]) for r in parallel["runs"]] == [
        (r["config"], r["seed"], r["metrics"]) for r in serial["runs"]
    ]
    assert store_rows(tmp_path / "s2.sqlite") == 6


def _wait_for_first_stack(store: Path, process: subprocess.Popen[str], timeout: float) -> int:
    """Wait until runs are in the store and their count has held still for a moment (the
    first stack is written out, the next one is training); return that count."""
    deadline = time.monotonic() + timeout
    count, since = 0, time.monotonic()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"compare ended (code {process.returncode}) before it could be killed")
        now = 0
        if store.exists():
            try:
                now = store_rows(store)
            except sqlite3.OperationalError:  # the store's tables are not created yet
                pass
        if now != count:
            count, since = now, time.monotonic()
        elif count and time.monotonic() - since > 0.1:
            return count
        time.sleep(0.01)
    pytest.fail(f"no run reached the store within {timeout} s")


def test_compare_resumes_after_kill(tmp_path: Path) -> None:
    # compare stores its runs as each *stack* (runs sharing an architecture) finishes, so a
    # kill can only leave partial progress when there are several stacks. batchnorm changes
    # the architecture: it forms its own stack of 3 runs and comes first; none, l2 and
    # dropout form a second stack of 9 runs (about 1 s of training on a quiet machine),
    # still training when the process is killed 0.1 s after the first stack's rows are
    # written. (Killed in the middle of a stack, the missing runs would retrain in a smaller
    # stack, and batch norm's stacked statistics agree only to float rounding across stack
    # sizes, so the exact comparison with a clean run below would not hold for them.)
    techniques = ["batchnorm", "none", "l2", "dropout"]
    seeds, total = 3, 12
    store, result = tmp_path / "k.sqlite", tmp_path / "k.json"
    args = [
        "compare", "--data", "digits", "--max-train", "400", "--model", "64-32-10",
        "--techniques", ",".join(techniques), "--seeds", str(seeds), "--epochs", "60",
        "--batch-size", "8", "--jobs", "1", "--store", str(store), "--json", str(result), "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "regulab.cli", *args],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_first_stack(store, process, timeout=SUBPROCESS_TIMEOUT)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not result.exists()
    after_kill = store_rows(store)
    assert after_kill == seeds, "the kill should land between the two stacks"
    assert store_rows(store, "SELECT count(DISTINCT config_name) FROM runs") == 1

    code, out, err = invoke(*args)  # the same command again, to completion
    assert code == 0, err
    resumed = json.loads(result.read_text())
    assert resumed["resumed"] == after_kill
    assert f"{after_kill} run(s) reused from the store." in out
    assert store_rows(store) == total
    assert store_rows(store, "SELECT count(DISTINCT run_key) FROM runs") == total
    assert store_rows(store, "SELECT count(DISTINCT experiment) FROM runs") == 1
    assert {(r["config"], r["seed"]) for r in resumed["runs"]} == {
        (t, s) for t in techniques for s in range(seeds)
    }

    # A clean run in a fresh store gives the same table: training is deterministic per seed,
    # and every stack trained with the same members as in the clean run.
    fresh = [*args]
    fresh[fresh.index(str(store))] = str(tmp_path / "fresh.sqlite")
    fresh[fresh.index(str(result))] = str(tmp_path / "fresh.json")
    code, _, err = invoke(*fresh)
    assert code == 0, err
    clean = json.loads((tmp_path / "fresh.json").read_text())
    assert clean["resumed"] == 0
    assert clean["experiment"] == resumed["experiment"]
    assert comparable(resumed["configs"]) == comparable(clean["configs"])
    assert [(r["config"], r["seed"], r["metrics"], r["epochs_run"]) for r in resumed["runs"]] == [
        (r["config"], r["seed"], r["metrics"], r["epochs_run"]) for r in clean["runs"]
    ]


# ----------------------------------------------------------------------------- advise
def test_advise_json_and_report(tmp_path: Path) -> None:
    # advise spends (most of) its budget on evidence: 8 s keeps this test short.
    code, out, err = invoke(
        "advise", "--data", "iris", "--budget", "8s", "--json", tmp_path / "a.json",
        "--report", tmp_path / "a.html", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "Recommendation:" in out
    payload = json.loads((tmp_path / "a.json").read_text())
    assert {
        "schema_version",
        "data",
        "diagnostics",
        "reasons",
        "recommendation",
        "ranked",
        "expected_gain",
        "evidence",
        "notes",
    } <= set(payload)
    assert payload["recommendation"]["config"] == next(
        row["config"] for row in payload["ranked"] if row["preferred"]
    )
    html = (tmp_path / "a.html").read_text()
    assert 'id="recommendation"' in html and 'id="diagnostics"' in html


# ----------------------------------------------------------------------------- diagnose
def test_diagnose_data_json(tmp_path: Path) -> None:
    code, out, err = invoke("diagnose", "--data", "wine", "--json", tmp_path / "d.json")
    assert code == 0, err
    assert "178 samples" in out
    assert all(line.startswith(("- ", "  ")) for line in out.splitlines() if line)
    payload = json.loads((tmp_path / "d.json").read_text())
    assert payload["schema_version"] == 1 and payload["data"] == "wine"
    diagnostics = payload["diagnostics"]
    for name in ("samples", "features", "irrelevant_features", "correlation", "class_balance"):
        assert set(diagnostics[name]) >= {"value", "reading"}
    assert diagnostics["samples"]["value"] == 178


def test_diagnose_run_finds_overfitting(tmp_path: Path) -> None:
    # Keras' CSVLogger format: training loss keeps falling, validation loss turns at epoch 4.
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for epoch in range(12):
        val_loss = 0.9 - 0.1 * min(epoch, 4) + 0.12 * max(0, epoch - 4)
        lines.append(f"{epoch},{0.6 + 0.03 * epoch},{1.0 - 0.08 * epoch},0.7,{val_loss}")
    history = tmp_path / "h.csv"
    history.write_text("\n".join(lines) + "\n")
    code, out, err = invoke("diagnose-run", history, "--json", tmp_path / "h.json")
    assert code == 0, err
    assert "[overfitting]" in out and "→" in out
    payload = json.loads((tmp_path / "h.json").read_text())
    assert "overfitting" in json.dumps(payload)


# ----------------------------------------------------------------------------- mistakes
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, wine_csv: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    frame = pd.read_csv(wine_csv)
    with_inf = frame.copy()  # empty cells are missing values now; an infinity is refused
    with_inf.loc[[3, 7, 9], "alcohol"] = np.inf
    with_inf.to_csv(folder / "inf.csv", index=False)
    single = frame.copy()
    single["cultivar"] = "barolo"
    single.to_csv(folder / "single.csv", index=False)
    (folder / "notes.sqlite").write_text("these are my notes, not a database\n")
    with closing(sqlite3.connect(folder / "other.sqlite")) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
        conn.commit()
    (folder / "corrupt.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    return {
        "wine": wine_csv,
        "inf": folder / "inf.csv",
        "single": folder / "single.csv",
        "notes": folder / "notes.sqlite",
        "other": folder / "other.sqlite",
        "corrupt": folder / "corrupt.sqlite",
    }


TRAIN = ["train", "--data", "iris", "--model", "4-8-3", "--epochs", "2", "--quiet"]
FAST_COMPARE = ["compare", "--data", "iris", "--model", "4-8-3", "--epochs", "2", "--quiet"]

BAD_INPUTS = {
    "unknown data set": (["train", "--data", "irsi"], ["Unknown dataset 'irsi'", "'iris'?"]),
    "missing file": (
        ["train", "--data", "{tmp}/nothing.csv", "--target", "y"],
        ["nothing.csv", "does not exist"],
    ),
    "target column absent": (
        ["train", "--data", "{wine}", "--target", "label"],
        ["Target column 'label'", "Columns: alcohol, malic_acid", "cultivar"],
    ),
    "infinite feature": (
        ["train", "--data", "{inf}", "--target", "cultivar"],
        ["'alcohol'", "3 rows", "infinite"],
    ),
    "single class": (
        ["train", "--data", "{single}", "--target", "cultivar"],
        ["single class", "'barolo'"],
    ),
    "dropout 1.5": ([*TRAIN, "--dropout", "1.5"], ["'dropout'", "[0, 1)", "1.5"]),
    "negative l2": ([*TRAIN, "--l2", "-1e-3"], ["'l2'", "[0, inf)", "-0.001"]),
    "elastic net form": ([*TRAIN, "--elastic-net", "1e-3"], ["ALPHA:L1_RATIO", "'1e-3'"]),
    "elastic net l1_ratio 2": ([*TRAIN, "--elastic-net", "1e-3:2"], ["'l1_ratio'", "[0, 1]"]),
    "model input size": (
        ["train", "--data", "iris", "--model", "5-16-3"],
        ["input size is 5", "4 features", "'4-16-3'"],
    ),
    "model output size": (
        ["train", "--data", "iris", "--model", "4-16-2"],
        ["output size is 2", "3 classes"],
    ),
    "model spec form": (["train", "--data", "iris", "--model", "4-x-3"], ["'4-x-3'"]),
    "unknown monitor": (
        [*TRAIN, "--early-stopping", "val_los:2"],
        ["'val_los'", "Available metrics:", "val_loss, val_accuracy", "'val_loss'?"],
    ),
    "patience -1": ([*TRAIN, "--early-stopping", "val_loss:-1"], ["'patience'", "-1"]),
    "batch size 0": ([*TRAIN, "--batch-size", "0"], ["'batch_size'", "[1, inf)"]),
    "epochs 0": (["train", "--data", "iris", "--epochs", "0"], ["'epochs'", "[1, inf)"]),
    "json folder missing": ([*TRAIN, "--json", "{tmp}/no/out.json"], ["no/out.json"]),
    "unknown technique": (
        [*FAST_COMPARE, "--techniques", "none,dropuot", "--store", "{tmp}/s.sqlite"],
        ["Unknown technique 'dropuot'", "none, linear, l1, l2", "'dropout'?"],
    ),
    "strength form": (
        [*FAST_COMPARE, "--techniques", "l1=abc", "--store", "{tmp}/s.sqlite"],
        ["'l1'", "l1=1e-4", "'abc'"],
    ),
    "seeds 0": (
        [*FAST_COMPARE, "--seeds", "0", "--store", "{tmp}/s.sqlite"],
        ["'seeds'", "[1, inf)"],
    ),
    "empty technique list": (
        [*FAST_COMPARE, "--techniques", " , ", "--store", "{tmp}/s.sqlite"],
        ["technique list is empty"],
    ),
    "duplicate technique": (
        [*FAST_COMPARE, "--techniques", "l2,L2", "--store", "{tmp}/s.sqlite"],
        ["listed twice: l2"],
    ),
    "non-sqlite store": (
        [*FAST_COMPARE, "--store", "{notes}"],
        ["notes.sqlite", "not an SQLite database"],
    ),
    "foreign sqlite store": (
        [*FAST_COMPARE, "--store", "{other}"],
        ["not a Regulab results store", "accounts"],
    ),
    "corrupt store": ([*FAST_COMPARE, "--store", "{corrupt}"], ["corrupt.sqlite"]),
    "runs list of a non-store": (["runs", "list", "--store", "{notes}"], ["notes.sqlite"]),
    "runs list of no store": (
        ["runs", "list", "--store", "{tmp}/none.sqlite"],
        ["No results store"],
    ),
    "report of no store": (["report", "--store", "{tmp}/none.sqlite"], ["No results store"]),
    "budget 0": (["advise", "--data", "iris", "--budget", "0"], ["budget", "'0'"]),
    "budget soon": (["advise", "--data", "iris", "--budget", "soon"], ["budget", "'soon'"]),
    "important feature": (
        ["advise", "--data", "iris", "--important-features", "nosuch", "--budget", "1s"],
        ["'nosuch'", "not a feature of iris", "sepal length (cm)"],
    ),
    "history file missing": (["diagnose-run", "{tmp}/none.csv"], ["none.csv"]),
    "model file missing": (
        ["predict", "--model", "{tmp}/none.safetensors", "--data", "{wine}"],
        ["none.safetensors", "does not exist"],
    ),
    "unknown option": (["train", "--dropuot", "0.5"], ["--dropuot"]),
    "unknown command": (["trian"], ["trian"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(
    case: str, bad_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory of the tests
    argv, fragments = BAD_INPUTS[case]
    names = {name: str(path) for name, path in bad_files.items()}
    args = [arg.format(tmp=tmp_path, **names) for arg in argv]
    code, out, err = invoke(*args)
    assert_usage_error(code, err, *fragments)
    assert not (tmp_path / "s.sqlite").exists()  # a failed command leaves no empty store


def test_refused_store_files_are_untouched(bad_files: dict[str, Path]) -> None:
    for name in ("notes", "other", "corrupt"):
        before = bad_files[name].read_bytes()
        code, _, err = invoke(*FAST_COMPARE, "--store", bad_files[name])
        assert_usage_error(code, err, "--store")
        assert bad_files[name].read_bytes() == before
        assert not bad_files[name].with_name(bad_files[name].name + "-wal").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
def test_unreadable_store(tmp_path: Path, iris_compare: dict[str, Any]) -> None:
    store = tmp_path / "locked.sqlite"
    store.write_bytes(iris_compare["store"].read_bytes())
    store.chmod(0)
    try:
        code, _, err = invoke("runs", "list", "--store", store)
    finally:
        store.chmod(0o600)
    assert_usage_error(code, err, "not readable and writable")


def test_store_in_missing_folder_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import regulab.experiment._compare as compare_module

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the store must be checked before the data is even loaded")

    monkeypatch.setattr(compare_module, "prepare_data", forbidden)
    store = tmp_path / "missing" / "s.sqlite"
    started = time.perf_counter()
    code, _, err = invoke(
        "compare", "--data", "digits", "--seeds", "5", "--epochs", "50", "--store", store
    )
    assert time.perf_counter() - started < 10  # (imports of the experiment package only)
    assert_usage_error(code, err, str(store.parent), "does not exist", "--store")
    assert not store.parent.exists()


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--model", "5-8-3"], ["input size is 5", "4 features", "'4-8-3'"]),
        (["--model", "4-8-2"], ["output size is 2", "3 classes"]),
        (["--epochs", "0"], ["'epochs'", "[1, inf)"]),
        (["--batch-size", "0"], ["'batch_size'", "[1, inf)"]),
        (["--lr", "0"], ["'lr'", "(0, inf)"]),
        (["--jobs", "0"], ["'jobs'", "[1, inf)"]),
        (
            ["--techniques", "l2+early_stopping=val_los:3"],
            ["'val_los'", "never recorded", "'val_loss'?"],
        ),
    ],
)
def test_compare_mistakes_fail_before_workers_start(
    extra: list[str], fragments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With several jobs (the default on a multi-core machine) these used to surface only
    # inside the worker processes, after they had started (seconds of imports each).
    import regulab.experiment._compare as compare_module

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a bad setting must be reported before any run starts")

    monkeypatch.setattr(compare_module, "run_specs", forbidden)
    code, _, err = invoke(
        "compare", "--data", "iris", "--model", "4-8-3", "--techniques", "none,l2,batchnorm",
        "--seeds", "2", "--jobs", "2", "--store", tmp_path / "s.sqlite", "--quiet", *extra,
    )  # fmt: skip
    assert_usage_error(code, err, *fragments)
    assert not (tmp_path / "s.sqlite").exists()  # a failed command leaves no empty store


def test_bad_input_in_a_real_process(real_processes: dict[str, Any]) -> None:
    done = real_processes["mistake"]
    assert_usage_error(done.returncode, done.stderr, "Unknown dataset 'irsi'", "'iris'?")
    assert done.stdout == ""
