"""``regulab runs`` and ``regulab report``: read the results store."""

from __future__ import annotations

import click
from rich.table import Table

from regulab._files import dumps_json
from regulab.cli._common import _check_figures, _check_outputs, _console, _store_input, cli
from regulab.errors import RegulabError


@cli.group("runs")
def runs_group() -> None:
    """Inspect the results store: list, show, export."""


_STORE_OPTION = click.option("--store", default="regulab-runs.sqlite", show_default=True)


@runs_group.command("list")
@_STORE_OPTION
@click.option("--experiment", default=None, help="Only runs of this experiment.")
def runs_list(store: str, experiment: str | None) -> None:
    """One line per stored run."""
    from regulab.experiment._store import ResultsStore

    with ResultsStore(store, create=False, read_only=True) as opened:
        rows = opened.list_runs(experiment)
    table = Table("id", "experiment", "group", "config", "seed", "metric", "epochs", "seconds")
    for row in rows:
        value = "" if row["value"] is None else f"{row['metric']} {row['value']:.4f}"
        table.add_row(
            str(row["id"]),
            row["experiment"],
            row["group"],
            row["config_name"],
            str(row["seed"]),
            value,
            str(row["epochs"]),
            f"{row['seconds']:.2f}",
        )
    _console().print(table)


@runs_group.command("show")
@_STORE_OPTION
@click.argument("run_id", type=int)
def runs_show(store: str, run_id: int) -> None:
    """Everything stored for one run, as JSON."""
    from regulab.experiment._store import ResultsStore

    with ResultsStore(store, create=False, read_only=True) as opened:
        record = opened.get(run_id)
    click.echo(dumps_json(record.to_dict()))


@runs_group.command("export")
@_STORE_OPTION
@click.option("--csv", "csv_path", required=True, help="CSV file to write.")
@click.option("--experiment", default=None)
def runs_export(store: str, csv_path: str, experiment: str | None) -> None:
    """All runs as one CSV row each."""
    from regulab.experiment._store import ResultsStore

    _check_outputs({"--csv": csv_path}, {"--store": _store_input(store)})
    with ResultsStore(store, create=False, read_only=True) as opened:
        written = opened.export_csv(csv_path, experiment)
    click.echo(f"Exported to {written}")


@cli.command("report")
@_STORE_OPTION
@click.option("-o", "--output", default="report.html", show_default=True)
@click.option("--experiment", default=None, help="Only runs of this experiment.")
@click.option("--figures", default=None, help="Also write each figure as PNG here.")
def report_command(store: str, output: str, experiment: str | None, figures: str | None) -> None:
    """Write the HTML report of the runs in a store."""
    from regulab.experiment._store import ResultsStore
    from regulab.report import write_report

    _check_figures(figures, output)
    _check_outputs({"-o/--output": output}, {"--store": _store_input(store)})
    with ResultsStore(store, create=False, read_only=True) as opened:
        records = opened.records(experiment)
    if not records:
        raise RegulabError(
            f"The store '{store}' has no runs"
            + (f" for experiment '{experiment}'." if experiment else ".")
        )
    write_report(records, output, figures_dir=figures)
    click.echo(f"Report written to {output}")
