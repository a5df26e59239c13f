"""Nothing lost, nothing leaked: the CLI's error boundary, its outputs and its workers.

The error boundary: Regulab's verdicts on input are one line and exit code 2; anything else is
a bug and shows its traceback (exit code 1). Outputs are standard JSON (``null``, never NaN)
written before anything is printed; user strings are printed literally (no Rich markup);
worker processes end with the process that started them; read-only commands open a store
read-only.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
from _cli import invoke
from sklearn.datasets import load_iris

import regulab
from regulab import train
from regulab.cli import main
from regulab.data import Dataset, make_synthetic
from regulab.diagnose import diagnose_data
from regulab.errors import DataError, InvalidParameterError, RegulabError
from regulab.models import MLP
from regulab.penalties import L1, L2

ENV = {
    **{k: v for k, v in os.environ.items() if k != "REGULAB_DEBUG"},
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def strict_json(path: Path) -> Any:
    """Parse as a browser's ``JSON.parse`` would: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


# ----------------------------------------------------------------------------- error boundary
@pytest.mark.parametrize("bug", [ValueError("bad index 7"), OSError(5, "I/O error"), KeyError(3)])
def test_a_bug_shows_its_traceback_and_exit_1(
    bug: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(config: Any, dataset: Any = None) -> None:
        raise bug

    monkeypatch.setattr("regulab.cli._train.run", broken)
    code, _, err = invoke("train", "--data", "iris", "--quiet")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert f"{type(bug).__name__}: " in err and "in broken" in err
    assert "internal error" in err.splitlines()[-1]


def test_regulab_errors_stay_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(config: Any, dataset: Any = None) -> None:
        raise DataError("The data is refused.\nSecond line.")

    monkeypatch.setattr("regulab.cli._train.run", refused)
    code, _, err = invoke("train", "--data", "iris", "--quiet")
    assert (code, err) == (2, "regulab: error: The data is refused.\n")
    monkeypatch.setenv("REGULAB_DEBUG", "1")
    with pytest.raises(RegulabError):
        main(["train", "--data", "iris", "--quiet"])


# ----------------------------------------------------------------------------- outputs
def test_diverged_training_writes_null_not_nan(tmp_path: Path) -> None:
    code, _, err = invoke(
        "train", "--data", "diabetes", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3",
        "--quiet", "--json", tmp_path / "d.json",
    )  # fmt: skip
    assert code == 0, err
    result = strict_json(tmp_path / "d.json")
    assert result["stop_reason"] == "non_finite"
    assert result["test_metrics"]["loss"] is None


def test_json_is_written_before_printing_can_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_print(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr("rich.console.Console.print", broken_print)
    code, _, err = invoke(
        "train", "--data", "iris", "--epochs", "1", "--quiet", "--json", tmp_path / "r.json"
    )
    assert code == 1 and "the terminal went away" in err
    assert strict_json(tmp_path / "r.json")["data"]["name"] == "iris"


@pytest.fixture(scope="module")
def markup_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = load_iris(as_frame=True).frame
    frame.columns = ["[/bold]", "[red]r[/red]", "c", "d", "target"]
    path = tmp_path_factory.mktemp("markup") / "[red]data.csv"
    frame.to_csv(path, index=False)
    return path


def test_markup_in_names_is_printed_literally(markup_csv: Path, tmp_path: Path) -> None:
    code, out, err = invoke(
        "train", "--data", markup_csv, "--target", "target", "--epochs", "1", "--quiet"
    )
    assert code == 0, err
    assert "[red]data: test results" in out
    code, out, err = invoke("diagnose", "--data", markup_csv, "--target", "target")
    assert code == 0, err


def test_advise_prints_markup_literally_after_writing(markup_csv: Path, tmp_path: Path) -> None:
    code, out, err = invoke(
        "advise", "--data", markup_csv, "--target", "target", "--interpretable", "--budget",
        "3s", "--seeds", "2", "--quiet", "--json", tmp_path / "a.json", "--report",
        tmp_path / "a.html", "--important-features", "[red]r[/red]",
    )  # fmt: skip
    assert code == 0, err
    assert "Recommendation:" in out
    assert "Important feature [red]r[/red]: " in out
    assert strict_json(tmp_path / "a.json")["schema_version"] >= 1
    assert (tmp_path / "a.html").exists()


# ----------------------------------------------------------------------------- workers
def _workers(parent: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in parent.children(recursive=True) if "python" in p.name().lower()]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_when_compare_is_killed(how: signal.Signals, tmp_path: Path) -> None:
    # Two stacks, one per worker: batch norm with patience 0 stops within a few dozen epochs
    # and is stored (so both workers are up and running); the other trains for 2000 epochs
    # and is still training when the parent is killed.
    store = tmp_path / "s.sqlite"
    args = [
        "compare", "--data", "digits", "--model", "64-32-10", "--techniques",
        "none,batchnorm+early_stopping=val_loss:0", "--seeds", "1", "--epochs", "2000",
        "--jobs", "2", "--store", str(store), "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "regulab.cli", *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(process.pid)
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if store.exists() and store_rows(store) >= 1:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the short stack never reached the store")
        time.sleep(0.5)
        workers = _workers(parent)
        assert len(workers) >= 2  # two pool workers and the resource tracker
        os.kill(process.pid, how)
        process.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=5)
        assert alive == [], f"orphaned after {how.name}: {[w.cmdline()[-2:] for w in alive]}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for worker in workers or _workers(parent):
            if worker.is_running():
                worker.kill()


def store_rows(path: Path) -> int:
    try:
        with closing(sqlite3.connect(path, timeout=30)) as conn:
            return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not made yet
        return 0


# ----------------------------------------------------------------------------- read-only store
@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store")
    code, _, err = invoke(
        "compare", "--data", "iris", "--model", "4-8-3", "--techniques", "none,l2",
        "--seeds", "1", "--epochs", "2", "--jobs", "1", "--store", folder / "runs.sqlite",
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    return folder / "runs.sqlite"


def _as_other_user(argv: list[str], queue: Any) -> None:
    """Run the CLI as a user that cannot write the store's folder."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    queue.put(invoke(*argv))


def _closed_to_others() -> Path | None:
    """The first folder above Regulab's code or its installed packages that other users
    cannot enter (a checkout under a private temporary folder), else None."""
    import matplotlib

    for package in (Path(regulab.__file__), Path(matplotlib.__file__)):
        for folder in package.resolve().parents:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return folder
    return None


def test_read_only_commands_work_on_a_read_only_folder(small_store: Path) -> None:
    closed = _closed_to_others()
    if os.geteuid() == 0 and closed is not None:
        pytest.skip(f"the other user this test runs as cannot enter {closed}")
    # pytest's temporary folders are private to their owner: this test needs one the other
    # user can enter.
    root = Path(tempfile.mkdtemp(prefix="regulab-ro-"))
    root.chmod(0o755)
    folder = root / "readonly"
    folder.mkdir()
    store = folder / "runs.sqlite"
    store.write_bytes(small_store.read_bytes())  # in WAL mode, as every store
    out = root / "out"
    out.mkdir()
    out.chmod(0o777)
    folder.chmod(0o555)
    store.chmod(0o444)
    import regulab.experiment._store  # noqa: F401  (imported before the user changes)
    import regulab.report  # noqa: F401

    context = multiprocessing.get_context("fork")
    try:
        for argv in (
            ["runs", "list", "--store", str(store)],
            ["runs", "show", "--store", str(store), "1"],
            ["runs", "export", "--store", str(store), "--csv", str(out / "runs.csv")],
            ["report", "--store", str(store), "-o", str(out / "report.html")],
        ):
            queue = context.Queue()
            child = context.Process(target=_as_other_user, args=(argv, queue))
            child.start()
            code, stdout, err = queue.get(timeout=120)
            child.join(timeout=60)
            assert code == 0, err
        assert sorted(p.name for p in folder.iterdir()) == ["runs.sqlite"]  # no journal left
        assert len(pd.read_csv(out / "runs.csv")) == 2
    finally:
        folder.chmod(0o755)
        shutil.rmtree(root)


# ----------------------------------------------------------------------------- the library
def test_infinite_strengths_are_refused_in_python() -> None:
    for make in (lambda: L1(float("inf")), lambda: L2(float("inf"))):
        with pytest.raises(InvalidParameterError, match="Got inf instead. Only finite"):
            make()


def test_train_names_bad_targets_and_empty_features() -> None:
    model = MLP([2, 4, 2], seed=0)
    X = np.zeros((6, 2), dtype=np.float32)
    with pytest.raises(DataError, match="must hold numbers"):
        train(model, X, np.array(["a", "b"] * 3), epochs=1, verbose=0)
    with pytest.raises(DataError, match="is empty"):
        train(model, np.zeros((0, 2), np.float32), np.zeros(0, np.int64), epochs=1, verbose=0)
    with pytest.raises(DataError, match="codes 0..C-1; got -1"):
        train(model, X, np.array([-1, 1] * 3), epochs=1, verbose=0)
    with pytest.raises(InvalidParameterError, match="'per_layer' parameter of L2 must map"):
        L2(1e-3, per_layer={"x": 0})


def test_diagnose_checks_the_model_like_train() -> None:
    data = make_synthetic(100, n_informative=2, n_irrelevant=2, seed=0)
    with pytest.raises(InvalidParameterError, match="input size is 5 but the data has 4"):
        diagnose_data(data, model="5-8-2")
    assert diagnose_data(data, model="4-8-1")["samples"].value == 100  # sigmoid head


def test_label_noise_ignores_one_extreme_cell() -> None:
    data = make_synthetic(600, n_informative=5, n_irrelevant=5, seed=0)
    clean = diagnose_data(data)["label_noise"].value
    X = data.X.copy()
    X[3, data.informative[0]] = 1e20
    spoiled = Dataset(X, data.y, data.task, data.feature_names, "x", data.classes)
    assert abs(diagnose_data(spoiled)["label_noise"].value - clean) < 0.02
