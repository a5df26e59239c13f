"""Tests of regulab.report: plot data without drawing, the HTML page, and one browser check."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from markupsafe import Markup

from regulab.errors import InvalidParameterError
from regulab.experiment import one_se_rule, summarize
from regulab.experiment._records import HISTOGRAM_EDGES, RunRecord
from regulab.report import (
    SECTION_IDS,
    build_report_data,
    comparison_table,
    render_report,
    section,
    table_html,
    write_report,
)

IMAGE = (8, 8)
N_INPUTS = IMAGE[0] * IMAGE[1]
LAYERS = {"layers.0.weight": 64 * 32, "layers.1.weight": 32 * 16, "layers.2.weight": 16 * 10}
EVIL = "<script>alert(1)</script>"


# ---------------------------------------------------------------- fake records


def _weights(kind: str, rng: np.random.Generator, zeros: float, n: int = 3000) -> np.ndarray:
    if kind == "l1":
        values = rng.laplace(0.0, 0.04, n)
        values[rng.random(n) < zeros] = 0.0
        return values
    return rng.normal(0.0, 0.06 if kind == "l2" else 0.16, n)


def _center_mask(rng: np.random.Generator, margin: int) -> list[bool]:
    mask = np.zeros(IMAGE, dtype=bool)
    mask[margin : IMAGE[0] - margin, margin : IMAGE[1] - margin] = True
    mask |= rng.random(IMAGE) < 0.15
    return mask.flatten().tolist()


def make_record(
    config_name: str,
    seed: int,
    *,
    accuracy: float,
    kind: str = "none",
    epochs: int = 10,
    best_epoch: int | None = None,
    group: str = "compare",
    extra: dict[str, Any] | None = None,
    kept: list[bool] | None = None,
    feature_names: list[str] | None = None,
    gap: float | None = None,
    zeros: float = 0.55,
) -> RunRecord:
    """A plausible finished run: loss curves, metrics, sparsity and weight summary."""
    rng = np.random.default_rng(zlib.crc32(repr((config_name, seed, group, extra)).encode()))
    overfit = {"none": 0.05, "l2": 0.015, "l1": 0.02}[kind]
    history = []
    for epoch in range(1, epochs + 1):
        loss = 1.6 * math.exp(-0.45 * epoch) + 0.08 + rng.normal(0, 0.01)
        val = 1.5 * math.exp(-0.4 * epoch) + 0.2 + overfit * max(0, epoch - 4) + rng.normal(0, 0.01)
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "val_loss": val,
                "val_accuracy": accuracy - 0.3 * math.exp(-0.5 * epoch) + rng.normal(0, 0.003),
                "penalty": 0.01,
                "sparsity": 0.0,
                "seconds": 0.05,
            }
        )
    values = _weights(kind, rng, zeros)
    clipped = np.clip(values, HISTOGRAM_EDGES[0], HISTOGRAM_EDGES[-1])
    counts, _ = np.histogram(clipped[values != 0], bins=HISTOGRAM_EDGES)
    kept = (
        kept if kept is not None else (_center_mask(rng, 2) if kind == "l1" else [True] * N_INPUTS)
    )
    names = feature_names or [f"pixel_{i}" for i in range(N_INPUTS)]
    zero_share = float((values == 0).mean())
    returned = history[(best_epoch or epochs) - 1]
    return RunRecord(
        run_key=f"{config_name}-{seed}-{group}",
        config_name=config_name,
        config={"data": "digits", "seed": seed},
        seed=seed,
        data_fingerprint="abc",
        library_version="0.1.0",
        history=history,
        metrics={
            "test_accuracy": accuracy + rng.normal(0, 0.004),
            "test_loss": returned["val_loss"],
            "val_loss": returned["val_loss"],
            "train_loss": returned["loss"],
            "gap": gap if gap is not None else returned["val_loss"] - returned["loss"],
        },
        epochs_run=epochs,
        stop_reason="patience_exhausted" if best_epoch else "max_epochs",
        stop_message="",
        best_epoch=best_epoch,
        sparsity={
            "per_layer": {
                name: zero_share * (1.3 if i == 0 else 0.8) for i, name in enumerate(LAYERS)
            },
            "total": zero_share,
            "dropped_features": [n for n, k in zip(names, kept) if not k],
        },
        weights={
            "histogram": counts.tolist(),
            "exact_zeros": int((values == 0).sum()),
            "weight_norm": float(np.sqrt((values**2).sum())),
            "kept_inputs": kept,
        },
        seconds=1.0 + 0.1 * seed,
        group=group,
        extra=extra or {},
    )


def make_records() -> list[RunRecord]:
    """3 configs x 3 seeds (10 epochs) plus an L1 path, a dropout and a patience curve."""
    records = []
    for seed in range(3):
        records.append(make_record("none", seed, accuracy=0.90))
        records.append(
            make_record(
                "l1+early_stopping", seed, accuracy=0.935, kind="l1", epochs=8, best_epoch=5
            )
        )
        records.append(
            make_record(
                "dropout+l2+early_stopping", seed, accuracy=0.94, kind="l2", epochs=9, best_epoch=6
            )
        )
        for strength, acc, zeros in (
            (1e-5, 0.92, 0.02),
            (1e-4, 0.93, 0.15),
            (1e-3, 0.935, 0.45),
            (1e-2, 0.935, 0.8),
            (1e-1, 0.80, 0.97),
        ):
            records.append(
                make_record(
                    f"l1={strength:g}",
                    seed,
                    accuracy=acc,
                    kind="l1",
                    group="path:l1",
                    extra={"strength": strength},
                    zeros=zeros,
                )
            )
    for seed in range(2):
        for rate, acc in ((0.0, 0.90), (0.2, 0.93), (0.5, 0.94), (0.7, 0.92)):
            records.append(
                make_record(
                    f"dropout={rate}",
                    seed,
                    accuracy=acc,
                    kind="l2",
                    group="dropout_curve",
                    extra={"rate": rate},
                )
            )
        for patience, acc in ((1, 0.90), (3, 0.93), (5, 0.935), (10, 0.935)):
            records.append(
                make_record(
                    f"patience={patience}",
                    seed,
                    accuracy=acc,
                    group="patience_curve",
                    extra={"patience": patience},
                    best_epoch=min(8, 3 + patience // 2),
                    epochs=min(12, min(8, 3 + patience // 2) + patience),
                )
            )
    return records


def _scored(config: str, values: list[float]) -> list[RunRecord]:
    records = []
    for seed, value in enumerate(values):
        record = make_record(config, seed, accuracy=0.9)
        record.metrics["val_accuracy"] = value  # what the marks are chosen on
        record.metrics["test_accuracy"] = value - 0.1  # reported beside
        records.append(record)
    return records


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, str]:
    """The full report written once for the HTML and browser tests.

    Rendering must leave the user's matplotlib backend alone: no pyplot import, no switch.
    """
    backend = dict.__getitem__(matplotlib.rcParams, "backend")
    had_pyplot = "matplotlib.pyplot" in sys.modules
    folder = tmp_path_factory.mktemp("report")
    info = write_report(
        make_records(),
        folder / "report.html",
        title="Digits regularization",
        figures_dir=folder / "figures",
        image_shape=IMAGE,
        diagnostics_html=table_html([{"check": "class balance", "ok": True}]),
    )
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules
    return folder, info, (folder / "report.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- statistics and plot data


def test_comparison_marks_best_tied_and_preferred() -> None:
    records = (
        _scored("dropout+l2", [0.90, 0.92, 0.94])  # best: mean 0.92, se 0.0115
        + _scored("l2", [0.895, 0.915, 0.935])  # within one se
        + _scored("dropout", [0.91, 0.905, 0.93])  # within one se
        + _scored("none", [0.85, 0.87, 0.89])  # beyond one se
    )
    rows = {r.config_name: r for r in comparison_table(records)}
    assert [r.config_name for r in comparison_table(records)][0] == "dropout+l2"
    best = rows["dropout+l2"]
    assert best.is_best and not best.is_tied and best.metric_mean == pytest.approx(0.92)
    assert best.metric == "val_accuracy" and best.test_metric == "test_accuracy"
    assert best.metric_se == pytest.approx(0.02 / math.sqrt(3))
    assert best.test_mean == pytest.approx(0.82)
    assert rows["l2"].is_tied and rows["dropout"].is_tied
    assert not rows["none"].is_tied and not rows["none"].is_best
    # simpler among {dropout+l2, l2, dropout}: one technique; then sparser (equal) then smaller norm
    preferred = [r.config_name for r in rows.values() if r.is_preferred]
    assert len(preferred) == 1 and preferred[0] in ("l2", "dropout")
    assert rows["none"].stop_reasons == {"max_epochs": 3}


def test_diverged_config_is_marked_and_never_best() -> None:
    records = _scored("none", [0.99, 0.98, 0.97]) + _scored("l2", [0.90, 0.91, 0.92])
    records[1].metrics["val_accuracy"] = float("nan")
    rows = {r.config_name: r for r in comparison_table(records)}
    assert rows["l2"].is_best and rows["none"].diverged == 1
    assert not (rows["none"].is_best or rows["none"].is_tied or rows["none"].is_preferred)
    page, _, _ = render_report(records)
    assert '<span class="badge diverged">✗ diverged</span>' in page


def test_learning_curve_averages_seeds_that_reached_each_epoch() -> None:
    records = [
        make_record("es", 0, accuracy=0.9, epochs=3, best_epoch=2),
        make_record("es", 1, accuracy=0.9, epochs=5, best_epoch=4),
    ]
    curve = build_report_data(records).learning_curves[0]
    assert curve.epochs == [1, 2, 3, 4, 5] and curve.n_seeds == [2, 2, 2, 1, 1]
    expected = (records[0].history[0]["loss"] + records[1].history[0]["loss"]) / 2
    assert curve.train_loss[0] == pytest.approx(expected)
    assert curve.val_loss[4] == pytest.approx(records[1].history[4]["val_loss"])
    assert curve.best_epoch == 3.0 and curve.stop_epochs == [3, 5]


def test_weight_histogram_shares_and_zero_spike_sum_to_one() -> None:
    data = build_report_data(make_records())
    hist = {h.config_name: h for h in data.histograms}
    for h in hist.values():
        assert sum(h.shares) + h.zero_share == pytest.approx(1.0)
        assert len(h.shares) == len(HISTOGRAM_EDGES) - 1
    assert hist["l1+early_stopping"].zero_share > 0.4
    assert hist["none"].zero_share == 0.0


def test_heatmap_is_share_of_seeds_keeping_each_pixel() -> None:
    kept = [[True] * N_INPUTS for _ in range(3)]
    kept[0][0] = False
    kept[1][0] = kept[1][1] = False
    records = [make_record("l1", s, accuracy=0.9, kept=kept[s]) for s in range(3)]
    records += [make_record("none", s, accuracy=0.9) for s in range(3)]
    data = build_report_data(records, image_shape=IMAGE)
    assert [h.config_name for h in data.heatmaps] == ["l1"]
    share = data.heatmaps[0].kept_share
    assert share.shape == IMAGE
    assert share[0, 0] == pytest.approx(1 / 3) and share[0, 1] == pytest.approx(2 / 3)
    assert share[1:, :].min() == 1.0
    dropped = {d.config_name: d for d in data.sparsity.dropped}  # type: ignore[union-attr]
    assert dropped["l1"].mean_count == pytest.approx(1.0)
    assert dropped["l1"].features[0] == ("pixel_0", pytest.approx(2 / 3))
    with pytest.raises(
        InvalidParameterError,
        match=r"must match the number of inputs \(64\)\. "
        r"Got \(28, 28\) \(784 pixels\) instead\.",
    ):
        build_report_data(records, image_shape=(28, 28))


def _path_records(means: dict[float, list[float]]) -> list[RunRecord]:
    records = []
    for strength, values in means.items():
        for seed, value in enumerate(values):
            record = make_record(
                "l1", seed, accuracy=0.9, group="path:l1", extra={"strength": strength}
            )
            record.history[-1]["val_accuracy"] = value
            records.append(record)
    return records


def test_lambda_min_and_1se_on_a_constructed_path() -> None:
    assert one_se_rule([1e-4, 1e-3, 1e-2, 1e-1], [0.90, 0.93, 0.92, 0.80], [0.01] * 4) == (
        1e-3,
        1e-2,
    )
    assert one_se_rule([1, 2, 4], [0.3, 0.35, 0.5], [0.1] * 3, higher_is_better=False) == (1, 2)
    # best 0.94 at 1e-3 with se 0.0115: 1e-2 (0.93) lies within one se, 1e-1 (0.90) does not
    records = _path_records(
        {
            1e-4: [0.91, 0.92, 0.93],
            1e-3: [0.92, 0.94, 0.96],
            1e-2: [0.92, 0.93, 0.94],
            1e-1: [0.89, 0.90, 0.91],
        }
    )
    path = build_report_data(records).paths[0]
    assert path.penalty == "l1" and path.metric == "val_accuracy" and path.source == "computed"
    assert [p.strength for p in path.points] == [1e-4, 1e-3, 1e-2, 1e-1]
    assert path.points[1].metric_se == pytest.approx(0.02 / math.sqrt(3))
    assert (path.lambda_min, path.lambda_1se) == (1e-3, 1e-2)
    given = build_report_data(
        records, path_summaries={"l1": {"lambda_min": 1e-4, "lambda_1se": 1e-3}}
    ).paths[0]
    assert (given.lambda_min, given.lambda_1se, given.source) == (1e-4, 1e-3, "given")


def test_parameter_curves_from_their_groups() -> None:
    data = build_report_data(make_records())
    assert data.dropout_curve is not None and data.patience_curve is not None
    assert [p.x for p in data.dropout_curve.points] == [0.0, 0.2, 0.5, 0.7]
    assert [p.x for p in data.patience_curve.points] == [1, 3, 5, 10]
    assert all(p.n == 2 for p in data.dropout_curve.points)
    assert [p.epochs_mean for p in data.patience_curve.points] == [4, 7, 10, 12]
    assert data.metric == "val_accuracy" and data.test_metric == "test_accuracy"
    assert data.dataset == "digits"
    assert data.configs == ["none", "l1+early_stopping", "dropout+l2+early_stopping"]


def test_precomputed_table_is_used_as_given() -> None:
    table = [
        {
            "config": "from-engine",
            "test_accuracy_mean": 0.5,
            "test_accuracy_ci": 0.01,
            "best": True,
            "note": "engine row",
        }
    ]
    data = build_report_data(_scored("a", [0.9, 0.8]), table=table)
    assert data.table == table and not data.table_computed
    page, _, _ = render_report(_scored("a", [0.9, 0.8]), table=table)
    assert "from-engine" in page and "engine row" in page and '<tr class="best">' in page
    assert '0.500 <span class="ci">± 0.010</span>' in page


def test_computed_rows_match_the_compare_engine_format() -> None:
    records = _scored("dropout+l2", [0.90, 0.92, 0.94]) + _scored("none", [0.85, 0.87, 0.89])
    ours = [r.to_dict() for r in comparison_table(records)]
    engine, _ = summarize(records, "val_accuracy", True, test_metric="test_accuracy")
    assert [set(r) for r in ours] == [set(r) for r in engine]
    for mine, theirs in zip(ours, engine):
        for key, value in theirs.items():
            assert mine[key] == (pytest.approx(value) if isinstance(value, float) else value)


# ---------------------------------------------------------------- HTML helpers and the page


def test_section_and_table_html_escape_and_validate() -> None:
    fragment = Markup(section("advice", EVIL, table_html([{EVIL: EVIL, "x": 0.5}]), lead=EVIL))
    assert EVIL not in fragment and fragment.count("&lt;script&gt;") == 4
    assert fragment.startswith('<section id="advice" class="card">')
    with pytest.raises(InvalidParameterError, match="The 'id' parameter of section must be"):
        section('x" onload="alert(1)', "t", "")


def test_report_has_every_section_image_and_no_network_url(report: tuple[Path, Any, str]) -> None:
    folder, info, page = report
    assert info.sections == list(SECTION_IDS)
    for sid in SECTION_IDS:
        assert f'<section id="{sid}"' in page
    expected = [
        "learning_curves",
        "generalization_gap",
        "weights",
        "sparsity",
        "input_heatmap",
        "path_l1",
        "dropout_curve",
        "patience_curve",
    ]
    assert info.figures == expected
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == info.n_images == len(expected)
    assert all(re.search(r'alt="[^"]{10,}"', tag) for tag in images)
    assert all('src="data:image/png;base64,' in tag for tag in images)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "@import" not in page
    assert page.count("<figcaption>") == len(expected)
    assert "simpler/sparser preferred among tied" in page
    assert 'class="best"' in page and "Data set <b>digits</b>" in page
    for name in expected:
        png = (folder / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in info.figure_paths] == [f"{n}.png" for n in expected]
    assert not list(folder.glob("*.tmp"))


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    names = [EVIL] * N_INPUTS
    kept = [i % 2 == 0 for i in range(N_INPUTS)]
    records = [
        make_record(EVIL, s, accuracy=0.9, kind="l1", kept=kept, feature_names=names)
        for s in range(2)
    ]
    records += [make_record("l2 & $x$", s, accuracy=0.95, kind="l2") for s in range(2)]
    for record in records:
        record.config["data"] = f"/tmp/{EVIL}.csv"
    info = write_report(
        records,
        tmp_path / "evil.html",
        title=EVIL,
        image_shape=IMAGE,
        extra_sections=[section("advice", EVIL, "<p>ok</p>")],
    )
    page = info.path.read_text(encoding="utf-8")
    assert EVIL not in page and "alert(1)</script>" not in page
    assert page.count("<script") == 1  # only the report's own image counter
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "l2 &amp; $x$" in page
    assert info.sections[-1] == "advice"
    with pytest.raises(InvalidParameterError, match="Got 'comparison' instead"):
        render_report(records, extra_sections=[section("comparison", "again", "")])


# ---------------------------------------------------------------- browser


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def test_report_renders_in_headless_chromium(report: tuple[Path, Any, str], tmp_path: Path) -> None:
    import matplotlib.image

    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it.")
    folder, info, _ = report
    url = (folder / "report.html").resolve().as_uri()
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *flags,
            f"--user-data-dir={tmp_path / 'profile1'}",
            f"--screenshot={shot}",
            "--window-size=1280,4000",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 3000 and pixels.shape[1] >= 1200
    assert float(pixels[..., :3].std()) > 0.05
    dom = subprocess.run(
        [*flags, f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", url],
        check=True,
        capture_output=True,
        timeout=60,
        text=True,
    ).stdout
    for sid in info.sections:
        assert f'id="{sid}"' in dom
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded is not None, "the inline image counter did not run"
    assert int(loaded.group(1)) == info.n_images == dom.count("<img ")
