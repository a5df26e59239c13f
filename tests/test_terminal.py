"""Terminal output that fits 80 columns: short labels, fitted tables, counted ties, snippets
without zero terms, and no progress lines in a log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console

from regulab._terminal import comparison_table, label_key, short_label, short_labels
from regulab.advise import advise
from regulab.advise._code import code_snippets
from regulab.advise._report import print_advice
from regulab.config import TrainConfig
from regulab.training._progress import stage_bar

WIDTH = 80
ENV = {
    **{k: v for k, v in os.environ.items() if k != "REGULAB_DEBUG"},
    "COLUMNS": str(WIDTH),
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# The check runs 30 s; 10 s keeps the suite short and makes the same kinds of lines.
BUDGET = "10s"
MAX_LINES = 70
# "0 * sum(...)", "l1=0," or "L1(0)": a term of strength zero in a code snippet
ZERO_TERM = r"(?<![\d.])0 \*|\b(?:l1|l2|weight_decay)=0(?![.\d])|\b(?:L[12]|Dropout)\(0(?![.\d])"


@pytest.fixture(scope="module")
def wide_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """86 features, 800 rows, a regression target on 8 of them (the issue's table shape)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 86))
    y = X[:, :8] @ rng.normal(size=8) + 0.5 * rng.normal(size=800)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(86)]).assign(y=y)
    path = tmp_path_factory.mktemp("wide") / "wide.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def logged(wide_csv: Path) -> Iterator[subprocess.Popen[str]]:
    """``COLUMNS=80 regulab advise ... > log 2>&1``, started first: it runs while the
    in-process advise below trains."""
    log = wide_csv.with_name("advise.log")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "regulab.cli", "advise", "--data", str(wide_csv)]
            + ["--target", "y", "--budget", BUDGET],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
            cwd=wide_csv.parent,
            text=True,
        )
        yield process
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def wide_advice(logged: subprocess.Popen[str], wide_csv: Path) -> Any:
    torch.set_num_threads(1)
    return advise(str(wide_csv), target="y", budget="12s", verbose=0)


def render(advice: Any) -> list[str]:
    console = Console(record=True, width=WIDTH, file=open(os.devnull, "w"))
    print_advice(advice, console)
    return console.export_text().splitlines()


def table_rows(lines: list[str]) -> list[str]:
    """The body lines of the (first) table: after its header rule, up to its first
    indented or empty line."""
    start = next(i for i, line in enumerate(lines) if line and set(line) == {"─"}) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("  "):
            break
        rows.append(line)
    return rows


def assert_rows_whole(rows: list[str], labels: set[str]) -> None:
    """Every table line starts with a whole label: no row continues on a second line."""
    for row in rows:
        assert any(row.startswith(label + "  ") for label in labels), row


# -- labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, label",
    [
        ("dropout=0.2/0.5+l2=1e-3", "L2 1e-3 + drop .2/.5"),
        ("l1=0.003+early_stopping", "L1 3e-3 + ES"),
        ("batchnorm+dropout=0.5+early_stopping", "BN + drop .5 + ES"),
        ("linear+l1=0.0073", "linear + L1 7.3e-3"),
        ("hidden=8+early_stopping=val_loss:8", "hidden 8 + ES loss:8"),
        ("elastic_net=1e-3:0.5+weight_decay=0.01", "EN 1e-3:.5 + WD 1e-2"),
        ("input_dropout=0.1", "in-drop .1"),
        ("none", "none"),
    ],
)
def test_short_label(config: str, label: str) -> None:
    assert short_label(config) == label


def test_short_labels_stay_distinct() -> None:
    labels = short_labels(["l1=0.00731", "l1=0.00734", "l1=0.01"])
    assert labels == {"l1=0.00731": "L1 7.31e-3", "l1=0.00734": "L1 7.34e-3", "l1=0.01": "L1 1e-2"}
    assert short_labels(["l2=1.00001e-3", "l2=1.00002e-3"]) == {
        "l2=1.00001e-3": "l2=1.00001e-3",
        "l2=1.00002e-3": "l2=1.00002e-3",
    }
    assert label_key(["L1 1e-2"]) == ""
    assert label_key(["BN + ES"]).startswith("BN: batch norm; ES: early stopping")


def _compare_row(config: str, loss: float, **marks: bool) -> dict[str, Any]:
    return {
        "config": config,
        "val_loss_mean": loss,
        "val_loss_ci": 0.0123,
        "test_accuracy_mean": 0.9612,
        "gap_mean": 0.012,
        "epochs_mean": 17.3,
        "sparsity_mean": 0.251,
        "seconds_mean": 12.5,
        "best": marks.get("best", False),
        "tied": marks.get("tied", False),
        "preferred": marks.get("preferred", False),
    }


def test_compare_table_fits_by_leaving_out_columns() -> None:
    rows = [
        _compare_row("dropout=0.2/0.5+l2=1e-3+early_stopping", 0.1234, best=True),
        _compare_row("batchnorm+dropout=0.5+early_stopping", 0.1301, tied=True, preferred=True),
        _compare_row("none", 0.2001),
    ]
    for width, headers in [(80, 4), (160, 8)]:
        console = Console(record=True, width=width, file=open(os.devnull, "w"))
        table = comparison_table(console, rows, "val_loss", "test_accuracy", "digits")
        console.print(table)
        lines = console.export_text().splitlines()
        assert len(table.columns) == headers
        assert max(map(len, lines)) <= width
        assert_rows_whole(table_rows(lines), set(short_labels(r["config"] for r in rows).values()))
    assert "tied, preferred" in "\n".join(lines)


# -- advise at 80 columns ---------------------------------------------------------------------
def test_advise_fits_80_columns(wide_advice: Any) -> None:
    assert wide_advice.data["n_features"] >= 80
    lines = render(wide_advice)
    assert max(map(len, lines)) <= WIDTH, max(lines, key=len)
    labels = short_labels(row["config"] for row in wide_advice.evidence)
    rows = table_rows(lines)
    assert_rows_whole(rows, set(labels.values()))
    assert any(row.startswith(labels[wide_advice.recommendation] + " ") for row in rows)
    hidden = len(wide_advice.evidence) - len(rows)
    assert 0 < len(rows) <= 6 and hidden > 0  # the best rows; the rest counted
    assert any("(see the report or --json)" in line for line in lines)


def test_advise_counts_a_dozen_ties(wide_advice: Any) -> None:
    evidence = [
        {**row, "tied": not row["best"] and row["config"] != wide_advice.recommendation}
        for row in wide_advice.evidence
    ]
    many = len([row for row in evidence if row["tied"]])
    assert many > 3
    notes = [*wide_advice.notes, "Tied with the best (within one standard error): " + "x, " * 12]
    text = "\n".join(render(replace(wide_advice, evidence=evidence, notes=notes)))
    assert f"{many} configs tied with the best: see the report." in text
    assert "x, x" not in text
    assert re.search(r"\d+ more within one standard error", text)


def test_snippets_have_no_zero_strength_terms(wide_advice: Any) -> None:
    for code in wide_advice.code.values():
        assert not re.search(ZERO_TERM, code), code
    only_l2 = code_snippets(TrainConfig(l2=1e-3, dropout=(0.5,)), [20, 16, 2])
    assert "w.abs()" not in only_l2["pytorch"]
    assert "loss = loss + 0.001 * sum(w.pow(2).sum() for w in weights)" in only_l2["pytorch"]
    assert "regularizers.L2(0.001)" in only_l2["keras"] and "L1L2" not in only_l2["keras"]
    assert "callbacks=" not in only_l2["regulab"]
    assert not re.search(ZERO_TERM, "\n".join(only_l2.values()))
    both = code_snippets(TrainConfig(elastic_net=(1e-3, 0.5)), [20, 16, 2])["keras"]
    assert "regularizers.L1L2(l1=0.0005, l2=0.00025)" in both


# -- a log, not a terminal --------------------------------------------------------------------
def test_stage_bars_leave_no_line_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with stage_bar(1, "runs") as bars:
        task = bars.add_task("", total=3)
        for _ in range(3):
            bars.update(task, advance=1)
    assert capsys.readouterr().out == ""


def test_advise_log_at_80_columns(logged: subprocess.Popen[str], wide_csv: Path) -> None:
    assert logged.wait(timeout=240) == 0
    lines = wide_csv.with_name("advise.log").read_text().splitlines()
    assert len(lines) <= MAX_LINES, len(lines)
    assert max(map(len, lines)) <= WIDTH, max(lines, key=len)
    assert not [line for line in lines if line.startswith(("runs ", "path "))]
    rows = table_rows(lines)
    assert rows
    for row in rows:  # each row: a label, then its numbers, on one line
        assert re.search(r"\d\.\d{4} ± \d\.\d{4}\s+-?\d\.\d{4}", row), row
