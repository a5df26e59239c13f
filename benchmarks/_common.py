"""Shared helpers for Regulab's benchmark scripts: MNIST loading, thread pinning, timing, tables.

Not a benchmark itself; import it from a script in ``benchmarks/``::

    from _common import Table, load_mnist_arrays, threads, time_call
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MNIST_DIR = "../shared/data/mnist"


@dataclass
class Mnist:
    """MNIST as float32 arrays in [0, 1] (pixels / 255) and int64 labels."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def resolve_mnist_dir(mnist_dir: str) -> Path:
    """The folder as given, or relative to the repository root when it is not found as given."""
    path = Path(mnist_dir).expanduser()
    if not path.is_dir() and not path.is_absolute() and (REPO_ROOT / path).is_dir():
        return REPO_ROOT / path
    return path


def load_mnist_arrays(mnist_dir: str, n_train: int | None = None) -> Mnist:
    """MNIST through ``regulab.data.load_mnist``; ``n_train`` keeps the first rows of train."""
    from regulab.data import load_mnist

    data = load_mnist(mnist_dir=resolve_mnist_dir(mnist_dir))
    assert data.X_test is not None and data.y_test is not None
    rows = slice(None, n_train)
    return Mnist(
        np.ascontiguousarray(data.X[rows], dtype=np.float32),
        np.ascontiguousarray(data.y[rows], dtype=np.int64),
        np.ascontiguousarray(data.X_test, dtype=np.float32),
        np.ascontiguousarray(data.y_test, dtype=np.int64),
    )


def seed_mlp(seed: int = 0) -> nn.Module:
    """The seed article's MLP (784-128-64-10, dropout 0.5/0.3) as plain PyTorch layers,
    initialized from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(64, 10),
    )


@contextmanager
def threads(n_threads: int) -> Iterator[None]:
    """Use ``n_threads`` in PyTorch and in NumPy/SciPy BLAS inside the block, then restore."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(previous)


def machine_summary() -> str:
    """One line describing the interpreter, the library versions and the machine."""
    import sklearn
    import torch

    return (
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}; "
        f"{os.cpu_count()} CPUs visible, load average {load_average()}"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages, as text."""
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not available on every platform
        return "n/a"


@dataclass
class Timing:
    """Wall-clock and process CPU seconds of one call."""

    wall: float
    cpu: float


def time_call(fn: Callable[[], Any]) -> tuple[Any, Timing]:
    """Run ``fn`` once and return its result with its wall and CPU time."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, Timing(time.perf_counter() - wall0, time.process_time() - cpu0)


@dataclass
class Samples:
    """Repeated timings of one configuration."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def add(self, timing: Timing) -> None:
        self.walls.append(timing.wall)
        self.cpus.append(timing.cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpus)

    def spread(self) -> str:
        """``min..max`` of the wall times."""
        return f"{min(self.walls):.2f}..{max(self.walls):.2f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.walls,
            "cpu_s": self.cpus,
            "median_wall_s": self.median,
            "median_cpu_s": self.median_cpu,
        }


def verdict(ok: bool) -> str:
    """``PASS`` or ``MISS``."""
    return "PASS" if ok else "MISS"


class Table:
    """A plain-text table with aligned columns (readable in logs and CI output)."""

    def __init__(self, title: str, columns: Sequence[str]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[str]] = []

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append([_cell(c) for c in cells])

    def render(self) -> str:
        widths = [
            max(len(col), *(len(row[i]) for row in self.rows)) if self.rows else len(col)
            for i, col in enumerate(self.columns)
        ]

        def line(cells: Sequence[str]) -> str:
            parts = [
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths))
            ]
            return "| " + " | ".join(parts) + " |"

        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        out = [self.title, rule, line(self.columns), rule]
        out += [line(row) for row in self.rows]
        out.append(rule)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.2f}"
    return str(value)


def write_json(path: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, creating the folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (Samples, Table)):
        return value.to_dict()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
