"""Regulab's trainer against a hand-written PyTorch loop and scikit-learn on MNIST.

Run from the repository root (the full run takes about 5-8 minutes on 2 CPU cores)::

    PYTHONUNBUFFERED=1 .venv/bin/python benchmarks/train_speed.py
    .venv/bin/python benchmarks/train_speed.py --quick            # 10k-row smoke run
    .venv/bin/python benchmarks/train_speed.py --json out/speed.json --repeats 5
    .venv/bin/python benchmarks/train_speed.py --search-l1        # re-pick the L1 strength

Sections, all measured in one process:

1. Speed of one epoch on the 60k training rows (median over ``--repeats``; the runs of all
   configurations are interleaved so that a noisy minute hurts them alike): the plain loop,
   ``regulab.train`` and scikit-learn's ``MLPClassifier``, at batch 32 and 128, without a
   penalty and with L2. Every configuration uses ``--threads`` (default 2) torch and BLAS
   threads; regulab gets ``threads=`` explicitly. One extra row shows regulab's default
   (one thread).
2. Test accuracy of the seed MLP (784-128-64-10, dropout 0.5/0.3, Adam 1e-3, batch 32,
   10 epochs): regulab against the plain loop; the batch-norm variant after 5 epochs.
3. Proximal L1 on the first layer only: exact-zero share and test accuracy; plain
   (sub-gradient) L1 under Adam for contrast. The strength was picked on a validation split
   (the last 10k training rows) with ``--search-l1``; the default run uses the picked value.
   Sections 2 and 3 run on ``--accuracy-threads`` (default 1) threads for every method: only
   their accuracies are compared, and one thread cannot stall on a busy machine.
4. L1 logistic regression on all 60k rows (proximal L1, Adam) against scikit-learn's
   liblinear L1 (one-vs-rest, 10k subsample) and lbfgs L2 (60k), on ``--threads`` threads.

Inputs are the pixels scaled to [0, 1] (``/255``) for every method. Targets are printed next
to the measured values with PASS/MISS.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_MNIST_DIR,
    Mnist,
    Samples,
    Table,
    load_average,
    load_mnist_arrays,
    machine_summary,
    threads,
    time_call,
    verdict,
    write_json,
)

from regulab.models import MLP, LinearModel  # noqa: E402
from regulab.penalties import L1, L2  # noqa: E402
from regulab.training import Member, evaluate, train, train_many  # noqa: E402

SPEC = "784-128-64-10"
DROPOUT = (0.5, 0.3)
LR = 1e-3
L2_STRENGTH = 1e-4
N_VAL_TIMING = 1000  # rows of the validation pass inside regulab's timed epoch
FIRST_LAYER_ONLY = {1: 0.0, 2: 0.0}

# Proximal L1 on the first layer of the seed MLP, picked with --search-l1 on the validation
# split (train on the first 50k rows, score on the last 10k): the strongest value whose
# validation accuracy stays within 1 point of the unpenalized model.
FIRST_LAYER_L1 = 3e-4
L1_CANDIDATES = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3)

# L1 logistic regression (proximal L1, Adam), chosen on a validation split (train on the
# first 50k training images, score on the last 10k; never on the test set): among l1 in
# {7e-5, 1e-4, 1.5e-4, 2e-4} x lr in {2e-2, 5e-2} x batch in {4096, 8192}, 15 epochs, the best
# validation accuracy (92.11%) with at least 60% exact zeros (61.4%). Big batches give more
# exact zeros at the same l1: less minibatch noise pushes zeroed weights off zero.
LOGREG = {"l1": 2e-4, "lr": 5e-2, "batch_size": 4096, "epochs": 15}
LIBLINEAR_ROWS = 10_000


# -- models and the plain PyTorch loop ------------------------------------------------------------
def seed_mlp(seed: int = 0, batchnorm: Sequence[int] = ()) -> MLP:
    """The seed MLP as a regulab model."""
    return MLP(SPEC, dropout=list(DROPOUT), batchnorm=list(batchnorm), seed=seed)


def plain_mlp(seed: int = 0, batchnorm: bool = False) -> nn.Sequential:
    """The same network as an ``nn.Sequential``, starting from the same weights.

    ``batchnorm`` inserts ``BatchNorm1d`` after the first linear layer (before its ReLU).
    """
    first: list[nn.Module] = [nn.Linear(784, 128)]
    if batchnorm:
        first.append(nn.BatchNorm1d(128))
    model = nn.Sequential(
        *first,
        nn.ReLU(),
        nn.Dropout(DROPOUT[0]),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Dropout(DROPOUT[1]),
        nn.Linear(64, 10),
    )
    source = seed_mlp(seed)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for target, linear in zip(linears, source.linears):
            target.weight.copy_(linear.weight)
            target.bias.copy_(linear.bias)
    return model


def plain_fit(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, l2: float
) -> nn.Module:
    """The textbook loop: shuffle, slice, zero_grad, forward, loss (+ L2 term), backward, step."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    weights = [p for p in model.parameters() if p.ndim == 2]
    n = len(X)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            index = perm[i : i + batch_size]
            xb, yb = X[index], y[index]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            if l2:
                loss = loss + l2 * sum(w.pow(2).sum() for w in weights)
            loss.backward()
            opt.step()
    model.eval()
    return model


@torch.no_grad()
def plain_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(X).argmax(1) == y).float().mean())


def first_layer_zeros(model: MLP) -> float:
    return float((model.linears[0].weight == 0).float().mean())


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


# -- section 1: speed ----------------------------------------------------------------------------
def speed_section(data: Mnist, repeats: int, n_threads: int) -> tuple[Table, dict[str, Any]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)
    X_val = torch.from_numpy(data.X_test[:N_VAL_TIMING])
    y_val = torch.from_numpy(data.y_test[:N_VAL_TIMING])
    in_loop: dict[str, list[float]] = {}

    def plain_run(batch: int, l2: float) -> Callable[[], Any]:
        torch.manual_seed(0)
        model = plain_mlp(0)
        return lambda: plain_fit(model, X, y, 1, batch, l2)

    def regulab_run(batch: int, l2: float, key: str, n: int) -> Callable[[], Any]:
        model = seed_mlp(0)
        penalties = [L2(l2)] if l2 else []

        def run() -> Any:
            result = train(
                model,
                X,
                y,
                X_val,
                y_val,
                penalties=penalties,
                epochs=1,
                batch_size=batch,
                verbose=0,
                validation_split=0,
                device="cpu",
                threads=n,
            )
            in_loop.setdefault(key, []).append(result.history[-1]["seconds"])
            return result

        return run

    def sklearn_run() -> Callable[[], Any]:
        model = MLPClassifier(
            hidden_layer_sizes=(128, 64), batch_size=32, max_iter=1, solver="adam", random_state=0
        )

        def run() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return model.fit(data.X, data.y)

        return run

    # name -> (baseline name, factory of a fresh zero-argument run)
    configs: dict[str, tuple[str, Callable[[], Callable[[], Any]]]] = {}
    for batch in (32, 128):
        for l2 in (0.0, L2_STRENGTH):
            tag = f"batch {batch}" + (f", L2 {l2:g}" if l2 else "")
            base = f"plain PyTorch, {tag}"
            configs[base] = (base, lambda b=batch, p=l2: plain_run(b, p))
            key = f"regulab.train, {tag}"
            configs[key] = (base, lambda b=batch, p=l2, k=key: regulab_run(b, p, k, n_threads))
    if n_threads != 1:
        key = "regulab.train, batch 32, default threads=1"
        configs[key] = ("plain PyTorch, batch 32", lambda k=key: regulab_run(32, 0.0, k, 1))
    sk_name = "sklearn MLPClassifier, batch 32 (alpha 1e-4)"
    configs[sk_name] = ("plain PyTorch, batch 32", sklearn_run)

    _warm_up(data, n_threads)
    samples = {name: Samples() for name in configs}
    for repeat in range(repeats):
        for name, (_, make) in configs.items():
            run = make()
            gc.collect()
            _, timing = time_call(run)
            samples[name].add(timing)
        print(f"  speed: repeat {repeat + 1}/{repeats} done, load {load_average()}", flush=True)

    table = Table(
        f"1. One epoch on {len(X)} rows, {n_threads} torch/BLAS threads unless stated; median "
        f"of {repeats} interleaved repeats (wall s). Ratio = median / plain loop at the same "
        f"batch and penalty. regulab's time is the whole train() call, with a {N_VAL_TIMING}-row"
        " validation pass; 'in-loop' is its epoch alone.",
        ["configuration", "median s", "min..max s", "CPU s", "in-loop s", "ratio", "target"],
    )
    figures: dict[str, Any] = {"threads": n_threads}
    for name, sample in samples.items():
        baseline = configs[name][0]
        ratio = sample.median / samples[baseline].median
        loop = in_loop.get(name)
        target = f"<= 1.00 {verdict(ratio <= 1.0)}" if name.startswith("regulab") else "-"
        table.add(
            name,
            f"{sample.median:.2f}",
            sample.spread(),
            f"{sample.median_cpu:.2f}",
            f"{float(np.median(loop)):.2f}" if loop else "-",
            "1.00" if name == baseline else f"{ratio:.2f}",
            target,
        )
        figures[name] = {**sample.to_dict(), "ratio_vs_plain": ratio, "in_loop_s": loop}
    return table, figures


def _warm_up(data: Mnist, n_threads: int) -> None:
    """Run every code path once on a few rows so that no timed run pays first-call costs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = torch.from_numpy(data.X[:2000]), torch.from_numpy(data.y[:2000])
    for l2 in (0.0, L2_STRENGTH):
        plain_fit(plain_mlp(0), X, y, 1, 32, l2)
        penalties = [L2(l2)] if l2 else []
        for n in {1, n_threads}:
            train(
                seed_mlp(0),
                X,
                y,
                X[:100],
                y[:100],
                penalties=penalties,
                epochs=1,
                verbose=0,
                validation_split=0,
                device="cpu",
                threads=n,
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(128, 64), batch_size=32, max_iter=1).fit(
            data.X[:2000], data.y[:2000]
        )


# -- sections 2 and 3: accuracy, proximal L1 ------------------------------------------------------
def accuracy_section(
    data: Mnist, first_layer_l1: float, n_threads: int
) -> tuple[Table, Table, dict[str, Any]]:
    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)
    X_test, y_test = torch.from_numpy(data.X_test), torch.from_numpy(data.y_test)
    options = {
        "batch_size": 32,
        "verbose": 0,
        "validation_split": 0,
        "device": "cpu",
        "threads": n_threads,
    }

    torch.manual_seed(0)
    plain, plain_time = time_call(lambda: plain_fit(plain_mlp(0), X, y, 10, 32, 0.0))
    plain_acc = plain_accuracy(plain, X_test, y_test)
    print(f"  accuracy: plain loop done ({plain_time.wall:.1f} s)", flush=True)

    members = [
        Member(seed_mlp(0)),
        Member(seed_mlp(0), [L1(first_layer_l1, proximal=True, per_layer=FIRST_LAYER_ONLY)]),
        Member(seed_mlp(0), [L1(first_layer_l1, proximal=False, per_layer=FIRST_LAYER_ONLY)]),
    ]
    (base, prox, subgrad), stack_time = time_call(
        lambda: train_many(members, X, y, epochs=10, **options)
    )
    print(f"  accuracy: regulab stack of 3 done ({stack_time.wall:.1f} s)", flush=True)
    bn_members = [  # the literal recipe, and batch norm in place of dropout
        Member(seed_mlp(0, batchnorm=[0])),
        Member(MLP(SPEC, dropout=0.0, batchnorm=[0], seed=0)),
    ]
    (bn, bn_only), bn_time = time_call(lambda: train_many(bn_members, X, y, epochs=5, **options))
    print(f"  accuracy: batch-norm models done ({bn_time.wall:.1f} s)", flush=True)
    torch.manual_seed(0)
    plain_bn, plain_bn_time = time_call(
        lambda: plain_fit(plain_mlp(0, batchnorm=True), X, y, 5, 32, 0.0)
    )
    plain_bn_acc = plain_accuracy(plain_bn, X_test, y_test)
    print(f"  accuracy: plain batch-norm loop done ({plain_bn_time.wall:.1f} s)", flush=True)

    def test_acc(model: MLP) -> float:
        return evaluate(model, X_test, y_test)["accuracy"]

    base_acc, prox_acc, sub_acc, bn_acc, bn_only_acc = (
        test_acc(r.model) for r in (base, prox, subgrad, bn, bn_only)
    )
    gap = abs(base_acc - plain_acc)

    acc = Table(
        f"2. Test accuracy on the official 10k (Adam 1e-3, batch 32, {n_threads} thread(s) for "
        "all; the regulab seed MLP is one member of the 3-model stack that also trains section 3)",
        ["model", "epochs", "test acc", "fit s", "target"],
    )
    acc.add(
        "plain PyTorch seed MLP (dropout 0.5/0.3)",
        10,
        pct(plain_acc),
        f"{plain_time.wall:.1f}",
        "-",
    )
    acc.add(
        "regulab seed MLP (dropout 0.5/0.3)",
        10,
        pct(base_acc),
        f"{stack_time.wall:.1f} for 3 models",
        f"|diff| {100 * gap:.2f} <= 0.30 pt {verdict(gap <= 0.003)}",
    )
    acc.add(
        "plain PyTorch seed MLP + BatchNorm1d after layer 1",
        5,
        pct(plain_bn_acc),
        f"{plain_bn_time.wall:.1f}",
        "- (reference for the row below)",
    )
    acc.add(
        "regulab seed MLP + batchnorm=[0] (dropout 0.5/0.3 kept)",
        5,
        pct(bn_acc),
        f"{bn_time.wall:.1f} for 2 models",
        f">= 97.80% {verdict(bn_acc >= 0.978)}",
    )
    acc.add(
        "regulab seed MLP, batchnorm=[0] instead of dropout",
        5,
        pct(bn_only_acc),
        "(same stack)",
        f">= 97.80% {verdict(bn_only_acc >= 0.978)}",
    )

    prox_zeros, sub_zeros = first_layer_zeros(prox.model), first_layer_zeros(subgrad.model)
    loss_pts = 100 * (base_acc - prox_acc)
    l1_table = Table(
        f"3. L1 on the first layer only (l1={first_layer_l1:g}, per_layer={{1: 0, 2: 0}}, picked "
        "on the validation split), seed MLP, 10 epochs, batch 32, Adam 1e-3",
        ["penalty", "layer-1 zeros", "test acc", "acc loss pt", "target"],
    )
    l1_table.add("none", pct(first_layer_zeros(base.model)), pct(base_acc), "-", "-")
    l1_table.add(
        "L1 proximal=True",
        pct(prox_zeros),
        pct(prox_acc),
        f"{loss_pts:.2f}",
        f">= 50% zeros {verdict(prox_zeros >= 0.5)}, loss <= 1 pt {verdict(loss_pts <= 1.0)}",
    )
    l1_table.add(
        "L1 proximal=False (sub-gradient)",
        pct(sub_zeros),
        pct(sub_acc),
        f"{100 * (base_acc - sub_acc):.2f}",
        f"~0% zeros expected: {verdict(sub_zeros < 0.01)}",
    )
    figures = {
        "threads": n_threads,
        "plain_test_accuracy": plain_acc,
        "plain_fit_s": plain_time.wall,
        "regulab_test_accuracy": base_acc,
        "regulab_stack_of_3_fit_s": stack_time.wall,
        "batchnorm_test_accuracy": bn_acc,
        "batchnorm_without_dropout_test_accuracy": bn_only_acc,
        "batchnorm_stack_of_2_fit_s": bn_time.wall,
        "plain_batchnorm_test_accuracy": plain_bn_acc,
        "plain_batchnorm_fit_s": plain_bn_time.wall,
        "first_layer_l1": first_layer_l1,
        "prox_l1_zero_share": prox_zeros,
        "prox_l1_test_accuracy": prox_acc,
        "subgradient_l1_zero_share": sub_zeros,
        "subgradient_l1_test_accuracy": sub_acc,
    }
    return acc, l1_table, figures


def search_first_layer_l1(
    data: Mnist, candidates: Sequence[float], epochs: int, n_threads: int
) -> tuple[float, Table, dict[str, Any]]:
    """Pick the first-layer L1 strength on a validation split (never on the test set)."""
    n_val = len(data.X) // 6
    X, y = data.X[:-n_val], data.y[:-n_val]
    X_val, y_val = data.X[-n_val:], data.y[-n_val:]
    members = [Member(seed_mlp(0))] + [
        Member(seed_mlp(0), [L1(c, proximal=True, per_layer=FIRST_LAYER_ONLY)]) for c in candidates
    ]
    results, timing = time_call(
        lambda: train_many(
            members,
            X,
            y,
            X_val,
            y_val,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            device="cpu",
            threads=n_threads,
        )
    )
    base_acc = results[0].history[-1]["val_accuracy"]
    rows = [
        (strength, r.history[-1]["val_accuracy"], first_layer_zeros(r.model))
        for strength, r in zip(candidates, results[1:])
    ]
    eligible = [r for r in rows if base_acc - r[1] <= 0.01]
    chosen = max(eligible, key=lambda r: r[0])[0] if eligible else min(candidates)
    table = Table(
        f"L1 search (validation only): train {len(X)} / validate {n_val} rows, {epochs} epochs, "
        f"{len(members)} models in one stack, {timing.wall:.0f} s; pick = strongest l1 within "
        "1 point of the unpenalized validation accuracy",
        ["l1", "val acc", "layer-1 zeros", "picked"],
    )
    table.add("none", pct(base_acc), pct(first_layer_zeros(results[0].model)), "")
    for strength, val_acc, zeros in rows:
        table.add(f"{strength:g}", pct(val_acc), pct(zeros), "<-" if strength == chosen else "")
    figures = {
        "candidates": list(candidates),
        "val_accuracy": [r[1] for r in rows],
        "zero_share": [r[2] for r in rows],
        "unpenalized_val_accuracy": base_acc,
        "chosen": chosen,
        "seconds": timing.wall,
    }
    return chosen, table, figures


# -- section 4: logistic regression --------------------------------------------------------------
def _l1_logistic_liblinear() -> Any:
    """liblinear L1 logistic regression, one-vs-rest as liblinear always did for multiclass.

    scikit-learn 1.8 deprecated ``penalty`` (``l1_ratio=1`` means L1) and stopped wrapping
    liblinear in one-vs-rest by itself, so the wrapper is explicit here.
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        estimator = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=1.0)
    else:
        estimator = LogisticRegression(penalty="l1", solver="liblinear", C=1.0)
    return OneVsRestClassifier(estimator)


def logreg_section(data: Mnist, repeats: int, n_threads: int) -> tuple[Table, dict[str, Any]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)

    def regulab_fit(epochs: int = LOGREG["epochs"]) -> Any:
        return train(
            LinearModel(784, 10, seed=0),
            X,
            y,
            penalties=[L1(LOGREG["l1"], proximal=True)],
            lr=LOGREG["lr"],
            epochs=epochs,
            batch_size=LOGREG["batch_size"],
            verbose=0,
            validation_split=0,
            device="cpu",
            threads=n_threads,
        )

    regulab_fit(epochs=1)  # warm-up
    regulab_samples = Samples()
    result = None
    for _ in range(repeats):
        gc.collect()
        result, timing = time_call(regulab_fit)
        regulab_samples.add(timing)
    assert result is not None
    reg_acc = evaluate(result.model, data.X_test, data.y_test)["accuracy"]
    reg_zeros = float((result.model.linears[0].weight == 0).float().mean())
    print(f"  logreg: regulab done ({regulab_samples.median:.1f} s)", flush=True)

    n_sub = min(LIBLINEAR_ROWS, len(data.X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        liblinear, lib_time = time_call(
            lambda: _l1_logistic_liblinear().fit(data.X[:n_sub], data.y[:n_sub])
        )
        print(f"  logreg: liblinear done ({lib_time.wall:.1f} s)", flush=True)
        lbfgs, lbfgs_time = time_call(
            lambda: LogisticRegression(C=1.0, solver="lbfgs", max_iter=100).fit(data.X, data.y)
        )
        print(f"  logreg: lbfgs done ({lbfgs_time.wall:.1f} s)", flush=True)

    lib_coef = np.vstack([e.coef_ for e in liblinear.estimators_])
    lib_acc, lib_zeros = liblinear.score(data.X_test, data.y_test), float(np.mean(lib_coef == 0))
    lbfgs_acc = lbfgs.score(data.X_test, data.y_test)
    lbfgs_zeros = float(np.mean(lbfgs.coef_ == 0))
    time_ratio = regulab_samples.median / lbfgs_time.wall

    table = Table(
        f"4. Multinomial logistic regression, pixels / 255, {n_threads} torch/BLAS threads, "
        "test accuracy on the official 10k",
        ["method", "rows", "fit s", "test acc", "zero weights", "target"],
    )
    table.add(
        f"regulab LinearModel + L1({LOGREG['l1']:g}, proximal), Adam lr {LOGREG['lr']:g}, "
        f"batch {LOGREG['batch_size']}, {LOGREG['epochs']} epochs (median of {repeats})",
        len(X),
        f"{regulab_samples.median:.2f}",
        pct(reg_acc),
        pct(reg_zeros),
        f"acc >= 92.5% {verdict(reg_acc >= 0.925)}; zeros >= 60% {verdict(reg_zeros >= 0.6)}; "
        f"time {time_ratio:.2f}x lbfgs <= 0.33 {verdict(time_ratio <= 1 / 3)}",
    )
    table.add(
        "sklearn liblinear L1 (one-vs-rest), C=1",
        n_sub,
        f"{lib_time.wall:.2f}",
        pct(lib_acc),
        pct(lib_zeros),
        "-",
    )
    table.add(
        f"sklearn lbfgs L2, C=1, max_iter=100 ({int(lbfgs.n_iter_[0])} iterations)",
        len(X),
        f"{lbfgs_time.wall:.2f}",
        pct(lbfgs_acc),
        pct(lbfgs_zeros),
        "-",
    )
    figures = {
        "threads": n_threads,
        "regulab": {
            **regulab_samples.to_dict(),
            "test_accuracy": reg_acc,
            "zero_share": reg_zeros,
            **LOGREG,
        },
        "liblinear_l1": {
            "rows": n_sub,
            "fit_s": lib_time.wall,
            "test_accuracy": lib_acc,
            "zero_share": lib_zeros,
        },
        "lbfgs_l2": {
            "rows": len(X),
            "fit_s": lbfgs_time.wall,
            "test_accuracy": lbfgs_acc,
            "zero_share": lbfgs_zeros,
            "n_iter": int(lbfgs.n_iter_[0]),
        },
        "regulab_time_vs_lbfgs": time_ratio,
    }
    return table, figures


# -- main ----------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mnist-dir", default=DEFAULT_MNIST_DIR, help="folder with the four MNIST IDX .gz files"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per configuration")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run on the first 10k training rows (targets are for the full run)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch and BLAS threads of the timed sections 1, 4"
    )
    parser.add_argument(
        "--accuracy-threads", type=int, default=1, help="threads of sections 2 and 3 (all methods)"
    )
    parser.add_argument(
        "--search-l1",
        action="store_true",
        help="pick the first-layer L1 strength on the validation split before section 3",
    )
    parser.add_argument(
        "--search-epochs", type=int, default=10, help="epochs of each candidate in the L1 search"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip: speed,accuracy,logreg"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeats < 1 or args.threads < 1 or args.accuracy_threads < 1:
        raise SystemExit("--repeats, --threads and --accuracy-threads must be >= 1")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    started = time.perf_counter()
    data = load_mnist_arrays(args.mnist_dir, n_train=10_000 if args.quick else None)
    header = (
        f"Regulab train_speed benchmark - MNIST {len(data.X)} train / {len(data.X_test)} test "
        f"rows, pixels / 255{' (QUICK: targets are for the full run)' if args.quick else ''}\n"
        f"{machine_summary()}\n"
        f"Threads: torch.set_num_threads({args.threads}) and BLAS {args.threads} for sections "
        f"1 and 4; {args.accuracy_threads} for sections 2-3 (every method alike)"
    )
    print(header, flush=True)
    tables: list[Table] = []
    figures: dict[str, Any] = {"quick": args.quick, "repeats": args.repeats}

    if "speed" not in skip:
        with threads(args.threads):
            table, figures["speed"] = speed_section(data, args.repeats, args.threads)
        tables.append(table)
    first_layer_l1 = FIRST_LAYER_L1
    with threads(args.accuracy_threads):
        if args.search_l1:
            first_layer_l1, table, figures["l1_search"] = search_first_layer_l1(
                data, L1_CANDIDATES, args.search_epochs, args.accuracy_threads
            )
            tables.append(table)
            print(table.render(), flush=True)
        if "accuracy" not in skip:
            acc, l1_table, figures["accuracy"] = accuracy_section(
                data, first_layer_l1, args.accuracy_threads
            )
            tables += [acc, l1_table]
    if "logreg" not in skip:
        with threads(args.threads):
            table, figures["logreg"] = logreg_section(data, args.repeats, args.threads)
        tables.append(table)

    total = time.perf_counter() - started
    print()
    print(header)
    for table in tables:
        print()
        print(table.render())
    print(
        f"\nTotal wall time {total:.0f} s (target < 600 s: {verdict(total < 600)}); "
        f"load average at the end {load_average()}"
    )
    figures["total_s"] = total
    figures["tables"] = [t.to_dict() for t in tables]
    if args.json:
        write_json(args.json, figures)
        print(f"Figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
