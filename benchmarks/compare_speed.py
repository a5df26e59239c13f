"""Batched training speed: 8 configs of the seed MLP as one stack versus one config alone.

Run::

    .venv/bin/python benchmarks/compare_speed.py --mnist-dir ../shared/data/mnist
    .venv/bin/python benchmarks/compare_speed.py --quick        # 10k rows, one repeat

All timings come from the same process run; medians over ``--repeats``. The epoch time is
the trainer's own per-epoch record (training only; validation uses 1,000 rows and is not
counted). The plain-PyTorch loop of ``train_speed.py`` is timed too, as the reference.

Also measures local parallelism: the same sweep of independent runs with ``jobs=1`` and
``jobs=2`` worker processes (one torch thread each).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import (
    DEFAULT_MNIST_DIR,
    Samples,
    Table,
    load_mnist_arrays,
    machine_summary,
    seed_mlp,
    verdict,
)
from _common import write_json as write_json_file

from regulab import L1, L2, MLP, EarlyStopping, ElasticNet, Member, WeightDecay, train_many
from regulab.config import TrainConfig
from regulab.experiment import DataBundle, RunSpec, make_tasks
from regulab.experiment._runner import execute

CONFIGS = [
    ([], (0.5, 0.3)),
    ([L2(1e-4)], (0.5, 0.3)),
    ([L1(1e-4, proximal=True)], (0.5, 0.3)),
    ([ElasticNet(1e-4, 0.5)], (0.5, 0.3)),
    ([WeightDecay(1e-2)], (0.5, 0.3)),
    ([], (0.0, 0.0)),
    ([L2(1e-3)], (0.2, 0.2)),
    ([], (0.3, 0.3)),
]


def members(count: int) -> list[Member]:
    """``count`` configs of the seed MLP: different penalties, dropout rates and seeds."""
    return [
        Member(MLP("784-128-64-10", dropout=list(rates), seed=k), penalties, [EarlyStopping()], k)
        for k, (penalties, rates) in enumerate(CONFIGS[:count])
    ]


def regulab_epoch(data, count: int, batch: int, threads: int = 1) -> float:
    results = train_many(
        members(count),
        data.X,
        data.y,
        data.X_test[:1000],
        data.y_test[:1000],
        epochs=1,
        batch_size=batch,
        verbose=0,
        threads=threads,
    )
    return float(results[0].history[0]["seconds"])


def plain_epoch(data, batch: int) -> float:
    model = seed_mlp(0)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)
    started = time.perf_counter()
    perm = torch.randperm(len(X))
    for i in range(0, len(X), batch):
        index = perm[i : i + batch]
        opt.zero_grad()
        F.cross_entropy(model(X[index]), y[index]).backward()
        opt.step()
    return time.perf_counter() - started


def sweep_seconds(data, jobs: int, runs: int, epochs: int) -> float:
    """Wall time of ``runs`` independent runs (no stacking) with ``jobs`` workers, worker
    start-up (process spawn, imports, loading the data) included."""
    bundle = DataBundle(
        data.X,
        data.y,
        data.X_test[:1000],
        data.y_test[:1000],
        data.X_test[:1000],
        data.y_test[:1000],
        "classification",
        10,
        tuple(f"px{i}" for i in range(784)),
        "bench",
    )
    config = TrainConfig(model="784-128-64-10", dropout=(0.5, 0.3), epochs=epochs, verbose=0)
    specs = [RunSpec(f"run{k}", config, k) for k in range(runs)]
    tasks = make_tasks(specs, max_stack=1)
    started = time.perf_counter()
    for _ in execute(tasks, bundle, "bench", jobs=jobs):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k rows, one repeat")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    data = load_mnist_arrays(args.mnist_dir, n_train=10_000 if args.quick else None)
    repeats = 1 if args.quick else args.repeats
    print(machine_summary())
    print(f"{len(data.X)} training rows, {repeats} repeat(s), torch threads 1 unless said")
    torch.set_num_threads(1)
    table = Table(
        "Batched training, one epoch (median seconds; sequential training of 8 = 8x)",
        [
            "batch",
            "plain loop",
            "1 config",
            "8 stacked",
            "8 / 1",
            "target <= 3x",
            "8 stacked, 2 thr",
            "8 (2 thr) / 1",
        ],
    )
    figures: dict[str, float] = {}
    for batch in (32, 128):
        plain, alone, stacked, stacked2 = Samples(), Samples(), Samples(), Samples()
        for _ in range(repeats):
            for samples, count, threads in (
                (plain, 0, 1),
                (alone, 1, 1),
                (stacked, 8, 1),
                (stacked2, 8, 2),
            ):
                seconds = (
                    plain_epoch(data, batch)
                    if count == 0
                    else regulab_epoch(data, count, batch, threads)
                )
                samples.walls.append(seconds)
                samples.cpus.append(seconds)
        ratio, ratio2 = stacked.median / alone.median, stacked2.median / alone.median
        figures[f"batch{batch}_ratio"] = ratio
        figures[f"batch{batch}_ratio_2threads"] = ratio2
        table.add(
            batch,
            plain.median,
            alone.median,
            stacked.median,
            f"{ratio:.2f}x",
            verdict(ratio <= 3.0) if batch == 32 else "-",
            stacked2.median,
            f"{ratio2:.2f}x",
        )
    print(table.render())
    runs, epochs = (4, 1) if args.quick else (8, 3)
    one = sweep_seconds(data, 1, runs, epochs)
    two = sweep_seconds(data, 2, runs, epochs)
    sweep = Table(
        f"Sweep of {runs} independent {epochs}-epoch runs (1 torch thread each; jobs=2: "
        "worker processes, start-up included)",
        ["jobs", "seconds", "throughput vs jobs=1"],
    )
    sweep.add(1, one, "1.00x")
    sweep.add(2, two, f"{one / two:.2f}x")
    print(sweep.render())
    figures.update(sweep_jobs1=one, sweep_jobs2=two)
    if args.json:
        write_json_file(
            args.json, {"figures": figures, "tables": [table.to_dict(), sweep.to_dict()]}
        )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
