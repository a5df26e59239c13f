"""The results store: every finished run of every comparison in one SQLite file.

A :class:`ResultsStore` keeps one row per :class:`~regulab.experiment._records.RunRecord`,
keyed by ``run_key`` so a rerun or a resumed comparison never stores the same work twice.
Each :meth:`ResultsStore.add` commits at once, in WAL mode with a busy timeout, so several
processes can write to one file and a killed process loses at most the run it was training.

A file that is not a store of this schema (another SQLite database, a store written by
another Regulab version, any other file) is refused with :class:`StoreError` and never
modified.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with ResultsStore(folder / "runs.sqlite") as store:
...     store.experiments()
[]
"""

from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any

from regulab.errors import InvalidParameterError, RegulabError
from regulab.experiment._records import RunRecord

__all__ = [
    "ResultsStore",
    "StoreError",
    "check_writable",
    "store_file",
    "STORE_SCHEMA_VERSION",
    "DEFAULT_STORE_NAME",
]

#: Version of the table layout; a store written with another version is refused.
STORE_SCHEMA_VERSION = 1

#: File name used when the store path is a folder.
DEFAULT_STORE_NAME = "regulab-runs.sqlite"

_FORMAT = "regulab-results"
_BUSY_TIMEOUT_S = 30.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Metrics tried in order for the "main" test metric of list_runs.
_MAIN_METRICS = ("test_accuracy", "test_r2", "test_mse", "test_loss")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL UNIQUE,
    experiment TEXT NOT NULL,
    group_name TEXT NOT NULL,
    config_name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    data_fingerprint TEXT NOT NULL,
    library_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seconds REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment);
"""

_ADVICE = "Use a new --store path or a matching Regulab version."


class StoreError(RegulabError, ValueError):
    """The results store cannot be opened, read or written as asked."""


def _library_version() -> str:
    try:
        return version("regulab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def store_file(path: str | os.PathLike[str]) -> Path:
    """The store file for ``path``: ``path`` itself, or the default name inside a folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError(
            f"The 'path' parameter of ResultsStore must be a str or os.PathLike. "
            f"Got {path!r} instead."
        )
    target = Path(path).expanduser()
    try:
        if target.is_dir():
            target = target / DEFAULT_STORE_NAME
    except OSError as error:  # e.g. a folder on the way that this user may not enter
        raise StoreError(
            f"Cannot reach the results store '{target}': {error.strerror or error}."
        ) from error
    return target


def _require(where: str, *checks: tuple[Callable[[], bool], str]) -> None:
    """Raise :class:`StoreError` ``"{where}: {problem}"`` for the first check whose
    condition is false, in order (a later condition may assume the earlier ones)."""
    for holds, problem in checks:
        if not holds():
            raise StoreError(f"{where}: {problem}")


def check_writable(path: str | os.PathLike[str] = DEFAULT_STORE_NAME) -> Path:
    """Raise :class:`StoreError` unless a store can be opened and written at ``path``.

    Call it before any training starts: it checks that the folder exists, is a folder and is
    writable (SQLite creates journal files next to the store), that an existing store file is
    writable, and that an existing file is a store of this schema. Nothing is created.

    Parameters
    ----------
    path : str or os.PathLike, default="regulab-runs.sqlite"
        Store file, or a folder (the store is then ``regulab-runs.sqlite`` inside it).

    Returns
    -------
    pathlib.Path
        The store file that :class:`ResultsStore` would open.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable(folder).name
    'regulab-runs.sqlite'
    >>> check_writable(folder / "missing" / "runs.sqlite")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    regulab.experiment._store.StoreError: Cannot write the results store '...': ...
    """
    target = store_file(path)
    folder = target.parent
    where = f"Cannot write the results store '{target}'"
    fix = "Create the folder or choose another store path (--store)."
    _require(
        where,
        (folder.exists, f"folder '{folder}' does not exist. {fix}"),
        (folder.is_dir, f"'{folder}' is a file, not a folder. {fix}"),
        (
            lambda: os.access(folder, os.W_OK | os.X_OK),
            f"folder '{folder}' is not writable (SQLite needs to create journal files next to "
            "the store). Choose a writable folder (--store).",
        ),
    )
    if target.exists():
        _require(
            where,
            (target.is_file, f"it exists and is not a regular file. {fix}"),
            (
                lambda: os.access(target, os.R_OK | os.W_OK),
                "the file is not readable and writable by this user. Fix its permissions or "
                "choose another store path (--store).",
            ),
        )
        _inspect_file(target)
    return target


def _check_magic(target: Path) -> None:
    with open(target, "rb") as stream:
        header = stream.read(len(_SQLITE_MAGIC))
    if header != _SQLITE_MAGIC:
        raise StoreError(
            f"'{target}' is not a Regulab results store (it is not an SQLite database). "
            f"Regulab never overwrites other files; use a new --store path."
        )


def _connect_read_only(target: Path) -> sqlite3.Connection:
    """A connection that never writes: ``mode=ro``, or ``immutable=1`` in a folder this user
    cannot write (a store in WAL mode needs its ``-shm`` file, which ``mode=ro`` would have to
    create there)."""
    writable = os.access(target.parent, os.W_OK | os.X_OK)
    uri = f"{target.resolve().as_uri()}?{'mode=ro' if writable else 'immutable=1'}"
    return sqlite3.connect(
        uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )


def _inspect_file(target: Path) -> None:
    """Refuse an existing non-empty file that is not a store of this schema; never write."""
    if not target.is_file() or target.stat().st_size == 0:
        return
    _check_magic(target)
    conn = _connect_read_only(target)
    try:
        _check_schema(conn, target)
    finally:
        conn.close()


def _check_schema(conn: sqlite3.Connection, target: Path) -> bool:
    """Return True if the database is a store of this schema, False if it has no tables.

    Only reads; raises :class:`StoreError` for any other database.
    """
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"'{target}' is not a Regulab results store (SQLite cannot read it: {error}). "
            f"Regulab never overwrites other files; use a new --store path."
        ) from error
    if not tables:
        return False
    not_ours = (
        f"'{target}' is an SQLite database but not a Regulab results store "
        f"(tables: {', '.join(sorted(tables))}). Regulab never overwrites other files; "
        f"use a new --store path."
    )
    if "meta" not in tables:
        raise StoreError(not_ours)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as error:
        raise StoreError(not_ours) from error
    if meta.get("format") != _FORMAT or "schema_version" not in meta:
        raise StoreError(not_ours)
    try:
        schema = int(meta["schema_version"])
    except (TypeError, ValueError) as error:
        raise StoreError(
            f"'{target}' has an unreadable store schema version "
            f"{meta['schema_version']!r}; this Regulab reads schema {STORE_SCHEMA_VERSION}. "
            f"{_ADVICE}"
        ) from error
    if schema != STORE_SCHEMA_VERSION:
        raise StoreError(
            f"'{target}' was written by store schema {schema}; this Regulab reads schema "
            f"{STORE_SCHEMA_VERSION}. {_ADVICE}"
        )
    if "runs" not in tables:
        raise StoreError(
            f"'{target}' is a damaged Regulab results store (the 'runs' table is missing). "
            f"Use a new --store path."
        )
    return True


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _main_metric(metrics: dict[str, Any]) -> tuple[str | None, float | None]:
    for name in _MAIN_METRICS:
        if name in metrics:
            return name, metrics[name]
    tests = sorted(name for name in metrics if name.startswith("test_"))
    if tests:
        return tests[0], metrics[tests[0]]
    return None, None


def _cell(value: Any) -> Any:
    """CSV cell: empty for None, JSON for containers, the value otherwise."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


class ResultsStore:
    """Finished runs in one SQLite file, safe to share between processes.

    Parameters
    ----------
    path : str or os.PathLike, default="regulab-runs.sqlite"
        Store file, or a folder (the store is then ``regulab-runs.sqlite`` inside it).
    create : bool, default=True
        Create the store when the file does not exist (or is empty). With ``False`` a missing
        store raises :class:`StoreError`.
    read_only : bool, default=False
        Open an existing store for reading only (SQLite ``mode=ro``), so a store in a
        read-only folder or on a read-only medium can be listed, exported and reported;
        :meth:`add` then raises :class:`StoreError`. Implies ``create=False``.

    Raises
    ------
    StoreError
        The folder is missing or not writable, or the file is not a Regulab store of schema
        :data:`STORE_SCHEMA_VERSION`. The file is then left untouched.

    Notes
    -----
    Tables: ``meta(key, value)`` holds ``format``, ``schema_version`` and ``created_by`` (the
    library version that created the file); ``runs`` holds one row per run with the full
    record as JSON in ``record``. ``run_key`` is unique, so adding a run twice keeps the
    first. The database is in WAL mode with a busy timeout, and every :meth:`add` commits.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.sqlite"
    >>> with ResultsStore(path) as store:  # doctest: +SKIP
    ...     store.add(record, experiment="compare-digits")
    ...     store.has(record.run_key)
    True
    True
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_STORE_NAME,
        *,
        create: bool = True,
        read_only: bool = False,
    ):
        target = store_file(path)
        self._path = target
        self._lock = threading.RLock()
        self._read_only = read_only
        create = create and not read_only
        exists = target.exists()
        if not exists and not create:
            raise StoreError(
                f"No results store at '{target}'. Check the path; running a comparison with "
                f"this store path creates one."
            )
        if read_only:
            if not target.is_file() or not os.access(target, os.R_OK):
                raise StoreError(
                    f"Cannot read the results store '{target}': it is not a file readable by "
                    f"this user. Fix its permissions or choose another store path (--store)."
                )
            _check_magic(target)
            self._conn: sqlite3.Connection | None = _connect_read_only(target)
        else:
            check_writable(target)  # also refuses foreign files before SQLite touches them
            self._conn = sqlite3.connect(
                target, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        try:
            self._setup(create)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _setup(self, create: bool) -> None:
        conn = self._connection
        conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        if not _check_schema(conn, self._path):
            if not create:
                raise StoreError(
                    f"'{self._path}' holds no Regulab results store yet. Check the path; "
                    f"running a comparison with this store path creates one."
                )
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                # Another process may have created the store since the check above.
                if not _check_schema(conn, self._path):
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.executemany(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("format", _FORMAT),
                            ("schema_version", str(STORE_SCHEMA_VERSION)),
                            ("created_by", _library_version()),
                            ("created_at", _now()),
                        ],
                    )
        if not self._read_only:
            self._enable_wal(conn)

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection) -> None:
        # Switching the journal mode needs a moment alone with the file; when another process
        # holds it, SQLite may answer "locked" without waiting, so retry for a while.
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if str(mode).lower() == "wal":
                return
            if time.monotonic() > deadline:  # pragma: no cover - file system without WAL
                return
            time.sleep(0.01)

    # ----------------------------------------------------------------------------- basics
    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"The results store '{self._path}' is closed; open a new one.")
        return self._conn

    check_writable = staticmethod(check_writable)

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise :class:`StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def __contains__(self, run_key: object) -> bool:
        return isinstance(run_key, str) and self.has(run_key)

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"ResultsStore('{self._path}', {state})"

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection

    # ----------------------------------------------------------------------------- writing
    def add(self, record: RunRecord, experiment: str) -> bool:
        """Store one finished run and commit; keep the stored one if ``run_key`` exists.

        Parameters
        ----------
        record : RunRecord
        experiment : str
            Name of the comparison the run belongs to (a hash or a user label).

        Returns
        -------
        bool
            True if the run was inserted, False if a run with its ``run_key`` was stored.

        Examples
        --------
        >>> store.add(record, "compare-digits")  # doctest: +SKIP
        True
        >>> store.add(record, "compare-digits")  # doctest: +SKIP
        False
        """
        if self._read_only:
            raise StoreError(f"The results store '{self._path}' was opened read-only.")
        if not isinstance(record, RunRecord):
            raise InvalidParameterError(
                f"The 'record' parameter of ResultsStore.add must be a RunRecord. "
                f"Got {type(record).__name__} instead."
            )
        if not isinstance(experiment, str) or not experiment.strip():
            raise InvalidParameterError(
                f"The 'experiment' parameter of ResultsStore.add must be a non-empty str. "
                f"Got {experiment!r} instead."
            )
        try:
            payload = json.dumps(record.to_dict(), sort_keys=True)
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"Run {record.run_key!r} ({record.config_name}) is not JSON-safe and cannot "
                f"be stored: {error}."
            ) from error
        row = (
            record.run_key,
            experiment,
            record.group,
            record.config_name,
            int(record.seed),
            record.data_fingerprint,
            record.library_version,
            _now(),
            float(record.seconds),
            payload,
        )
        with self._lock:
            conn = self._connection
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO runs (run_key, experiment, group_name, config_name, "
                    "seed, data_fingerprint, library_version, created_at, seconds, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            return cursor.rowcount == 1

    # ----------------------------------------------------------------------------- reading
    def has(self, run_key: str) -> bool:
        """Return True if a run with ``run_key`` is stored.

        Examples
        --------
        >>> store.has("0" * 32)  # doctest: +SKIP
        False
        """
        with self._reading() as conn:
            row = conn.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)).fetchone()
        return row is not None

    def keys(self, experiment: str | None = None) -> set[str]:
        """The stored ``run_key`` values, of one experiment or of all.

        Examples
        --------
        >>> store.keys("compare-digits")  # doctest: +SKIP
        {'5f0c...'}
        """
        with self._reading() as conn:
            if experiment is None:
                rows = conn.execute("SELECT run_key FROM runs").fetchall()
            else:
                rows = conn.execute(
                    "SELECT run_key FROM runs WHERE experiment = ?", (experiment,)
                ).fetchall()
        return {row[0] for row in rows}

    def _rows(
        self, columns: str, experiment: str | None = None, group: str | None = None
    ) -> list[tuple[Any, ...]]:
        clauses, params = [], []
        if experiment is not None:
            clauses.append("experiment = ?")
            params.append(experiment)
        if group is not None:
            clauses.append("group_name = ?")
            params.append(group)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._reading() as conn:
            return conn.execute(f"SELECT {columns} FROM runs{where} ORDER BY id", params).fetchall()

    def records(self, experiment: str | None = None, group: str | None = None) -> list[RunRecord]:
        """Stored runs in insertion order, optionally of one experiment and/or group.

        Examples
        --------
        >>> [r.config_name for r in store.records("compare-digits")]  # doctest: +SKIP
        ['baseline', 'l2']
        """
        return [
            RunRecord.from_dict(json.loads(row[0]))
            for row in self._rows("record", experiment, group)
        ]

    def get(self, id: int) -> RunRecord:
        """The run with row id ``id`` (as shown by :meth:`list_runs`).

        Raises
        ------
        StoreError
            No run has this id; the message gives the valid range.

        Examples
        --------
        >>> store.get(1).config_name  # doctest: +SKIP
        'baseline'
        """
        if isinstance(id, bool) or not isinstance(id, int):
            raise InvalidParameterError(
                f"The 'id' parameter of ResultsStore.get must be an int. Got {id!r} instead."
            )
        with self._reading() as conn:
            row = conn.execute("SELECT record FROM runs WHERE id = ?", (id,)).fetchone()
            if row is None:
                low, high, count = conn.execute(
                    "SELECT MIN(id), MAX(id), COUNT(*) FROM runs"
                ).fetchone()
        if row is None:
            if not count:
                raise StoreError(f"No run with id {id}: the store '{self._path}' is empty.")
            raise StoreError(
                f"No run with id {id} in '{self._path}'. Valid ids range from {low} to "
                f"{high} ({count} runs); `regulab runs list` shows them."
            )
        return RunRecord.from_dict(json.loads(row[0]))

    def list_runs(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """One summary dict per stored run, in insertion order.

        Keys: ``id``, ``experiment``, ``group``, ``config_name``, ``seed``, ``metric`` (name
        of the main test metric: ``test_accuracy``, else ``test_r2``, ``test_mse``,
        ``test_loss``, else the first ``test_*``; None without test metrics), ``value`` (its
        value), ``epochs``, ``seconds``, ``created_at`` (ISO 8601, UTC).

        Examples
        --------
        >>> store.list_runs()[0]["metric"]  # doctest: +SKIP
        'test_accuracy'
        """
        rows = self._rows(
            "id, experiment, group_name, config_name, seed, seconds, created_at, record",
            experiment,
        )
        summaries = []
        for id_, exp, group, name, seed, seconds, created_at, payload in rows:
            values = json.loads(payload)
            metric, value = _main_metric(values.get("metrics") or {})
            summaries.append(
                {
                    "id": id_,
                    "experiment": exp,
                    "group": group,
                    "config_name": name,
                    "seed": seed,
                    "metric": metric,
                    "value": value,
                    "epochs": values.get("epochs_run"),
                    "seconds": seconds,
                    "created_at": created_at,
                }
            )
        return summaries

    def experiments(self) -> list[str]:
        """Experiment names, in the order their first run was stored.

        Examples
        --------
        >>> store.experiments()  # doctest: +SKIP
        ['compare-digits', 'path-l1']
        """
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT experiment FROM runs GROUP BY experiment ORDER BY MIN(id)"
            ).fetchall()
        return [row[0] for row in rows]

    # ----------------------------------------------------------------------------- export
    def export_csv(self, path: str | os.PathLike[str], experiment: str | None = None) -> Path:
        """Write one CSV row per run, atomically (temporary file, then rename).

        Columns: ``id``, ``run_key``, ``experiment``, ``group``, ``config_name``, ``seed``,
        one ``metrics.<name>`` column per metric found in any run (empty where a run lacks
        it), ``epochs_run``, ``stop_reason``, ``best_epoch``, ``sparsity.total``,
        ``seconds``, ``created_at``.

        Returns
        -------
        pathlib.Path
            The written file.

        Examples
        --------
        >>> store.export_csv("runs.csv", experiment="compare-digits")  # doctest: +SKIP
        PosixPath('runs.csv')
        """
        target = Path(path).expanduser()
        folder = target.parent
        if not folder.is_dir():
            raise StoreError(
                f"Cannot write '{target}': folder '{folder}' does not exist. Create it first."
            )
        rows = self._rows(
            "id, run_key, experiment, group_name, created_at, record", experiment=experiment
        )
        parsed = [(row, json.loads(row[5])) for row in rows]
        metric_names = sorted({name for _, values in parsed for name in values["metrics"]})
        header = ["id", "run_key", "experiment", "group", "config_name", "seed"]
        header += [f"metrics.{name}" for name in metric_names]
        header += ["epochs_run", "stop_reason", "best_epoch", "sparsity.total", "seconds"]
        header += ["created_at"]
        temporary = folder / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(temporary, "x", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream)
                writer.writerow(header)
                for (id_, key, exp, group, created_at, _), values in parsed:
                    metrics = values["metrics"]
                    sparsity = values.get("sparsity") or {}
                    writer.writerow(
                        [id_, key, exp, group, values["config_name"], values["seed"]]
                        + [_cell(metrics.get(name)) for name in metric_names]
                        + [
                            values["epochs_run"],
                            values["stop_reason"],
                            _cell(values.get("best_epoch")),
                            _cell(sparsity.get("total")),
                            values["seconds"],
                            created_at,
                        ]
                    )
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target
