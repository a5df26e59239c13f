"""``regulab advise``: diagnose, recommend with reasons, prove it, and optionally save the
recommended model refit on every row."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from regulab.cli._common import (
    SEED,
    _apply,
    _call_in_store,
    _data_options,
    _load_data,
    _pop_outputs,
    cli,
    output_options,
    write_json,
)


@cli.command("advise")
@_data_options
@click.option("--interpretable", is_flag=True, help="Favour sparse, linear, explainable answers.")
@click.option(
    "--important-features", default="", help="Comma-separated features the penalty should spare."
)
@click.option("--budget", default="5m", show_default=True, help="Time budget: 90s, 5m, 1h.")
@click.option(
    "--metric",
    default=None,
    help="scikit-learn scorer name that drives the choice and the reported gain: log_loss, "
    "roc_auc, balanced_accuracy, accuracy, f1_macro; r2, neg_mean_squared_error, "
    "neg_mean_absolute_error (default: validation loss).",
)
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--max-train", type=int, default=None, help="Use at most this many training rows.")
@click.option(
    "--jobs",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes that train runs side by side (e.g. 2 on 2 cores for a CNN).",
)
@click.option("--store", default=None, help="SQLite results store to save and reuse runs.")
@_apply(
    output_options(
        "the advice",
        report=True,
        figures=True,
        save="Refit the recommendation on every row and save it",
    )
)
def advise_command(**options: Any) -> None:
    """Diagnose the data, recommend regularization with reasons, and prove it."""
    from regulab.advise import advise, parse_budget
    from regulab.advise._report import print_advice, write_advice_report

    report_path, figures, json_path, save_path, quiet = _pop_outputs(options)
    parse_budget(options["budget"])
    important = [f.strip() for f in options.pop("important_features").split(",") if f.strip()]
    data = options.pop("data")
    advice = _call_in_store(advise, data, options, quiet, important_features=important)
    if json_path:
        write_json(json_path, advice.to_json())
    if report_path:
        write_advice_report(advice, report_path, figures_dir=figures)
    refit_rows = _save_refit(advice, data, options, save_path) if save_path else None
    print_advice(advice, Console())  # markup on: print_advice escapes every user string
    if report_path:
        click.echo(f"Report written to {report_path}")
    if save_path:
        click.echo(f"Recommended model refit on all {refit_rows} rows, saved to {save_path}")


def _save_refit(advice: Any, data: str, options: dict[str, Any], save_path: str) -> int:
    """Refit the recommended model on every row of the advised data and save it; return the
    rows."""
    from regulab.advise._refit import save_refit

    dataset = advice.dataset or _load_data(data, options, seed=options["seed"])
    save_refit(advice, dataset, save_path)
    return dataset.n_samples
