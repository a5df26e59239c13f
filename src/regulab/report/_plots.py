"""Draw the report's plot data with matplotlib and return PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` on an explicit
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`, never through ``pyplot``: the
renderer works headless and leaves the backend a user chose (or will choose) untouched.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from regulab.report._data import (
    LearningCurve,
    ParameterCurve,
    RegularizationPath,
    ReportData,
    SparsityData,
    WeightHistogram,
)

__all__ = ["FigureImage", "render_figures", "figure_to_png"]

DPI = 150
CSS_DPI = 100  # the <img> is shown at figure inches x 100 CSS pixels: sharp on HiDPI screens
TRAIN_COLOR, VAL_COLOR, ACCENT = "#2f6db5", "#e07b1a", "#3a3f4b"
LAMBDA_MIN_COLOR, LAMBDA_1SE_COLOR = "#1b8a5a", "#8a3ffc"
PALETTE = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)
STYLE: dict[str, Any] = {
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa0a6",
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "xtick.color": "#4a4f57",
    "ytick.color": "#4a4f57",
    "text.usetex": False,
}


class FigureImage(NamedTuple):
    """One rendered figure.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"learning_curves"`` (``figures_dir/<name>.png``).
    section : str
        ``id`` of the report section showing it.
    png : bytes
    alt : str
        Text alternative describing the figure.
    caption : str
        One sentence telling the reader how to read it.
    width, height : int
        Size in CSS pixels for the ``<img>`` tag.
    """

    name: str
    section: str
    png: bytes
    alt: str
    caption: str
    width: int
    height: int


def _t(text: object) -> str:
    """User text for matplotlib: ``$`` must not start mathtext."""
    return str(text).replace("$", r"\$")


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(metric: str) -> str:
    return metric.replace("_", " ")


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def _colors(configs: Sequence[str]) -> dict[str, str]:
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(configs)}


def figure_to_png(fig: Figure) -> tuple[bytes, int, int]:
    """Render ``fig`` with the Agg canvas; return PNG bytes and its CSS width and height."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    width, height = fig.get_size_inches()
    return buffer.getvalue(), int(round(width * CSS_DPI)), int(round(height * CSS_DPI))


def _image(name: str, section: str, fig: Figure, alt: str, caption: str) -> FigureImage:
    png, width, height = figure_to_png(fig)
    return FigureImage(name, section, png, alt, caption, width, height)


def _grid(n: int, max_cols: int, cell: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    ncols = max(1, min(max_cols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(cell[0] * ncols, cell[1] * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _bar_label(ax: Any, text: str, x: float, y: float | np.integer[Any]) -> None:
    """Write ``text`` just right of the end ``(x, y)`` of a horizontal bar."""
    ax.annotate(
        text,
        (x, y),
        xytext=(4, 0),
        textcoords="offset points",
        va="center",
        fontsize=8,
        color=ACCENT,
    )


def learning_curves_figure(curves: Sequence[LearningCurve]) -> Figure:
    """Small multiples: mean training vs validation loss per epoch, one panel per config."""
    fig, axes = _grid(len(curves), 3, (3.3, 2.5), sharey=True)
    for ax, curve in zip(axes.flat, curves):
        ax.plot(curve.epochs, curve.train_loss, color=TRAIN_COLOR, lw=1.8, label="training loss")
        ax.plot(curve.epochs, curve.val_loss, color=VAL_COLOR, lw=1.8, label="validation loss")
        if curve.best_epoch is not None:
            ax.axvline(
                curve.best_epoch,
                color=ACCENT,
                ls=":",
                lw=1.3,
                label="early-stopping point (median best epoch)",
            )
        ax.set_title(_t(_short(curve.config_name)), loc="left")
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("loss (mean over seeds)")
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside upper center", ncols=3)
    return fig


def gap_figure(data: ReportData, colors: dict[str, str]) -> Figure:
    """Horizontal bars of the generalization gap with 95% confidence intervals."""
    gaps = data.gaps
    fig = Figure(figsize=(8.6, 0.42 * len(gaps) + 1.3), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(gaps))
    means = np.array([g.mean for g in gaps], dtype=float)
    low = np.nan_to_num(means - np.array([g.low for g in gaps], dtype=float))
    high = np.nan_to_num(np.array([g.high for g in gaps], dtype=float) - means)
    ax.barh(
        y,
        np.nan_to_num(means),
        xerr=[low, high],
        color=[colors[g.config_name] for g in gaps],
        height=0.62,
        capsize=3,
        error_kw={"ecolor": ACCENT, "lw": 1.1},
    )
    ax.set_yticks(y, [_t(_short(g.config_name, 40)) for g in gaps])
    ax.invert_yaxis()
    ax.axvline(0.0, color=ACCENT, lw=0.9)
    ax.grid(axis="y", visible=False)
    for yi, mean, up in zip(y, means, high):
        if math.isfinite(mean):
            _bar_label(ax, f"{mean:.3g}", max(mean + up, mean, 0.0), yi)
    ax.set_xlabel("validation loss − training loss at the returned epoch (mean, 95% CI)")
    ax.margins(x=0.12)
    return fig


def weights_figure(histograms: Sequence[WeightHistogram], colors: dict[str, str]) -> Figure:
    """Overlay of weight distributions (log scale) with exact zeros drawn as spikes at 0."""
    fig = Figure(figsize=(8.6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    positive = [s for h in histograms for s in h.shares if s > 0]
    floor = min(positive) / 3 if positive else 1e-6
    step = 0.006
    for i, hist in enumerate(histograms):
        edges = np.asarray(hist.edges)
        centres = (edges[:-1] + edges[1:]) / 2
        shares = np.asarray(hist.shares, dtype=float)
        color = colors.get(hist.config_name, ACCENT)
        zeros = f"  ({hist.zero_share:.0%} exact zeros)" if hist.zero_share > 0 else ""
        label = _t(_short(hist.config_name)) + zeros
        ax.step(
            centres,
            np.where(shares > 0, shares, np.nan),
            where="mid",
            color=color,
            lw=1.5,
            label=label,
        )
        if hist.zero_share > 0:
            x = (i - (len(histograms) - 1) / 2) * step
            ax.vlines(x, floor, hist.zero_share, color=color, lw=3, alpha=0.85)
            ax.plot([x], [hist.zero_share], marker="o", ms=5, color=color)
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xlabel("weight value (values beyond ±0.5 are counted in the outer bins)")
    ax.set_ylabel("share of all weights (log)")
    fig.legend(loc="outside upper center", ncols=min(len(histograms), 3))
    return fig


def sparsity_figure(data: SparsityData, colors: dict[str, str]) -> Figure:
    """Left: share of exactly-zero weights per layer (configs with any); right: dropped inputs."""
    shown = [
        (config, shares)
        for config, shares in zip(data.configs, data.shares)
        if any(math.isfinite(v) and v > 0 for v in shares)
    ]
    n = max(len(shown), 1)
    rows = max(len(data.layers) * n * 0.2, len(data.dropped) * 0.32)
    fig = Figure(figsize=(8.6, max(2.4, rows + 1.5)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
    bar = 0.8 / n
    y = np.arange(len(data.layers))
    for i, (config, shares) in enumerate(shown):
        left.barh(
            y + (i - (n - 1) / 2) * bar,
            np.nan_to_num(shares),
            height=bar * 0.9,
            color=colors[config],
            label=_t(_short(config)),
        )
    if not shown:
        left.text(
            0.5,
            0.5,
            "no exactly-zero weights",
            transform=left.transAxes,
            ha="center",
            va="center",
            color=ACCENT,
        )
    left.set_yticks(y, [_t(_short(layer, 22)) for layer in data.layers])
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.xaxis.set_major_formatter(PercentFormatter(1.0))
    left.set_xlabel("exactly-zero weights per layer")
    left.grid(axis="y", visible=False)
    counts = [d.mean_count for d in data.dropped]
    yc = np.arange(len(data.dropped))
    right.barh(yc, counts, color=[colors[d.config_name] for d in data.dropped], height=0.6)
    right.set_yticks(yc, [_t(_short(d.config_name, 22)) for d in data.dropped])
    right.invert_yaxis()
    right.grid(axis="y", visible=False)
    for yi, d in zip(yc, data.dropped):
        _bar_label(right, f"{d.mean_count:.3g} of {d.n_inputs}", d.mean_count, yi)
    right.set_xlabel("inputs dropped (mean)")
    right.set_xlim(0, max(max(counts, default=0.0), 1.0) * 1.45)
    if shown:
        fig.legend(loc="outside upper center", ncols=min(n, 4))
    return fig


def heatmap_figure(data: ReportData) -> Figure:
    """One image per configuration: share of seeds that keep each input pixel."""
    fig, axes = _grid(len(data.heatmaps), 4, (2.9, 2.7))
    image = None
    for ax, heat in zip(axes.flat, data.heatmaps):
        image = ax.imshow(
            heat.kept_share, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest"
        )
        ax.set_title(_t(_short(heat.config_name, 26)), loc="left", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.85, label="share of seeds keeping the pixel")
    return fig


def path_figure(path: RegularizationPath) -> Figure:
    """Validation metric (mean ± se) and non-zero weights against strength, log x-axis."""
    fig = Figure(figsize=(8.6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    points = [p for p in path.points if p.strength > 0]
    xs = [p.strength for p in points]
    ax.errorbar(
        xs,
        [p.metric_mean for p in points],
        yerr=np.nan_to_num([p.metric_se for p in points]),
        color=TRAIN_COLOR,
        marker="o",
        ms=4,
        lw=1.6,
        capsize=3,
        label=f"{_label(path.metric)} (mean ± se)",
    )
    for p in path.points:
        if p.strength <= 0 and math.isfinite(p.metric_mean):
            ax.axhline(
                p.metric_mean, color="#c44e52", ls=":", lw=1.4, label="no penalty (strength 0)"
            )
    ax.set_xscale("log")
    ax.set_xlabel(f"{_t(path.penalty)} strength (log scale)")
    ax.set_ylabel(_label(path.metric))
    twin = ax.twinx()
    twin.plot(
        xs,
        [p.nonzero_mean for p in points],
        color="#7f8791",
        ls="--",
        marker="s",
        ms=3,
        lw=1.2,
        label="non-zero weights (right axis)",
    )
    twin.set_ylabel("non-zero weights")
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    same = math.isclose(path.lambda_min, path.lambda_1se, rel_tol=1e-12)
    for value, color, style, name in (
        (path.lambda_min, LAMBDA_MIN_COLOR, "-", "λ_min = λ_1se" if same else "λ_min"),
        (path.lambda_1se, LAMBDA_1SE_COLOR, "--", None if same else "λ_1se"),
    ):
        if name is not None and math.isfinite(value) and value > 0:
            ax.axvline(value, color=color, ls=style, lw=1.5, label=f"{name} = {value:.3g}")
    entries = dict(zip(*reversed(ax.get_legend_handles_labels())))
    entries.update(zip(*reversed(twin.get_legend_handles_labels())))
    first = [f"{_label(path.metric)} (mean ± se)", "non-zero weights (right axis)"]
    order = [k for k in first if k in entries] + [k for k in entries if k not in first]
    fig.legend(
        [entries[k] for k in order], order, loc="outside upper center", ncols=min(len(order), 3)
    )
    return fig


def curve_figure(curve: ParameterCurve, x_label: str) -> Figure:
    """Validation metric with 95% CI band and the chosen best, gap, and (for patience) epochs
    run against x."""
    panels = 3 if curve.parameter == "patience" else 2
    fig = Figure(figsize=(8.6, 2.8), layout="constrained")
    axes = fig.subplots(1, panels)
    xs = np.array([p.x for p in curve.points])
    means = np.array([p.mean for p in curve.points])
    axes[0].fill_between(
        xs,
        [p.low for p in curve.points],
        [p.high for p in curve.points],
        color=TRAIN_COLOR,
        alpha=0.15,
        lw=0,
        label="95% CI",
    )
    axes[0].plot(xs, means, color=TRAIN_COLOR, marker="o", ms=4, lw=1.8, label="mean")
    if math.isfinite(curve.best):
        best = int(np.flatnonzero(xs == curve.best)[0])
        axes[0].plot(
            [xs[best]],
            [means[best]],
            marker="*",
            ms=13,
            color=LAMBDA_MIN_COLOR,
            ls="none",
            label=f"best: {xs[best]:g}",
        )
    axes[0].set_ylabel(_label(curve.metric))
    axes[0].legend(loc="best")
    axes[1].plot(xs, [p.gap_mean for p in curve.points], color=VAL_COLOR, marker="o", ms=4)
    axes[1].set_ylabel("gap (val − train loss)")
    if panels == 3:
        axes[2].plot(xs, [p.epochs_mean for p in curve.points], color=ACCENT, marker="o", ms=4)
        axes[2].set_ylabel("epochs run")
    for ax in axes:
        ax.set_xlabel(x_label)
    return fig


def _names(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


CAPTIONS = {
    "learning_curves": (
        "Each panel shows one configuration: the blue line is the training loss and the orange "
        "line the validation loss, averaged over seeds; a widening distance between them means "
        "overfitting, and the dotted line marks the epoch early stopping took the weights from."
    ),
    "generalization_gap": (
        "Each bar is the mean difference between validation and training loss at the returned "
        "epoch, with its 95% confidence interval over seeds; shorter bars mean the model does "
        "about as well on unseen data as on the data it was trained on."
    ),
    "weights": (
        "Each line is the distribution of all weight values of one configuration (log scale); "
        "L1 penalties pile weights up as exact zeros, drawn as the spike at 0, while L2 shrinks "
        "them into a narrower bell around 0."
    ),
    "sparsity": (
        "Left: the share of weights that are exactly zero in each layer; right: how many input "
        "features lost every outgoing first-layer weight and so no longer influence the "
        "prediction."
    ),
    "input_heatmap": (
        "Bright pixels are kept by every seed and dark pixels were dropped by every seed, so a "
        "sparse model shows which parts of the image it still looks at."
    ),
    "path": (
        "Read from left (weak {penalty}) to right (strong): the blue line is the validation "
        "metric with its standard error, the dashed grey line the number of non-zero weights; "
        "λ_min gives the best mean and λ_1se the strongest penalty within one standard error "
        "of it."
    ),
    "dropout_curve": (
        "Left: mean {metric} with its 95% confidence band for each dropout rate (the star marks "
        "the best); right: the generalization gap, which usually shrinks as dropout grows."
    ),
    "patience_curve": (
        "Left: mean {metric} with its 95% confidence band per patience; middle: the "
        "generalization gap; right: epochs trained, showing how much extra patience buys."
    ),
}


def render_figures(data: ReportData) -> list[FigureImage]:
    """Draw every figure the data supports, in report order.

    Parameters
    ----------
    data : ReportData
        Output of :func:`~regulab.report.build_report_data`.

    Returns
    -------
    list of FigureImage
    """
    colors = _colors(data.configs)
    configs = _names(data.configs)
    metric = _label(data.metric)
    jobs: list[tuple[str, str, Callable[[], Figure], str, str]] = []
    if data.learning_curves:
        jobs.append(
            (
                "learning_curves",
                "learning-curves",
                lambda: learning_curves_figure(data.learning_curves),
                f"Training and validation loss per epoch for {configs}.",
                CAPTIONS["learning_curves"],
            )
        )
    if data.gaps:
        jobs.append(
            (
                "generalization_gap",
                "generalization-gap",
                lambda: gap_figure(data, colors),
                f"Bar chart of the generalization gap with 95% confidence intervals for {configs}.",
                CAPTIONS["generalization_gap"],
            )
        )
    if data.histograms:
        jobs.append(
            (
                "weights",
                "weights",
                lambda: weights_figure(data.histograms, colors),
                f"Overlaid weight histograms (log scale) for {configs}; exact zeros as spikes.",
                CAPTIONS["weights"],
            )
        )
    sparsity = data.sparsity
    if sparsity is not None and data.configs:
        jobs.append(
            (
                "sparsity",
                "sparsity",
                lambda: sparsity_figure(sparsity, colors),
                "Share of exactly-zero weights per layer and number of dropped input features.",
                CAPTIONS["sparsity"],
            )
        )
    if data.heatmaps:
        jobs.append(
            (
                "input_heatmap",
                "sparsity",
                lambda: heatmap_figure(data),
                "Heat maps of the input pixels that survive for "
                f"{_names([h.config_name for h in data.heatmaps])}.",
                CAPTIONS["input_heatmap"],
            )
        )
    for path in data.paths:
        jobs.append(
            (
                f"path_{path.penalty}",
                "path",
                partial(path_figure, path),
                f"Regularization path of {path.penalty}: {_label(path.metric)} and non-zero "
                "weights against penalty strength.",
                CAPTIONS["path"].format(penalty=path.penalty),
            )
        )
    for curve, name, x_label in (
        (data.dropout_curve, "dropout_curve", "dropout rate"),
        (data.patience_curve, "patience_curve", "early-stopping patience (epochs)"),
    ):
        if curve is not None:
            jobs.append(
                (
                    name,
                    name.replace("_", "-"),
                    partial(curve_figure, curve, x_label),
                    f"{metric.capitalize()}, generalization gap against the {x_label}.",
                    CAPTIONS[name].format(metric=metric),
                )
            )
    with _style():
        return [_image(name, sid, draw(), alt, caption) for name, sid, draw, alt, caption in jobs]
