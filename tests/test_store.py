"""The SQLite results store: round trips, no duplicates, refusals, export, concurrency."""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from regulab.errors import InvalidParameterError, RegulabError
from regulab.experiment._records import RunRecord, run_key
from regulab.experiment._store import (
    DEFAULT_STORE_NAME,
    STORE_SCHEMA_VERSION,
    ResultsStore,
    StoreError,
    check_writable,
)


def make_record(
    index: int = 0,
    *,
    config_name: str = "l2",
    seed: int | None = None,
    group: str = "compare",
    metrics: dict[str, float] | None = None,
) -> RunRecord:
    """A plausible finished run with 3 epochs of history and fake metrics."""
    seed = index if seed is None else seed
    config = {"l2": 1e-4, "dropout": 0.2, "epochs": 3, "index": index}
    history = [
        {"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.1 / epoch, "val_accuracy": 0.6}
        for epoch in (1, 2, 3)
    ]
    if metrics is None:
        metrics = {
            "test_accuracy": 0.8 + index / 1000,
            "test_loss": 0.4 - index / 1000,
            "val_loss": 0.37,
            "train_loss": 0.33,
            "gap": 0.04,
        }
    return RunRecord(
        run_key=run_key(config_name, config, seed, "fingerprint"),
        config_name=config_name,
        config=config,
        seed=seed,
        data_fingerprint="fingerprint",
        library_version="0.1.0",
        history=history,
        metrics=metrics,
        epochs_run=3,
        stop_reason="max_epochs",
        stop_message="Trained all 3 epochs.",
        best_epoch=3,
        sparsity={"per_layer": [0.0, 0.1], "total": 0.05, "dropped_features": []},
        weights={
            "histogram": [0, 2, 5],
            "exact_zeros": 1,
            "weight_norm": 3.5,
            "kept_inputs": [True, False],
        },
        seconds=0.25 + index,
        group=group,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_many(path: str, offset: int, count: int, barrier: Any = None) -> None:
    """Worker process: add ``count`` records through its own store."""
    if barrier is not None:
        barrier.wait(timeout=60)  # open and create the store at the same moment
    with ResultsStore(path) as store:
        for index in range(offset, offset + count):
            assert store.add(make_record(index), "concurrent")


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    records = [make_record(i) for i in range(3)]
    with ResultsStore(path) as store:
        assert all(store.add(record, "exp") for record in records)
    with ResultsStore(path, create=False) as store:
        assert store.records() == records
        assert store.get(2) == records[1]
        assert len(store) == 3
    with sqlite3.connect(path) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert int(meta["schema_version"]) == STORE_SCHEMA_VERSION
    assert meta["created_by"]


def test_insert_or_ignore(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "runs.sqlite") as store:
        record = make_record(0)
        assert store.add(record, "exp") is True
        assert store.add(record, "exp") is False
        assert store.add(record, "other") is False
        assert len(store) == 1
        assert store.has(record.run_key) and record.run_key in store
        assert not store.has("missing")


def test_queries(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "runs.sqlite") as store:
        a, b = make_record(0), make_record(1, group="path:l1")
        c = make_record(2, metrics={"test_r2": 0.9, "val_loss": 0.1})
        store.add(a, "first")
        store.add(b, "first")
        store.add(c, "second")
        assert store.experiments() == ["first", "second"]
        assert store.keys() == {a.run_key, b.run_key, c.run_key}
        assert store.keys("first") == {a.run_key, b.run_key}
        assert store.records("first", group="path:l1") == [b]
        assert store.records(group="compare") == [a, c]
        runs = store.list_runs()
        assert [run["id"] for run in runs] == [1, 2, 3]
        assert runs[0]["metric"] == "test_accuracy"
        assert runs[0]["value"] == pytest.approx(0.8)
        assert runs[2]["metric"] == "test_r2"
        assert runs[1] | {"metric": None, "value": None, "created_at": None} == {
            "id": 2,
            "experiment": "first",
            "group": "path:l1",
            "config_name": "l2",
            "seed": 1,
            "metric": None,
            "value": None,
            "epochs": 3,
            "seconds": 1.25,
            "created_at": None,
        }
        assert runs[0]["created_at"].endswith("Z")
        with pytest.raises(StoreError, match="Valid ids range from 1 to 3"):
            store.get(7)
        with pytest.raises(InvalidParameterError, match="'id'"):
            store.get("1")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="'experiment'"):
            store.add(a, "")


def test_empty_store_get(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        assert store.path == tmp_path / DEFAULT_STORE_NAME
        with pytest.raises(StoreError, match="empty"):
            store.get(1)
    with pytest.raises(StoreError, match="closed"):
        store.records()


def test_schema_mismatch_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with ResultsStore(path) as store:
        store.add(make_record(0), "exp")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    before = digest(path)
    message = (
        f"'{path}' was written by store schema 3; this Regulab reads schema 1. Use a new "
        "--store path or a matching Regulab version."
    )
    with pytest.raises(StoreError) as info:
        ResultsStore(path)
    assert str(info.value) == message
    assert isinstance(info.value, RegulabError) and isinstance(info.value, ValueError)
    with pytest.raises(StoreError, match="schema 3"):
        check_writable(path)
    assert digest(path) == before


@pytest.mark.parametrize("content", [b"not a database at all\n" * 20, b"SQLite format 3\x00junk"])
def test_non_sqlite_file_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a Regulab results store"):
        ResultsStore(path)
    assert path.read_bytes() == content


def test_other_sqlite_database_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="not a Regulab results store.*users"):
        ResultsStore(path)
    assert digest(path) == before


def test_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "runs.sqlite"
    for attempt in (check_writable, ResultsStore):
        with pytest.raises(StoreError, match="does not exist") as info:
            attempt(path)
        assert str(path) in str(info.value)
    assert not path.parent.exists()
    with pytest.raises(StoreError, match="No results store"):
        ResultsStore(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    path = tmp_path / "notes.txt" / "runs.sqlite"
    with pytest.raises(StoreError, match="is a file, not a folder") as info:
        check_writable(path)
    assert str(path) in str(info.value)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere"
)
def test_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable") as info:
            ResultsStore(folder / "runs.sqlite")
        assert str(folder) in str(info.value)
    finally:
        folder.chmod(0o700)


def test_export_csv(tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    with ResultsStore(tmp_path / "runs.sqlite") as store:
        store.add(make_record(0), "exp")
        store.add(make_record(1, config_name="dropout"), "exp")
        store.add(make_record(2, metrics={"test_r2": 0.5}), "other")
        assert store.export_csv(out, experiment="exp") == out
        with open(out, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert [row["config_name"] for row in rows] == ["l2", "dropout"]
        assert [row["id"] for row in rows] == ["1", "2"]
        assert float(rows[1]["metrics.test_accuracy"]) == pytest.approx(0.801)
        assert rows[0]["seed"] == "0" and rows[0]["epochs_run"] == "3"
        assert rows[0]["stop_reason"] == "max_epochs"
        assert float(rows[0]["sparsity.total"]) == 0.05
        assert float(rows[1]["seconds"]) == 1.25
        assert "metrics.test_r2" not in rows[0]
        store.export_csv(out)  # overwrite with every experiment
        with open(out, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert len(rows) == 3
        assert rows[0]["metrics.test_r2"] == "" and rows[2]["metrics.test_r2"] == "0.5"
        with pytest.raises(StoreError, match="does not exist"):
            store.export_csv(tmp_path / "nope" / "runs.csv")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []


def test_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.sqlite")  # both processes create the store
    # Fork on Linux: each writer has its own connection all the same, and it skips the slow
    # re-import of torch that spawn costs. Spawn elsewhere (fork is unsafe on macOS).
    context: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_write_many, args=(path, n * 20, 20, barrier)) for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with ResultsStore(path) as store:
        assert len(store) == 40
        assert store.keys("concurrent") == {make_record(i).run_key for i in range(40)}


KILLED_WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from test_store import make_record
from regulab.experiment._store import ResultsStore
store = ResultsStore({path!r})
for index in range(1000):
    store.add(make_record(index), "killed")
    print(index, flush=True)
    time.sleep(0.01)
"""


def test_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    script = KILLED_WRITER.format(tests=str(Path(__file__).parent), path=str(path))
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        written = 0
        deadline = time.monotonic() + 60
        while written < 5 and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, f"writer exited early: {process.stderr.read() if process.stderr else ''}"
            written += 1
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == -signal.SIGKILL
    with ResultsStore(path, create=False) as store:
        assert store._connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = store.records()
        assert len(stored) >= written
        assert stored == [make_record(i) for i in range(len(stored))]  # whole rows only
        assert store.add(make_record(5000), "after") is True
        assert store.has(make_record(5000).run_key)


def test_read_only_store_reads_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with ResultsStore(path) as store:
        store.add(make_record(0), "e")
    before = path.read_bytes()
    with ResultsStore(path, read_only=True) as store:
        assert [r.config_name for r in store.records()] == ["l2"]
        with pytest.raises(StoreError, match="opened read-only"):
            store.add(make_record(1), "e")
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match="No results store at .*Check the path"):
        ResultsStore(tmp_path / "none.sqlite", read_only=True)
    (tmp_path / "notes.sqlite").write_text("not a database")
    with pytest.raises(StoreError, match="not an SQLite database"):
        ResultsStore(tmp_path / "notes.sqlite", read_only=True)
