"""Running experiments on Dask: streaming, a worker killed mid-run, connection errors.

Every cluster here listens on 127.0.0.1 only. Timeouts are generous so the tests hold on a
loaded two-core machine; each blocking step runs under a hard deadline so a hang fails.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, TypeVar

import pytest
import torch

distributed = pytest.importorskip("distributed")

from regulab.config import TrainConfig  # noqa: E402
from regulab.errors import InvalidParameterError, RegulabError  # noqa: E402
from regulab.experiment import RunRecord, RunSpec, compare, make_tasks, prepare_data  # noqa: E402
from regulab.experiment._dask import ClusterError, execute_dask  # noqa: E402
from regulab.experiment._runner import run_task  # noqa: E402
from regulab.experiment._store import ResultsStore  # noqa: E402

DEADLINE_S = 180.0  # hard limit for one blocking step; normal runs take a few seconds
LOOPBACK = "127.0.0.1"

T = TypeVar("T")


def _within(work: Callable[[], T], deadline: float = DEADLINE_S) -> T:
    """Run ``work`` in a thread; fail (rather than hang) after ``deadline`` seconds."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(deadline)
    assert not thread.is_alive(), f"no end after {deadline:g} s"
    if errors:
        raise errors[0]
    return out[0]


def _comparable(record: RunRecord) -> dict[str, Any]:
    """A record without its timings (the only fields that differ from run to run)."""
    values = asdict(record)
    values.pop("seconds")
    values["history"] = [
        {k: v for k, v in epoch.items() if k != "seconds"} for epoch in values["history"]
    ]
    return values


@pytest.fixture(scope="module")
def iris() -> Any:
    return prepare_data("iris")[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host=LOOPBACK,
        scheduler_kwargs={"dashboard_address": f"{LOOPBACK}:0"},
    ) as local:
        yield local


def test_worker_killed_mid_run_every_run_back_exactly_once(iris: Any, cluster: Any) -> None:
    # 4 one-run tasks of about a second each: 2 rounds on 2 workers, so when the first
    # result arrives the other worker is still training and the scheduler has more to give.
    config = TrainConfig(model="4-16-3", epochs=30, batch_size=4, verbose=0)
    specs = [RunSpec("none", config, seed) for seed in range(4)]
    tasks = make_tasks(specs, max_stack=1)
    assert len(tasks) == 4
    expected = {spec.key(iris.fingerprint) for spec in specs}
    assert cluster.scheduler_address.startswith(f"tcp://{LOOPBACK}:")

    with distributed.Client(cluster, set_as_default=False, timeout=DEADLINE_S) as client:
        killed: dict[str, Any] = {}

        def kill_a_busy_worker() -> None:
            if killed:
                return
            pids = client.run(os.getpid)
            end = time.monotonic() + 30
            while time.monotonic() < end:
                busy = [addr for addr, keys in client.processing().items() if keys]
                if busy:
                    break
                time.sleep(0.05)
            assert busy, "no worker had a task in flight after the first result"
            killed.update(address=busy[0], pid=pids[busy[0]])
            os.kill(pids[busy[0]], signal.SIGKILL)

        def run() -> list[list[RunRecord]]:
            batches = []
            for records in execute_dask(tasks, iris, "test", scheduler=cluster.scheduler_address):
                batches.append(records)
                kill_a_busy_worker()
            return batches

        batches = _within(run)
        assert killed, "no worker was killed"
        # The nanny restarts the killed worker under a new pid.
        assert killed["pid"] not in client.run(os.getpid).values()
        assert set(client.run(torch.get_num_threads).values()) == {1}

    records = [record for batch in batches for record in batch]
    keys = [record.run_key for record in records]
    assert len(keys) == len(set(keys)) == len(expected)
    assert set(keys) == expected

    # Same numbers as the same tasks run here: training is deterministic per seed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = {r.run_key: r for task in tasks for r in run_task(task, iris, "test")}
    finally:
        torch.set_num_threads(threads)
    for record in records:
        assert _comparable(record) == _comparable(local[record.run_key])


def test_streams_records_as_tasks_finish_and_cancels_on_close(iris: Any, cluster: Any) -> None:
    config = TrainConfig(model="4-8-3", epochs=2, verbose=0)
    specs = [RunSpec("none", config, seed) for seed in range(4)]
    address = cluster.scheduler_address
    batches = execute_dask(make_tasks(specs, max_stack=1), iris, "t", scheduler=address)
    first = _within(lambda: next(batches))
    assert len(first) == 1
    _within(batches.close)  # the remaining tasks are cancelled, the client closed
    assert _within(lambda: list(execute_dask([], iris, "t", scheduler=address))) == []


def test_unreachable_scheduler_fails_fast_naming_the_address(iris: Any) -> None:
    tasks = [[RunSpec("none", TrainConfig(model="4-8-3", epochs=1), 0)]]
    address = f"tcp://{LOOPBACK}:1"
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        list(execute_dask(tasks, iris, "t", scheduler=address))
    assert time.monotonic() - start < 10
    assert isinstance(info.value, RegulabError) and isinstance(info.value, ConnectionError)
    message = str(info.value)
    assert address in message and "\n" not in message


def test_silent_scheduler_times_out_within_connect_timeout(iris: Any) -> None:
    # Something listens on the port but never answers the Dask handshake.
    tasks = [[RunSpec("none", TrainConfig(model="4-8-3", epochs=1), 0)]]
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen(8)
        address = f"tcp://{LOOPBACK}:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ClusterError, match=address):
            list(execute_dask(tasks, iris, "t", scheduler=address, connect_timeout=2))
        assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "address", ["127.0.0.1:8786", "tls://127.0.0.1:8786", "tcp://127.0.0.1", "tcp://h:99999", ""]
)
def test_bad_scheduler_address_names_the_expected_form(iris: Any, address: str) -> None:
    with pytest.raises(InvalidParameterError, match="tcp://HOST:PORT") as info:
        execute_dask([], iris, "t", scheduler=address)
    assert repr(address) in str(info.value)


def test_bad_arguments(iris: Any) -> None:
    with pytest.raises(InvalidParameterError, match="not both"):
        execute_dask([], iris, "t", scheduler=f"tcp://{LOOPBACK}:8786", workers=2)
    with pytest.raises(InvalidParameterError, match="'workers'"):
        execute_dask([], iris, "t", workers=0)
    with pytest.raises(InvalidParameterError, match="'retries'"):
        execute_dask([], iris, "t", workers=1, retries=-1)


def test_compare_on_a_local_cluster_stores_every_run(tmp_path: Any) -> None:
    with ResultsStore(tmp_path / "runs.sqlite") as store:
        result = _within(
            lambda: compare(
                "iris",
                "none,l2",
                model="4-16-3",
                seeds=2,
                epochs=3,
                workers=2,
                store=store,
                verbose=0,
            )
        )
        assert sorted(row["config"] for row in result.rows) == ["l2", "none"]
        assert len(result.records) == 4
        assert len(store) == 4
        assert store.keys() == {record.run_key for record in result.records}
