"""Running tasks on a Dask cluster: an existing one, or a local one started for the call.

:func:`execute_dask` is the Dask counterpart of :func:`regulab.experiment._runner.execute`:
it sends the data once to every worker, submits one Dask task per stack of runs and yields
each stack's records as soon as it finishes, so the caller can store them at once. A worker
that dies mid-run costs only its stack in flight: the scheduler runs it again elsewhere, and
every stack is still yielded exactly once.

Needs the ``distributed`` package (``pip install 'regulab[dask]'``). The example is in
:func:`execute_dask`.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Generator, Sequence
from concurrent.futures import CancelledError
from contextlib import ExitStack
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from regulab.errors import InvalidParameterError, RegulabError, check_range, one_line
from regulab.experiment._records import RunRecord
from regulab.experiment._runner import DataBundle, RunSpec, run_task

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["execute_dask", "ClusterError", "DaskNotInstalledError", "check_scheduler_address"]

_ADDRESS = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>[0-9]{1,5})")
_ADDRESS_FORM = "'tcp://HOST:PORT' (for example 'tcp://127.0.0.1:8786')"


class ClusterError(RegulabError, ConnectionError):
    """The Dask scheduler cannot be reached, or the cluster lost the work it was given."""


class DaskNotInstalledError(RegulabError, ImportError):
    """Running on Dask needs the optional ``distributed`` package."""


def _distributed() -> ModuleType:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DaskNotInstalledError(
            "Running on a Dask cluster needs the 'distributed' package; install it with "
            "pip install 'regulab[dask]'."
        ) from exc
    return distributed


def _one_line(exc: BaseException) -> str:
    return one_line(exc) or type(exc).__name__


def check_scheduler_address(address: object) -> tuple[str, int]:
    """Return ``(host, port)`` of a ``tcp://HOST:PORT`` address, else raise.

    Raises
    ------
    InvalidParameterError
        The address is not of the form ``tcp://HOST:PORT`` with a port in 1..65535.

    Examples
    --------
    >>> check_scheduler_address("tcp://127.0.0.1:8786")
    ('127.0.0.1', 8786)
    """
    match = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise InvalidParameterError(
            f"The 'scheduler' parameter of execute_dask must be an address of the form "
            f"{_ADDRESS_FORM}. Got {address!r} instead."
        )
    return match["host"].strip("[]"), int(match["port"])


def _connect(address: str, timeout: float) -> Client:
    """A client of the scheduler at ``address``, or :class:`ClusterError` within ``timeout``."""
    host, port = check_scheduler_address(address)
    deadline = time.monotonic() + timeout
    # A quick TCP probe so that "nothing listens there" fails at once with a clear reason,
    # rather than after the client's whole timeout of retries.
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise ClusterError(
            f"Could not reach the Dask scheduler at {address}: connection refused "
            f"(is a scheduler running there?)."
        ) from None
    except socket.gaierror as exc:
        raise ClusterError(
            f"Could not reach the Dask scheduler at {address}: unknown host ({_one_line(exc)})."
        ) from None
    except OSError as exc:
        raise ClusterError(
            f"Could not reach the Dask scheduler at {address} within {timeout:g} s: "
            f"{_one_line(exc)}."
        ) from None
    # The client's own timeout does not cover the handshake: a server that accepts the
    # connection but never answers would hang it forever. So it connects in a thread, and a
    # client that arrives after the deadline is closed there.
    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def make_client() -> None:
        try:
            remaining = max(deadline - time.monotonic(), 0.1)
            made = _distributed().Client(address, timeout=remaining, set_as_default=False)
        except BaseException as exc:  # reported by the caller, or dropped if too late
            outcome.setdefault("error", exc)
            return
        with lock:
            late = "abandoned" in outcome
            outcome["client"] = made
        if late:
            made.close()

    thread = threading.Thread(target=make_client, name="regulab-dask-connect", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0.0))
    with lock:
        if "client" in outcome:
            return cast("Client", outcome["client"])
        outcome["abandoned"] = True
    error = outcome.get("error")
    reason = _one_line(error) if error is not None else "no answer from a Dask scheduler"
    raise ClusterError(
        f"Could not connect to the Dask scheduler at {address} within {timeout:g} s: {reason}."
    )


def _run_task_one_thread(
    task: Sequence[RunSpec], data: DataBundle, library_version: str
) -> list[RunRecord]:
    """:func:`run_task` with one torch thread, so workers do not oversubscribe their cores."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return run_task(task, data, library_version)


def execute_dask(
    tasks: Sequence[Sequence[RunSpec]],
    data: DataBundle,
    library_version: str,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    connect_timeout: float = 10.0,
    retries: int = 2,
) -> Generator[list[RunRecord], None, None]:
    """Run tasks on a Dask cluster and yield each task's records as it finishes.

    The data bundle is sent once to every worker; each task (a stack of compatible runs)
    becomes one Dask task. If a worker dies, the scheduler reruns its tasks on another one;
    every task is yielded exactly once, in order of completion. Closing the generator early
    cancels the tasks not yet finished.

    Parameters
    ----------
    tasks : sequence of sequence of RunSpec
        Stacks of runs, as made by :func:`~regulab.experiment.make_tasks`.
    data : DataBundle
        The arrays every run uses.
    library_version : str
        Written into every record.
    scheduler : str, optional
        Address ``tcp://HOST:PORT`` of the scheduler of a running cluster. Its workers need
        Regulab installed; they are set to one torch thread each.
    workers : int, optional
        Size of a local cluster started for this call (worker processes with one thread each,
        listening on 127.0.0.1 only) and closed after it. With neither ``scheduler`` nor
        ``workers``, a local cluster of one worker per CPU core (at most one per task).
    connect_timeout : float, default=10.0
        Seconds allowed to reach ``scheduler``.
    retries : int, default=2
        Extra attempts for a task that raises an exception.

    Yields
    ------
    list of RunRecord
        The records of one finished task.

    Raises
    ------
    InvalidParameterError
        Bad ``scheduler`` form, both ``scheduler`` and ``workers``, or a bad number.
    ClusterError
        The scheduler cannot be reached within ``connect_timeout``, or the cluster lost a
        task (for instance after its workers died too often).

    Notes
    -----
    The local cluster starts worker processes with ``spawn``: a script that calls this must
    keep its top-level code under ``if __name__ == "__main__":``.

    Examples
    --------
    >>> from regulab.config import TrainConfig
    >>> from regulab.experiment import RunSpec, make_tasks, prepare_data
    >>> _, data = prepare_data("iris")
    >>> specs = [RunSpec("none", TrainConfig(model="4-8-3", epochs=2), s) for s in range(4)]
    >>> tasks = make_tasks(specs, min_tasks=2)
    >>> batches = execute_dask(tasks, data, "dev", workers=2)  # doctest: +SKIP
    >>> sum(len(records) for records in batches)  # doctest: +SKIP
    4
    """
    if scheduler is not None and workers is not None:
        raise InvalidParameterError(
            "Give either 'scheduler' (the address of a running cluster) or 'workers' (the size "
            f"of a local one) to execute_dask, not both. Got scheduler={scheduler!r} and "
            f"workers={workers!r}."
        )
    if scheduler is not None:
        check_scheduler_address(scheduler)
    if workers is not None:
        check_range("workers", workers, low=1, integer=True, owner="execute_dask")
    check_range("connect_timeout", connect_timeout, low=0, low_open=True, owner="execute_dask")
    check_range("retries", retries, low=0, integer=True, owner="execute_dask")
    return _execute(tasks, data, library_version, scheduler, workers, connect_timeout, retries)


def _execute(
    tasks: Sequence[Sequence[RunSpec]],
    data: DataBundle,
    library_version: str,
    scheduler: str | None,
    workers: int | None,
    connect_timeout: float,
    retries: int,
) -> Generator[list[RunRecord], None, None]:
    if not tasks:
        return
    distributed = _distributed()
    with ExitStack() as stack:
        if scheduler is not None:
            client = _connect(scheduler, connect_timeout)
            where = f"the Dask cluster at {scheduler}"
        else:
            n_workers = workers or max(1, min(os.cpu_count() or 1, len(tasks)))
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                    # The scheduler's HTTP server (health, metrics) on a free loopback port,
                    # rather than 8787 that another cluster may hold.
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                )
            )
            client = distributed.Client(cluster, set_as_default=False)
            where = f"the local Dask cluster of {n_workers} workers"
        stack.callback(client.close)
        data_future = client.scatter(data, broadcast=True)
        futures = [
            client.submit(
                _run_task_one_thread,
                list(task),
                data_future,
                library_version,
                retries=retries,
                pure=False,
            )
            for task in tasks
        ]
        stack.callback(client.cancel, futures)  # no-op for finished ones; frees the rest
        seen: set[str] = set()
        for future in distributed.as_completed(futures, loop=client.loop):
            if future.key in seen:
                continue
            seen.add(future.key)
            try:
                records: list[RunRecord] = future.result()
            except distributed.KilledWorker as exc:
                raise ClusterError(
                    f"A task was lost on {where}: the workers running it died too often "
                    f"({_one_line(exc)})."
                ) from None
            except CancelledError as exc:
                raise ClusterError(
                    f"A task was cancelled on {where} (lost connection to the scheduler?): "
                    f"{_one_line(exc)}."
                ) from None
            yield records
