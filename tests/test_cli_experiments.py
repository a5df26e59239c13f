"""``regulab path``, ``regulab curve`` and ``regulab tune``, end to end through the CLI.

Tiny runs (iris, a 4-8-3 network, two seeds, a few epochs), in-process through
:func:`regulab.cli.main` as in ``test_cli.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from test_cli import ENV, SUBPROCESS_TIMEOUT, assert_usage_error, invoke, store_rows

from regulab.experiment import dropout_curve, regularization_path

TINY = ["--data", "iris", "--model", "4-8-3", "--quiet"]
PATH = ["path", *TINY, "--strengths", "3", "--seeds", "2", "--epochs", "3"]
DROPOUT = [
    "curve",
    "--kind",
    "dropout",
    *TINY,
    "--values",
    "0,0.5",
    "--seeds",
    "2",
    "--epochs",
    "2",
]
TUNE = ["tune", *TINY, "--techniques", "l1,dropout", "--epochs", "4", "--lr", "1e-2"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def run_ok(*args: Any) -> str:
    code, out, err = invoke(*args)
    assert code == 0, err
    return out


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


# -- path -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def iris_path(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("path")
    args = [
        *PATH,
        "--store", folder / "runs.sqlite",
        "--json", folder / "path.json",
        "--report", folder / "path.html",
        "--figures", folder / "figures",
    ]  # fmt: skip
    out = run_ok(*args)
    return {"args": args, "out": out, "folder": folder, "json": _read(folder / "path.json")}


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


PATH_KEYS = {
    "schema_version", "kind", "penalty", "group", "metric", "test_metric", "higher_is_better",
    "points", "lambda_min", "lambda_1se", "test_at_min", "test_at_1se", "strength_max_rule",
    "warm_start", "l1_ratio", "data", "experiment", "resumed", "runs",
}  # fmt: skip


def test_path_json_is_the_python_result(iris_path: dict[str, Any]) -> None:
    payload = iris_path["json"]
    assert set(payload) == PATH_KEYS
    assert (payload["schema_version"], payload["kind"], payload["penalty"]) == (1, "path", "l1")
    assert payload["metric"] == "val_accuracy" and payload["warm_start"] is True
    api = regularization_path(
        "iris", "l1", model="4-8-3", n_strengths=3, seeds=2, epochs=3, verbose=0
    )
    assert [p["strength"] for p in payload["points"]] == api.strengths
    assert [p["val_accuracy_mean"] for p in payload["points"]] == api.val_mean
    assert (payload["lambda_min"], payload["lambda_1se"]) == (api.lambda_min, api.lambda_1se)
    assert len(payload["runs"]) == 6 and payload["resumed"] == 0
    marked = {p["strength"]: (p["lambda_min"], p["lambda_1se"]) for p in payload["points"]}
    assert marked[payload["lambda_min"]][0] and marked[payload["lambda_1se"]][1]


def test_path_prints_the_choice_and_writes_the_report(iris_path: dict[str, Any]) -> None:
    payload, out = iris_path["json"], iris_path["out"]
    assert "iris: l1 path" in out
    assert f"λ_min = {payload['lambda_min']:.4g} has the best mean val accuracy" in out
    assert f"λ_1se = {payload['lambda_1se']:.4g}" in out and "not used to choose" in out
    html = (iris_path["folder"] / "path.html").read_text()
    assert sections(html)[0] == "path-choice" and "path" in sections(html)
    assert "λ_1se" in html
    assert list((iris_path["folder"] / "figures").glob("*.png"))


def test_path_rerun_resumes_from_the_store(iris_path: dict[str, Any]) -> None:
    out = run_ok(*iris_path["args"])
    assert "6 run(s) reused from the store." in out
    again = _read(iris_path["folder"] / "path.json")
    first = iris_path["json"]
    assert again["resumed"] == 6 and again["experiment"] == first["experiment"]
    assert again["points"] == first["points"]
    assert store_rows(iris_path["folder"] / "runs.sqlite") == 6


def test_cold_elastic_net_path(tmp_path: Path) -> None:
    run_ok(
        *PATH, "--penalty", "elastic_net", "--l1-ratio", "0.3", "--no-warm-start",
        "--strength-max", "0.5", "--jobs", "1", "--json", tmp_path / "p.json",
    )  # fmt: skip
    payload = _read(tmp_path / "p.json")
    assert payload["penalty"] == "elastic_net" and payload["l1_ratio"] == 0.3
    assert payload["warm_start"] is False and payload["strength_max_rule"] == {"source": "given"}
    assert payload["points"][0]["strength"] == 0.5
    assert {run["config"] for run in payload["runs"]} == {
        f"elastic_net={p['strength']:.4g}:0.3" for p in payload["points"]
    }


# -- curve ------------------------------------------------------------------------------------
CURVE_KEYS = {
    "schema_version", "kind", "group", "parameter", "metric", "test_metric", "higher_is_better",
    "points", "best", "one_se", "data", "experiment", "resumed", "runs",
}  # fmt: skip


def test_dropout_curve_json_report_and_choice(tmp_path: Path) -> None:
    out = run_ok(*DROPOUT, "--json", tmp_path / "c.json", "--report", tmp_path / "c.html")
    payload = _read(tmp_path / "c.json")
    assert set(payload) == CURVE_KEYS
    assert (payload["schema_version"], payload["kind"], payload["group"]) == (
        1,
        "curve",
        "dropout_curve",
    )
    api = dropout_curve("iris", rates=(0.0, 0.5), model="4-8-3", seeds=2, epochs=2, verbose=0)
    assert [p["rate"] for p in payload["points"]] == [0.0, 0.5]
    assert [p["val_accuracy_mean"] for p in payload["points"]] == api.val_mean
    assert (payload["best"], payload["one_se"]) == (api.best, api.one_se)
    assert "iris: dropout curve" in out
    assert f"{payload['one_se']:g} is the lowest rate within one standard error" in out
    assert sections((tmp_path / "c.html").read_text())[0] == "curve-choice"
    assert "dropout-curve" in sections((tmp_path / "c.html").read_text())


def test_patience_curve_uses_the_monitor_and_values(tmp_path: Path) -> None:
    run_ok(
        "curve", "--kind", "patience", *TINY, "--values", "0,2", "--monitor", "val_accuracy",
        "--seeds", "2", "--epochs", "4", "--json", tmp_path / "c.json",
    )  # fmt: skip
    payload = _read(tmp_path / "c.json")
    assert payload["group"] == "patience_curve" and payload["parameter"] == "patience"
    assert [p["patience"] for p in payload["points"]] == [0, 2]
    assert {run["config"] for run in payload["runs"]} == {
        "early_stopping=val_accuracy:0",
        "early_stopping=val_accuracy:2",
    }
    assert all(run["epochs_run"] <= 4 for run in payload["runs"])


def test_user_strings_are_printed_literally(tmp_path: Path) -> None:
    # A data set named like Rich markup is shown as typed, not styled away.
    data = tmp_path / "[bold]flowers.csv"
    data.write_text(
        "a,b,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(60)),
    )
    out = run_ok(
        "curve", "--kind", "dropout", "--data", data, "--target", "y", "--task",
        "classification", "--model", "2-4-2", "--values", "0,0.2", "--seeds", "2",
        "--epochs", "1", "--quiet",
    )  # fmt: skip
    assert "[bold]flowers: dropout curve" in out


# -- tune -------------------------------------------------------------------------------------
TUNE_KEYS = {
    "schema_version", "metric", "test_metric", "higher_is_better", "techniques", "search_space",
    "best_params", "best_value", "best_config", "best_trial", "best_test_value", "n_complete",
    "n_pruned", "trials", "data", "experiment", "resumed",
}  # fmt: skip


def test_tune_json_report_and_best_on_validation(tmp_path: Path) -> None:
    out = run_ok(
        *TUNE, "--trials", "3", "--json", tmp_path / "t.json", "--report", tmp_path / "t.html"
    )
    payload = _read(tmp_path / "t.json")
    assert set(payload) == TUNE_KEYS and payload["schema_version"] == 1
    assert payload["techniques"] == ["l1", "dropout"] and len(payload["trials"]) == 3
    complete = [t for t in payload["trials"] if t["state"] == "COMPLETE"]
    best = next(t for t in payload["trials"] if t["number"] == payload["best_trial"])
    assert best["value"] == max(t["value"] for t in complete) == payload["best_value"]
    assert best["config"] == payload["best_config"]
    assert f"Best trial #{payload['best_trial']}: {payload['best_config']}" in out
    html = (tmp_path / "t.html").read_text()
    assert sections(html)[0] == "tuning" and payload["best_config"] in html


def test_tune_resumes_from_the_store_as_if_never_interrupted(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    settings = [*TUNE, "--startup-trials", "2", "--warmup-epochs", "1"]
    run_ok(*settings, "--trials", "4", "--store", store)
    out = run_ok(*settings, "--trials", "6", "--store", store, "--json", tmp_path / "r.json")
    assert "4 trial(s) replayed from the store." in out
    run_ok(*settings, "--trials", "6", "--json", tmp_path / "u.json")
    resumed, uninterrupted = _read(tmp_path / "r.json"), _read(tmp_path / "u.json")
    assert resumed["resumed"] == 4 and uninterrupted["resumed"] == 0
    assert resumed["trials"] == uninterrupted["trials"]  # pruned trial 4 included
    assert resumed["n_pruned"] >= 1
    assert store_rows(store) == 6
    again = run_ok(*settings, "--trials", "6", "--store", store)
    assert "6 trial(s) replayed from the store." in again and store_rows(store) == 6


def test_no_pruning_runs_every_trial_to_its_end(tmp_path: Path) -> None:
    run_ok(*TUNE, "--trials", "6", "--no-pruning", "--json", tmp_path / "t.json")
    payload = _read(tmp_path / "t.json")
    assert payload["n_pruned"] == 0 and payload["n_complete"] == 6


# -- mistakes: one line, exit 2, nothing written ----------------------------------------------
BAD_INPUTS = {
    "path penalty": ([*PATH, "--penalty", "l3"], ["'penalty'", "l1, l2, elastic_net", "'l3'"]),
    "path strengths": ([*PATH, "--strengths", "1"], ["'n_strengths'", "[2, inf)"]),
    "path ratio": ([*PATH, "--ratio", "2"], ["'ratio'", "(0, 1)"]),
    "path l1 ratio without elastic net": (
        [*PATH, "--l1-ratio", "0.3"],
        ["'--l1-ratio'", "--penalty elastic_net", "--penalty l1"],
    ),
    "path jobs on a warm path": ([*PATH, "--jobs", "2"], ["'--jobs'", "--no-warm-start"]),
    "path figures without report": (
        [*PATH, "--figures", "{tmp}/f"],
        ["--figures", "add --report FILE"],
    ),
    "path json folder missing": ([*PATH, "--json", "{tmp}/no/p.json"], ["no/p.json"]),
    "curve kind missing": (["curve", *TINY], ["'--kind'"]),
    "curve kind unknown": (["curve", "--kind", "l1", *TINY], ["'--kind'", "'l1'"]),
    "curve empty value": (
        ["curve", "--kind", "dropout", *TINY, "--values", "0,,0.5"],
        ["'--values'", "'0,,0.5'"],
    ),
    "curve fractional patience": (
        ["curve", "--kind", "patience", *TINY, "--values", "1.5"],
        ["'--values'", "whole patiences", "'1.5'"],
    ),
    "curve rate 1.5": ([*DROPOUT[:-6], "--values", "0,1.5"], ["'rates'", "[0, 1)", "1.5"]),
    "curve monitor for dropout": ([*DROPOUT, "--monitor", "val_loss"], ["'--monitor'"]),
    "curve dropout without hidden layer": (
        ["curve", "--kind", "dropout", "--data", "iris", "--model", "4-3", "--quiet"],
        ["hidden layer"],
    ),
    "curve seeds 0": ([*DROPOUT, "--seeds", "0"], ["'seeds'", "[1, inf)"]),
    "tune trials 0": ([*TUNE, "--trials", "0"], ["'n_trials'", "[1, inf)"]),
    "tune timeout 0": ([*TUNE, "--timeout", "0"], ["'timeout'", "(0, inf)"]),
    "tune technique": ([*TUNE, "--techniques", "dropuot"], ["'dropuot'", "'dropout'?"]),
    "tune startup without pruning": (
        [*TUNE, "--no-pruning", "--startup-trials", "2"],
        ["'--startup-trials'", "--no-pruning"],
    ),
    "tune report folder missing": ([*TUNE, "--report", "{tmp}/no/t.html"], ["no/t.html"]),
    "store folder missing": ([*TUNE, "--store", "{tmp}/no/s.sqlite"], ["does not exist"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory of the tests
    argv, fragments = BAD_INPUTS[case]
    args = [str(arg).format(tmp=tmp_path) for arg in argv]
    if "--store" not in args:  # a store given with a mistake must not be created either
        args += ["--store", str(tmp_path / "s.sqlite")]
    code, out, err = invoke(*args)
    assert_usage_error(code, err, *fragments)
    assert list(tmp_path.iterdir()) == []  # no store, no JSON, no report, no figures


def test_commands_exist_under_python_m() -> None:
    # ``python -m regulab.cli`` runs cli/__main__.py, which imports the package: the
    # experiment commands must be registered there too.
    done = subprocess.run(
        [sys.executable, "-m", "regulab.cli", "curve", "--kind", "dropout", "--values", "0,,1"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert_usage_error(done.returncode, done.stderr, "'--values'", "'0,,1'")
