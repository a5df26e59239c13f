"""``regulab compare``: techniques side by side on the same splits and seeds."""

from __future__ import annotations

import os
from typing import Any

import click

from regulab._terminal import comparison_table
from regulab.cli._common import (
    EPOCHS,
    _apply,
    _call_in_store,
    _console,
    _data_options,
    _pop_outputs,
    cli,
    output_options,
    write_json,
)


@cli.command("compare")
@_data_options
@click.option(
    "--techniques",
    default=None,
    help="Comma-separated configs; techniques joined by '+', strengths after '=' "
    "(e.g. none,l1=3e-4,dropout=0.5/0.3+early_stopping=val_loss:5).",
)
@click.option("--seeds", type=int, default=5, show_default=True)
@click.option("--epochs", type=EPOCHS, default=20, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--max-train", type=int, default=None, help="Use at most this many training rows.")
@click.option(
    "--store",
    default="regulab-runs.sqlite",
    show_default=True,
    help="SQLite results store; a rerun resumes from it.",
)
@click.option("--jobs", type=int, default=None, help="Worker processes (default: cores).")
@click.option("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT.")
@click.option("--workers", type=int, default=None, help="Start a local Dask cluster of N.")
@_apply(output_options("the comparison", report=True, figures=True))
def compare_command(**options: Any) -> None:
    """Compare regularization techniques side by side on the same splits and seeds."""
    from regulab.experiment import DEFAULT_TECHNIQUES, compare

    report_path, figures, json_path, _, quiet = _pop_outputs(options)
    jobs = options.pop("jobs")
    if jobs is None:
        jobs = os.cpu_count() or 1
    techniques = options.pop("techniques")
    if techniques is None:
        techniques = DEFAULT_TECHNIQUES
    result = _call_in_store(
        compare, options.pop("data"), options, quiet, techniques=techniques, jobs=jobs
    )
    if json_path:
        write_json(json_path, result.to_json())
    if report_path:
        from regulab.report import write_report

        write_report(
            result.records,
            report_path,
            title=f"Regularization on {result.data['name']}",
            figures_dir=figures,
            image_shape=result.image_shape,
            table=result.rows,
            dataset=result.data["name"],
        )
    console = _console()
    console.print(
        comparison_table(
            console,
            result.rows,
            result.metric,
            result.test_metric,
            f"{result.data['name']}: comparison",
        )
    )
    for note in result.notes:
        click.echo(note)
    if result.resumed:
        click.echo(f"{result.resumed} run(s) reused from the store.")
    if report_path:
        click.echo(f"Report written to {report_path}")
