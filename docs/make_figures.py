"""Generate the documentation's figures with Regulab itself, on real data.

Every figure in ``docs/figures/`` comes from this script, so the pages show what the
library actually does. Run it from the repository root::

    .venv/bin/python docs/make_figures.py --quick          # MNIST figures on 10,000 images
    .venv/bin/python docs/make_figures.py                  # MNIST figures on all 60,000
    .venv/bin/python docs/make_figures.py --only l1_pixels batchnorm

``--quick`` trains the MNIST figures (L1 pixels, dropout, early stopping) on a stratified
10,000-image subset of the training set: about 2.5 minutes in all on two busy CPU cores.
Without it they use all 60,000 images, about six times longer for those three figures. The
published figures come from ``--quick``; their titles say how many images were used.

Each figure prints the numbers it draws; with the same library versions a rerun reproduces
the PNGs byte for byte. Data are computed first, then drawn with matplotlib's object API
(``Figure`` + ``FigureCanvasAgg``, no pyplot).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from regulab.data import Dataset, Splits, load, make_synthetic, split
from regulab.models import MLP, LinearModel
from regulab.penalties import L1, L2, ElasticNet, Penalty, WeightDecay, penalized_weights
from regulab.training import Callback, EarlyStopping, Member, evaluate, train_many

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
QUICK_ROWS = 10_000
COLORS = {
    "none": "#6b6b6b",
    "l1": "#d9730d",
    "l2": "#1f6fb4",
    "elastic_net": "#2e8b57",
    "weight_decay": "#7b4fa8",
    "accent": "#c0392b",
}


# -- shared helpers -----------------------------------------------------------------------------
class Settings:
    """Command-line settings shared by the figure functions."""

    def __init__(self, mnist_dir: str, quick: bool, out: Path) -> None:
        self.mnist_dir = mnist_dir
        self.quick = quick
        self.out = out
        self._mnist: tuple[Dataset, Splits] | None = None

    def mnist(self) -> tuple[Dataset, Splits]:
        """MNIST and its standardized split (10,000 training images with ``--quick``)."""
        if self._mnist is None:
            folder = Path(self.mnist_dir).expanduser()
            if not folder.is_dir() and not folder.is_absolute() and (ROOT / folder).is_dir():
                folder = ROOT / folder  # relative to the repository root, like the Makefile
            dataset = load("mnist", mnist_dir=folder)
            parts = split(dataset, seed=0, max_train=QUICK_ROWS if self.quick else None)
            self._mnist = dataset, parts
        return self._mnist

    def mnist_label(self) -> str:
        _, parts = self.mnist()
        return f"MNIST, {len(parts.X_train):,} training images"


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, settings: Settings, name: str) -> Path:
    path = settings.out / name
    # No "Software" metadata: the bytes depend only on the pixels.
    figure.savefig(path, dpi=120, metadata={"Software": None})
    print(f"  wrote {path}")
    return path


def weights_of(model: torch.nn.Module) -> np.ndarray:
    """Every entry of every weight matrix (the tensors penalties act on), flattened."""
    return np.concatenate([w.detach().cpu().numpy().ravel() for _, w in penalized_weights(model)])


def style(axis: Any) -> None:
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(alpha=0.25, linewidth=0.6)


class TrainLossEval(Callback):
    """Record the training loss in eval mode (dropout off) as ``train_loss_eval``.

    The trainer's ``loss`` is measured with dropout active, which inflates it; the honest
    train/validation gap compares both sets with the same (eval-mode) network.
    """

    def __init__(self, model: MLP, X: np.ndarray, y: np.ndarray) -> None:
        self.scratch = copy.deepcopy(model)
        self.X, self.y = X, y

    def on_epoch_end(self, run: Any, **kwargs: Any) -> None:
        self.scratch.load_state_dict(run.get_weights())
        run.history[-1]["train_loss_eval"] = evaluate(self.scratch, self.X, self.y)["loss"]


class WeightNorm(Callback):
    """Record the L2 norm of all weight matrices after each epoch as ``weight_norm``."""

    def __init__(self, model: MLP) -> None:
        self.names = {name for name, _ in penalized_weights(model)}

    def on_epoch_end(self, run: Any, **kwargs: Any) -> None:
        state = run.get_weights()
        total = sum(float(state[name].double().pow(2).sum()) for name in self.names)
        run.history[-1]["weight_norm"] = total**0.5


# -- L1: which MNIST pixels survive ---------------------------------------------------------------
def l1_pixels(settings: Settings) -> None:
    """Proximal L1 on a linear model of MNIST: pixels kept (used by >= 1 class)."""
    dataset, parts = settings.mnist()
    strengths = [0.0, 3e-3, 3e-2]
    members = [
        Member(
            LinearModel(784, 10, seed=0),
            penalties=[L1(s, proximal=True)] if s else [],
            seed=0,
        )
        for s in strengths
    ]
    results = train_many(
        members,
        parts.X_train,
        parts.y_train,
        parts.X_val,
        parts.y_val,
        epochs=10,
        batch_size=64,
        lr=1e-3,
        verbose=0,
    )
    shape = dataset.image_shape or (28, 28)
    panels = []
    for strength, result in zip(strengths, results):
        weight = result.model.linears[0].weight.detach().numpy()  # (10 classes, 784 pixels)
        classes_using = (weight != 0).sum(axis=0).reshape(shape)
        kept = float((classes_using > 0).mean())
        accuracy = evaluate(result.model, parts.X_test, parts.y_test)["accuracy"]
        panels.append((strength, classes_using, kept, accuracy, weight, result.sparsity.total))
        print(
            f"  L1={strength:g}: {kept:.1%} of pixels kept ({int((classes_using > 0).sum())}"
            f" of {classes_using.size}), {result.sparsity.total:.1%} of weights exactly zero,"
            f" test accuracy {accuracy:.4f}"
        )

    figure = new_figure(10.5, 6.6)
    rows: Any = figure.subfigures(2, 1, height_ratios=[2.4, 1])
    top, bottom = rows
    axes = top.subplots(1, 3)
    image = None
    for axis, (strength, counts, kept, accuracy, _, zeros) in zip(axes, panels):
        image = axis.imshow(counts, cmap="magma", vmin=0, vmax=10)
        label = "no penalty" if strength == 0 else f"L1({strength:g}, proximal=True)"
        axis.set_title(
            f"{label}\n{kept:.0%} of pixels kept · {zeros:.0%} of weights are 0\n"
            f"test accuracy {accuracy:.3f}",
            fontsize=9.5,
        )
        axis.set_xticks([])
        axis.set_yticks([])
    colorbar = top.colorbar(image, ax=axes, location="right", shrink=0.85, pad=0.02)
    colorbar.set_label(
        "classes with a nonzero weight\non the pixel (0 = pixel dropped)", fontsize=8.5
    )
    template = panels[1][4]  # the middle strength: sparse but still accurate
    magnitudes = np.abs(template[template != 0])
    limit = float(np.quantile(magnitudes, 0.95)) if magnitudes.size else 1.0
    for digit, axis in enumerate(bottom.subplots(1, 10)):
        axis.imshow(template[digit].reshape(shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(f"class {digit}", fontsize=8.5)
        axis.set_xticks([])
        axis.set_yticks([])
    bottom.suptitle(
        f"weights of the L1({strengths[1]:g}) model per class: red positive, blue negative, "
        "white exactly zero",
        fontsize=9.5,
    )
    top.suptitle(
        f"Which pixels survive proximal L1? Linear model on {settings.mnist_label()} "
        "(Adam, 10 epochs)",
        fontsize=10.5,
    )
    save(figure, settings, "l1-mnist-pixels.png")


# -- L1 vs L2 vs none: weight histograms ---------------------------------------------------------
def weight_histograms(settings: Settings) -> None:
    """Distribution of every weight of a digits MLP under no penalty, L2 and proximal L1."""
    dataset = load("digits")
    parts = split(dataset, seed=0)
    setups: list[tuple[str, str, list[Penalty]]] = [
        ("none", "no penalty", []),
        ("l2", "L2(1e-3)", [L2(1e-3)]),
        ("l1", "L1(1e-3, proximal=True)", [L1(1e-3, proximal=True)]),
    ]
    members = [Member(MLP("64-128-64-10", seed=0), penalties=p, seed=0) for _, _, p in setups]
    results = train_many(
        members, parts.X_train, parts.y_train, parts.X_val, parts.y_val, epochs=60, verbose=0
    )
    edges = np.linspace(-0.6, 0.6, 121)
    figure = new_figure(9.0, 3.6)
    axes = figure.subplots(1, 3, sharex=True, sharey=True)
    for axis, (key, label, _), result in zip(axes, setups, results):
        values = weights_of(result.model)
        zeros = float(np.mean(values == 0))
        norm = float(np.sqrt(np.sum(values.astype(np.float64) ** 2)))
        accuracy = evaluate(result.model, parts.X_test, parts.y_test)["accuracy"]
        print(
            f"  {label}: {zeros:.1%} exact zeros, weight norm {norm:.2f}, "
            f"test accuracy {accuracy:.4f}"
        )
        nonzero = np.clip(values[values != 0], edges[0], edges[-1])
        axis.hist(nonzero, bins=edges, color=COLORS[key], alpha=0.85)
        if zeros:
            axis.bar(0.0, int(np.sum(values == 0)), width=0.012, color="black")
            axis.annotate(
                f"{zeros:.0%} exactly 0",
                (0.0, np.sum(values == 0)),
                xytext=(0.12, 0.93),
                textcoords="axes fraction",
                fontsize=8.5,
                arrowprops={"arrowstyle": "-", "color": "black", "lw": 0.6},
            )
        axis.set_yscale("log")
        axis.set_title(f"{label}\nnorm {norm:.1f} · test acc {accuracy:.3f}", fontsize=9.5)
        axis.set_xlabel("weight value")
        style(axis)
    axes[0].set_ylabel("number of weights (log)")
    figure.suptitle(
        f"All {values.size:,} weights of a 64-128-64-10 MLP on digits (Adam, 60 epochs; "
        f"values beyond ±{edges[-1]:g} in the end bins)",
        fontsize=10.5,
    )
    save(figure, settings, "weight-histograms.png")


# -- L2: strength sweep ---------------------------------------------------------------------------
def l2_strength(settings: Settings) -> None:
    """Weight norm and validation/test accuracy across L2 strengths (digits, 3 seeds)."""
    dataset = load("digits")
    parts = split(dataset, seed=0)
    strengths = [0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1]
    seeds = [0, 1, 2]
    members = [
        Member(MLP("64-128-64-10", seed=s), penalties=[L2(st)] if st else [], seed=s)
        for st in strengths
        for s in seeds
    ]
    results = train_many(
        members, parts.X_train, parts.y_train, parts.X_val, parts.y_val, epochs=40, verbose=0
    )
    rows = []
    for index, strength in enumerate(strengths):
        group = results[index * len(seeds) : (index + 1) * len(seeds)]
        norms = [np.sqrt(np.sum(weights_of(r.model).astype(np.float64) ** 2)) for r in group]
        val = [r.history[-1]["val_loss"] for r in group]
        test = [evaluate(r.model, parts.X_test, parts.y_test)["accuracy"] for r in group]
        rows.append((strength, np.mean(norms), np.mean(val), np.mean(test), np.std(test)))
        print(
            f"  L2={strength:g}: weight norm {np.mean(norms):.2f}, val loss {np.mean(val):.4f},"
            f" test accuracy {np.mean(test):.4f} ± {np.std(test):.4f}"
        )
    positions = np.arange(len(strengths))
    labels = ["0" if s == 0 else f"{s:g}" for s in strengths]
    figure = new_figure(9.0, 3.5)
    left, right = figure.subplots(1, 2)
    bars = left.bar(positions, [r[1] for r in rows], color=COLORS["l2"], alpha=0.85)
    left.bar_label(bars, fmt="%.2f", fontsize=8)
    left.set_ylabel("L2 norm of all weights")
    left.set_title("L2 shrinks the weights smoothly (no exact zeros)", fontsize=9.5)
    right.plot(positions, [r[2] for r in rows], "o-", color=COLORS["l2"])
    right.set_yscale("log")
    right.set_ylabel("validation loss (log scale)")
    best = int(np.argmin([r[2] for r in rows]))
    right.plot([best], [rows[best][2]], marker="*", markersize=14, color=COLORS["l2"], zorder=5)
    twin = right.twinx()
    twin.errorbar(
        positions,
        [r[3] for r in rows],
        yerr=[r[4] for r in rows],
        fmt="s--",
        color=COLORS["accent"],
        capsize=3,
    )
    twin.set_ylabel("test accuracy", color=COLORS["accent"])
    twin.spines[["top"]].set_visible(False)
    right.set_title("too strong underfits: loss rises, accuracy falls", fontsize=9.5)
    right.legend(
        [right.lines[0], right.lines[1], twin.containers[0]],
        ["validation loss", f"lowest validation loss (l2={strengths[best]:g})", "test accuracy"],
        fontsize=8,
        loc="center left",
    )
    for axis in (left, right):
        axis.set_xticks(positions, labels)
        axis.set_xlabel("l2 (strength of l2 * sum w²)")
        style(axis)
    figure.suptitle(
        "L2 strength on digits, 64-128-64-10 MLP (Adam, 40 epochs, mean of 3 seeds)",
        fontsize=10.5,
    )
    save(figure, settings, "l2-strength.png")


# -- elastic net vs L1 on correlated groups -------------------------------------------------------
def elastic_net_groups(settings: Settings) -> None:
    """Kept features per correlated group: proximal L1 versus elastic net with the same L1 part."""
    dataset = make_synthetic(
        1000, n_informative=8, n_groups=2, correlation=0.95, n_irrelevant=20, seed=0
    )
    informative = dataset.informative
    assert informative is not None
    corr = np.corrcoef(dataset.X[:, informative], rowvar=False)
    group_a = informative[np.abs(corr[0]) > 0.8]
    group_b = np.setdiff1d(informative, group_a)
    irrelevant = np.setdiff1d(np.arange(dataset.n_features), informative)
    parts = split(dataset, seed=0)
    seeds = list(range(5))
    setups: list[tuple[str, str, Callable[[], Penalty]]] = [
        ("l1", "L1(0.03)", lambda: L1(0.03, proximal=True)),
        (
            "elastic_net",
            "ElasticNet(0.06, l1_ratio=0.5)",
            lambda: ElasticNet(0.06, 0.5, proximal=True),
        ),
    ]
    members = [
        Member(LinearModel(dataset.n_features, 1, seed=s), penalties=[make()], seed=s)
        for _, _, make in setups
        for s in seeds
    ]
    results = train_many(
        members,
        parts.X_train,
        parts.y_train,
        parts.X_val,
        parts.y_val,
        epochs=50,
        lr=1e-2,
        verbose=0,
    )
    summary = {}
    coefficients = {}
    for index, (key, label, _) in enumerate(setups):
        group = results[index * len(seeds) : (index + 1) * len(seeds)]
        kept = []
        for result in group:
            w = result.model.linears[0].weight.detach().numpy()[0]
            kept.append([int(np.sum(w[cols] != 0)) for cols in (group_a, group_b, irrelevant)])
        accuracy = np.mean(
            [evaluate(r.model, parts.X_test, parts.y_test)["accuracy"] for r in group]
        )
        summary[key] = (np.mean(kept, axis=0), accuracy)
        coefficients[key] = group[0].model.linears[0].weight.detach().numpy()[0]
        mean = summary[key][0]
        print(
            f"  {label}: kept {mean[0]:.1f}/{len(group_a)} of group A, {mean[1]:.1f}/{len(group_b)}"
            f" of group B, {mean[2]:.1f}/{len(irrelevant)} irrelevant (mean of {len(seeds)} seeds);"
            f" test accuracy {accuracy:.4f}"
        )

    figure = new_figure(10.0, 3.8)
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.5])
    categories = [
        f"group A\n({len(group_a)} features)",
        f"group B\n({len(group_b)} features)",
        f"irrelevant\n({len(irrelevant)} features)",
    ]
    positions = np.arange(3)
    for offset, (key, label, _) in zip((-0.2, 0.2), setups):
        means, accuracy = summary[key]
        bars = left.bar(
            positions + offset,
            means,
            width=0.38,
            color=COLORS[key],
            label=f"{label} · test acc {accuracy:.3f}",
        )
        left.bar_label(bars, fmt="%.1f", fontsize=8)
    left.set_xticks(positions, categories, fontsize=8.5)
    left.set_ylabel(f"features kept (mean of {len(seeds)} seeds)")
    left.set_ylim(0, max(len(group_a), len(group_b)) + 2.0)
    left.legend(fontsize=8, loc="upper right")
    left.set_title("same L1 part; elastic net adds (1 - r)/2 · α · Σw²", fontsize=9.5)
    style(left)
    order = np.concatenate([group_a, group_b])
    positions = np.arange(len(order))
    for offset, (key, label, _) in zip((-0.2, 0.2), setups):
        values = coefficients[key][order]
        right.bar(positions + offset, values, width=0.38, color=COLORS[key], label=label)
        for x, value in zip(positions + offset, values):
            if value == 0:
                right.text(
                    x,
                    0,
                    "0",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color=COLORS[key],
                    fontweight="bold",
                )
    right.axvline(len(group_a) - 0.5, color="black", lw=0.6, ls=":")
    right.axhline(0, color="black", lw=0.6)
    right.set_xticks(positions, [dataset.feature_names[j] for j in order], fontsize=8.5)
    right.set_xlabel("informative features: group A | group B")
    right.set_ylabel("weight (seed 0)")
    right.set_title("L1 zeroes a feature per group; elastic net keeps the group", fontsize=9.5)
    right.legend(fontsize=8)
    style(right)
    figure.suptitle(
        "Correlated features: make_synthetic(1000, n_informative=8, n_groups=2, correlation=0.95,"
        " n_irrelevant=20)\nlogistic regression (LinearModel), proximal penalties, Adam lr=0.01,"
        " 50 epochs",
        fontsize=10,
    )
    save(figure, settings, "elastic-net-groups.png")


# -- weight decay ---------------------------------------------------------------------------------
def weight_decay(settings: Settings) -> None:
    """Weight norm and validation loss per epoch under decoupled decay (Adam + WeightDecay)."""
    dataset = load("digits")
    parts = split(dataset, seed=0)
    rates = [0.0, 1e-2, 1e-1, 1.0]
    members = []
    for rate in rates:
        model = MLP("64-128-64-10", seed=0)
        members.append(
            Member(
                model,
                penalties=[WeightDecay(rate)] if rate else [],
                callbacks=[WeightNorm(model)],
                seed=0,
            )
        )
    results = train_many(
        members,
        parts.X_train,
        parts.y_train,
        parts.X_val,
        parts.y_val,
        optimizer="adam",
        lr=1e-3,
        epochs=60,
        verbose=0,
    )
    figure = new_figure(9.0, 3.5)
    left, right = figure.subplots(1, 2, sharex=True)
    shades = ["#6b6b6b", "#c5a8e0", "#9a6cc9", "#4b2a7b"]
    for rate, result, color in zip(rates, results, shades):
        history = result.history
        label = "no decay" if rate == 0 else f"WeightDecay({rate:g})"
        accuracy = evaluate(result.model, parts.X_test, parts.y_test)["accuracy"]
        left.plot(history.column("epoch"), history.column("weight_norm"), color=color, label=label)
        right.plot(
            history.column("epoch"),
            history.column("val_loss"),
            color=color,
            label=f"{label} · test acc {accuracy:.3f}",
        )
        print(
            f"  {label}: weight norm {history[0]['weight_norm']:.2f} after epoch 1 -> "
            f"{history[-1]['weight_norm']:.2f} after epoch {len(history)}, final val loss "
            f"{history[-1]['val_loss']:.4f}, test accuracy {accuracy:.4f}"
        )
    left.set_ylabel("L2 norm of all weights")
    left.set_title("decay pulls every weight toward 0 by lr·wd per step", fontsize=9.5)
    right.set_yscale("log")
    right.set_ylabel("validation loss (log scale)")
    right.set_title("validation loss per epoch", fontsize=9.5)
    for axis in (left, right):
        axis.set_xlabel("epoch")
        axis.legend(fontsize=8)
        style(axis)
    figure.suptitle(
        "Decoupled weight decay (AdamW-style) on digits, 64-128-64-10 MLP, Adam lr=1e-3",
        fontsize=10.5,
    )
    save(figure, settings, "weight-decay.png")


# -- dropout: train/validation gap ----------------------------------------------------------------
def dropout_gap(settings: Settings) -> None:
    """Training (eval mode) and validation loss per epoch for dropout 0, 0.2 and 0.5."""
    _, parts = settings.mnist()
    X_val, y_val = parts.X_val[:2000], parts.y_val[:2000]
    rates = [0.0, 0.2, 0.5]
    members = []
    for rate in rates:
        model = MLP("784-256-256-10", dropout=rate, seed=0)
        members.append(
            Member(model, callbacks=[TrainLossEval(model, parts.X_train, parts.y_train)], seed=0)
        )
    epochs = 20
    results = train_many(
        members, parts.X_train, parts.y_train, X_val, y_val, epochs=epochs, lr=1e-3, verbose=0
    )
    shades = ["#6b6b6b", "#e6a23c", "#b5541c"]
    figure = new_figure(10.0, 3.8)
    left, right = figure.subplots(1, 2, width_ratios=[1.6, 1])
    gaps = []
    for rate, result, color in zip(rates, results, shades):
        history = result.history
        epochs_axis = history.column("epoch")
        train_loss = np.array(history.column("train_loss_eval"))
        val_loss = np.array(history.column("val_loss"))
        label = "no dropout" if rate == 0 else f"dropout {rate:g}"
        left.plot(epochs_axis, val_loss, color=color, lw=1.8, label=f"{label}: validation")
        left.plot(epochs_axis, train_loss, color=color, lw=1.2, ls="--", label=f"{label}: training")
        accuracy = evaluate(result.model, parts.X_test, parts.y_test)["accuracy"]
        gap = float(val_loss[-1] - train_loss[-1])
        gaps.append((label, gap, accuracy, color))
        print(
            f"  {label}: final training loss {train_loss[-1]:.4f} (eval mode), validation "
            f"loss {val_loss[-1]:.4f} (lowest {val_loss.min():.4f} at epoch "
            f"{int(np.argmin(val_loss)) + 1}), gap {gap:.4f}, test accuracy {accuracy:.4f}"
        )
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy loss")
    left.set_title("training (dashed, dropout off) vs validation (solid)", fontsize=9.5)
    left.set_ylim(0, max(max(r.history.column("val_loss")) for r in results) * 1.45)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(fontsize=7.5, ncol=3, loc="upper left")
    style(left)
    bars = right.bar([g[0] for g in gaps], [g[1] for g in gaps], color=[g[3] for g in gaps])
    right.bar_label(bars, labels=[f"{g[1]:.2f}\ntest acc {g[2]:.3f}" for g in gaps], fontsize=8)
    right.set_ylabel(f"validation − training loss at epoch {epochs}")
    right.set_ylim(0, max(g[1] for g in gaps) * 1.3)
    right.set_title("the generalization gap", fontsize=9.5)
    style(right)
    figure.suptitle(
        f"Dropout on {settings.mnist_label()}: 784-256-256-10 MLP, Adam lr=1e-3", fontsize=10.5
    )
    save(figure, settings, "dropout-gap.png")


# -- batch norm: convergence speed ----------------------------------------------------------------
def batchnorm(settings: Settings) -> None:
    """Validation loss per epoch with and without batch norm (plain SGD, 3 seeds)."""
    dataset = load("digits")
    parts = split(dataset, seed=0)
    seeds = [0, 1, 2]
    epochs = 30
    figure = new_figure(9.0, 3.6)
    left, right = figure.subplots(1, 2, sharex=True)
    for use_bn, color in ((False, COLORS["none"]), (True, COLORS["l2"])):
        members = [
            Member(MLP("64-128-128-128-10", batchnorm=use_bn, seed=s), seed=s) for s in seeds
        ]
        started = time.perf_counter()
        results = train_many(
            members,
            parts.X_train,
            parts.y_train,
            parts.X_val,
            parts.y_val,
            optimizer="sgd",
            lr=0.01,
            momentum=0.9,
            batch_size=64,
            epochs=epochs,
            verbose=0,
        )
        seconds = time.perf_counter() - started
        val = np.array([r.history.column("val_loss") for r in results])
        acc = np.array([r.history.column("val_accuracy") for r in results])
        epoch_axis = np.arange(1, epochs + 1)
        label = "with batch norm" if use_bn else "without batch norm"
        for axis, values in ((left, val), (right, acc)):
            axis.plot(epoch_axis, values.mean(0), color=color, lw=1.8, label=label)
            axis.fill_between(epoch_axis, values.min(0), values.max(0), color=color, alpha=0.2)
        below = np.flatnonzero(val.mean(0) < 0.2)
        reach = int(below[0]) + 1 if len(below) else None
        test = np.mean([evaluate(r.model, parts.X_test, parts.y_test)["accuracy"] for r in results])
        print(
            f"  {label}: mean validation loss {val.mean(0)[0]:.3f} after epoch 1, "
            f"{val.mean(0)[4]:.3f} after epoch 5, {val.mean(0)[-1]:.3f} after epoch {epochs}; "
            f"first below 0.2 at epoch {reach}; test accuracy {test:.4f}; {seconds:.1f} s"
        )
        if reach is not None:
            value = val.mean(0)[reach - 1]
            left.plot([reach], [value], "o", color=color, markersize=6, zorder=5)
            left.annotate(
                f"below 0.2 at epoch {reach}",
                (reach, value),
                xytext=(8, -14) if use_bn else (6, 8),
                textcoords="offset points",
                fontsize=8.5,
                color=color,
            )
    left.axhline(0.2, color="black", lw=0.6, ls=":")
    left.set_ylabel("validation loss")
    left.set_yscale("log")
    right.set_ylabel("validation accuracy")
    for axis in (left, right):
        axis.set_xlabel("epoch")
        axis.legend(fontsize=8.5)
        style(axis)
    figure.suptitle(
        "Batch norm and convergence: digits, 64-128-128-128-10 MLP, SGD lr=0.01 momentum 0.9\n"
        "(mean and range of 3 seeds)",
        fontsize=10.5,
    )
    save(figure, settings, "batchnorm-convergence.png")


# -- early stopping ----------------------------------------------------------------------------
def early_stopping(settings: Settings) -> None:
    """Learning curves with and without EarlyStopping('val_loss', patience=5)."""
    _, parts = settings.mnist()
    X_val, y_val = parts.X_val[:2000], parts.y_val[:2000]
    epochs = 30
    stopper = EarlyStopping("val_loss", patience=5)
    members = [
        Member(MLP("784-256-256-10", seed=0), seed=0),
        Member(MLP("784-256-256-10", seed=0), callbacks=[stopper], seed=0),
    ]
    plain, stopped = train_many(
        members, parts.X_train, parts.y_train, X_val, y_val, epochs=epochs, lr=1e-3, verbose=0
    )
    scores = {
        "plain": evaluate(plain.model, parts.X_test, parts.y_test),
        "stopped": evaluate(stopped.model, parts.X_test, parts.y_test),
    }
    print(
        f"  without early stopping: {plain.epochs_run} epochs, final validation loss "
        f"{plain.history[-1]['val_loss']:.4f}, test loss {scores['plain']['loss']:.4f}, "
        f"test accuracy {scores['plain']['accuracy']:.4f}"
    )
    print(
        f"  with EarlyStopping('val_loss', patience=5): {stopped.epochs_run} epochs, "
        f"{stopped.stop_message}; test loss {scores['stopped']['loss']:.4f}, "
        f"test accuracy {scores['stopped']['accuracy']:.4f}"
    )
    assert stopped.best_epoch is not None
    figure = new_figure(8.5, 4.0)
    axis = figure.subplots()
    epoch_axis = plain.history.column("epoch")
    axis.plot(
        epoch_axis,
        plain.history.column("loss"),
        color=COLORS["none"],
        ls="--",
        label="training loss",
    )
    axis.plot(
        epoch_axis,
        plain.history.column("val_loss"),
        color=COLORS["none"],
        lw=1.8,
        label=f"validation loss, no early stopping (test loss {scores['plain']['loss']:.3f})",
    )
    axis.plot(
        stopped.history.column("epoch"),
        stopped.history.column("val_loss"),
        color=COLORS["l2"],
        lw=2.6,
        alpha=0.8,
        label=f"validation loss, EarlyStopping (test loss {scores['stopped']['loss']:.3f})",
    )
    best = stopped.best_epoch
    best_value = stopped.history[best - 1]["val_loss"]
    axis.plot(
        [best],
        [best_value],
        marker="*",
        markersize=15,
        color=COLORS["accent"],
        zorder=5,
        label=f"best epoch {best} (weights restored)",
    )
    axis.axvline(stopped.epochs_run, color=COLORS["l2"], ls=":", lw=1.2)
    axis.axvspan(stopped.epochs_run, epochs, color=COLORS["l2"], alpha=0.07)
    axis.text(
        stopped.epochs_run + 0.4,
        0.2,
        f"stopped after epoch {stopped.epochs_run}\n(patience 5); "
        f"{epochs - stopped.epochs_run} epochs saved",
        transform=axis.get_xaxis_transform(),
        va="bottom",
        fontsize=8.5,
        color=COLORS["l2"],
    )
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy loss")
    axis.set_ylim(0, max(plain.history.column("val_loss")) * 1.7)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize=8.5, loc="upper right")
    style(axis)
    axis.set_title(
        f"Early stopping on {settings.mnist_label()}: 784-256-256-10 MLP, Adam lr=1e-3",
        fontsize=10.5,
    )
    save(figure, settings, "early-stopping.png")


FIGURE_FUNCTIONS: dict[str, Callable[[Settings], None]] = {
    "l1_pixels": l1_pixels,
    "weight_histograms": weight_histograms,
    "l2_strength": l2_strength,
    "elastic_net_groups": elastic_net_groups,
    "weight_decay": weight_decay,
    "dropout_gap": dropout_gap,
    "batchnorm": batchnorm,
    "early_stopping": early_stopping,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mnist-dir",
        default="../shared/data/mnist",
        help="Folder with MNIST's four IDX .gz files (default: %(default)s).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Train the MNIST figures on a {QUICK_ROWS:,}-image subset.",
    )
    parser.add_argument("--out", type=Path, default=FIGURES, help="Output folder for the PNGs.")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(FIGURE_FUNCTIONS), help="Make only these figures."
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(args.mnist_dir, args.quick, args.out)
    total = time.perf_counter()
    for name in args.only or list(FIGURE_FUNCTIONS):
        started = time.perf_counter()
        print(f"{name}:")
        FIGURE_FUNCTIONS[name](settings)
        print(f"  ({time.perf_counter() - started:.1f} s)")
    print(f"done in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
