"""Regulab's trainer on any ``nn.Module`` against a plain PyTorch loop, on MNIST.

Run from the repository root::

    PYTHONUNBUFFERED=1 .venv/bin/python benchmarks/generic_speed.py
    .venv/bin/python benchmarks/generic_speed.py --quick           # 2k-row correctness run
    .venv/bin/python benchmarks/generic_speed.py --json out/generic.json --repeats 5
    .venv/bin/python benchmarks/generic_speed.py --advise 30m      # advised CNN, test accuracy
    .venv/bin/python benchmarks/generic_speed.py --stack 4 --stack-only --device cuda

Sections, all measured in one process, the runs of all configurations interleaved:

1. The seed MLP (784-128-64-10, dropout 0.5/0.3) written as a plain ``nn.Sequential``, so
   it takes the generic path (``torch.optim.Adam``): one epoch at batch 32 through
   ``regulab.train`` against the plain loop on the same model. Target: <= 1.05x.
2. The built-in ``regulab.models.CNN`` (two conv blocks, dense head, dropout 0.5): one
   epoch through ``regulab.train`` against the plain loop with the same model. Target:
   <= 1.05x.
3. With ``--stack M``: M configs of each model (L2 strengths 0, 1e-5, 1e-4...; one seed,
   so the same batches) for one epoch through ``regulab.train_many`` as one torch.func
   stack (``stack=True``) against one after the other (``stack=False``). The ratio is
   in turn / stacked: above 1, stacking wins. (Dropout masks differ between the two paths,
   so the weights are not compared here; ``tests/test_vmap.py`` checks that a stacked
   member without dropout ends where it ends alone.)
4. With ``--advise BUDGET``: ``regulab.advise(mnist, model="cnn", jobs=THREADS)`` (one
   worker process per core) and the test accuracy of its recommendation. Target: >= 99.0%.

Both sides start from the same weights, see the same batches and train without a
validation split, so each epoch does the same arithmetic; the plain loop's final weights
must match Regulab's (checked, printed as ``max |dw|``).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_MNIST_DIR,
    Samples,
    Table,
    load_mnist_arrays,
    machine_summary,
    seed_mlp,
    threads,
    time_call,
    verdict,
    write_json,
)

import regulab  # noqa: E402
from regulab.models import CNN  # noqa: E402
from regulab.training._common import _seeds  # noqa: E402

TARGET_RATIO = 1.05
TARGET_ACCURACY = 0.99
SEED = 0


def cnn() -> nn.Module:
    return CNN((28, 28), 10, dropout=0.5, seed=SEED)


def plain_epoch(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int) -> nn.Module:
    """One epoch of the loop every PyTorch tutorial writes, on Regulab's batch order."""
    shuffle_seed, dropout_seed = _seeds(SEED)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(shuffle_seed))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(dropout_seed)
        model.train()
        for index in order.split(batch):
            loss = F.cross_entropy(model(X[index]), y[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def regulab_epoch(
    model: nn.Module, X: np.ndarray, y: np.ndarray, batch: int, threads: int
) -> nn.Module:
    result = regulab.train(
        model,
        X,
        y,
        epochs=1,
        batch_size=batch,
        validation_split=0.0,
        seed=SEED,
        verbose=0,
        threads=threads,  # as many as the plain loop uses (train's default is 1)
    )
    return result.model


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max(
        float((a.state_dict()[k].float() - v.float()).abs().max())
        for k, v in b.state_dict().items()
    )


def compare_epochs(
    name: str, build: Callable[[], nn.Module], X: np.ndarray, y: np.ndarray, args: Any
) -> dict[str, Any]:
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    if name == "cnn":
        Xt = Xt.view(-1, 1, 28, 28)  # the plain loop feeds images; Regulab gets the rows
    plain, ours = Samples(), Samples()
    difference = 0.0
    plain_epoch(build(), Xt[:256], yt[:256], 32)  # warm-up: lazy initialization off the clock
    regulab_epoch(build(), X[:256], y[:256], 32, args.threads)
    for _ in range(args.repeats):
        start = build()
        plain_model, timing = time_call(partial(plain_epoch, copy.deepcopy(start), Xt, yt, 32))
        plain.add(timing)
        our_model, timing = time_call(
            partial(regulab_epoch, copy.deepcopy(start), X, y, 32, args.threads)
        )
        ours.add(timing)
        difference = max(difference, max_difference(our_model, plain_model))
    return {"plain": plain, "regulab": ours, "ratio": ours.median / plain.median, "dw": difference}


def stacked_vs_in_turn(
    build: Callable[[], nn.Module], X: np.ndarray, y: np.ndarray, args: Any
) -> dict[str, Any]:
    """One epoch of ``args.stack`` configs of ``build()``'s model, stacked and in turn."""
    strengths = [0.0] + [10.0 ** -(5 - k) for k in range(args.stack - 1)]

    def epoch(stack: bool, rows: int | None = None) -> None:
        members = [
            regulab.Member(build(), [regulab.L2(s)] if s else [], seed=SEED) for s in strengths
        ]
        regulab.train_many(
            members,
            X[:rows],
            y[:rows],
            epochs=1,
            batch_size=32,
            validation_split=0.0,
            verbose=0,
            threads=args.threads,
            device=args.device,
            stack=stack,
        )

    stacked, in_turn = Samples(), Samples()
    epoch(True, 256)  # warm-up: lazy initialization off the clock
    epoch(False, 256)
    for _ in range(args.repeats):
        stacked.add(time_call(partial(epoch, True))[1])
        in_turn.add(time_call(partial(epoch, False))[1])
    return {"stacked": stacked, "in_turn": in_turn, "ratio": in_turn.median / stacked.median}


def advised_cnn(args: Any) -> dict[str, Any]:
    """The advisor's pick for the CNN and its mean test accuracy over the advisor's seeds
    (reported, never used to choose)."""
    advice = regulab.advise(
        "mnist",
        model="cnn",
        mnist_dir=args.mnist_dir,
        budget=args.advise,
        seeds=2,
        jobs=args.threads,  # one worker process (one torch thread) per core
        verbose=1,
    )
    chosen = next(row for row in advice.ranked if row["preferred"])
    runs = [r for r in advice.records if r.config_name == advice.recommendation]
    return {
        "recommendation": advice.recommendation,
        "epochs": advice.config.epochs,
        "epochs_trained": [r.epochs_run for r in runs],
        "val_accuracy": float(np.mean([r.metrics["val_accuracy"] for r in runs])),
        "test_accuracy": chosen["test_accuracy"],
        "seconds": advice.seconds,
        "notes": advice.notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2k training rows, one repeat.")
    parser.add_argument("--max-rows", type=int, default=None, help="Keep the first rows only.")
    parser.add_argument("--stack", type=int, default=0, help="Time M configs stacked vs in turn.")
    parser.add_argument("--stack-only", action="store_true", help="Only the --stack section.")
    parser.add_argument("--device", default="cpu", help="Device of the --stack section.")
    parser.add_argument("--advise", default=None, help="Budget for the advised-CNN section.")
    parser.add_argument("--json", default=None, help="Write the figures as JSON here.")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    data = load_mnist_arrays(args.mnist_dir, n_train=2000 if args.quick else args.max_rows)
    print(machine_summary())
    print(f"{len(data.X)} training rows, {args.threads} threads, {args.repeats} repeats\n")
    payload: dict[str, Any] = {"machine": machine_summary(), "rows": len(data.X)}
    table = Table(
        "One epoch, batch 32 (median wall seconds)",
        ["model", "plain loop", "regulab", "ratio", "target", "max |dw|"],
    )
    models = (("seed MLP as nn.Sequential", seed_mlp), ("cnn", cnn))
    with threads(args.threads):
        for name, build in models if not args.stack_only else ():
            figures = compare_epochs(name, build, data.X, data.y, args)
            payload[name] = figures
            table.add(
                name,
                figures["plain"].median,
                figures["regulab"].median,
                figures["ratio"],
                f"<= {TARGET_RATIO} {verdict(figures['ratio'] <= TARGET_RATIO)}",
                figures["dw"],
            )
        if not args.stack_only:
            print(table.render())
        if args.stack:
            stacks = Table(
                f"{args.stack} configs, one epoch, batch 32, {args.device} (median wall seconds)",
                ["model", "in turn", "stacked", "in turn / stacked"],
            )
            for name, build in models:
                figures = stacked_vs_in_turn(build, data.X, data.y, args)
                payload[f"stack {name}"] = figures
                stacks.add(
                    name, figures["in_turn"].median, figures["stacked"].median, figures["ratio"]
                )
            print(stacks.render())
        if args.advise:
            advised = advised_cnn(args)
            payload["advised_cnn"] = advised
            ok = advised["test_accuracy"] >= TARGET_ACCURACY
            print(
                f"\nadvise(mnist, model='cnn', budget={args.advise}): {advised['recommendation']}"
                f" for up to {advised['epochs']} epochs (trained {advised['epochs_trained']}) in"
                f" {advised['seconds']:.0f} s, validation accuracy {advised['val_accuracy']:.4f},"
                f" test accuracy {advised['test_accuracy']:.4f}"
                f" (target >= {TARGET_ACCURACY}: {verdict(ok)})"
            )
            print("\n".join(f"  - {note}" for note in advised["notes"]))
    if args.json:
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
