"""``regulab datasets``, ``regulab diagnose`` and ``regulab diagnose-run``: look at the data
and at a finished run before training anything."""

from __future__ import annotations

import click
from rich.table import Table

from regulab._terminal import print_wrapped
from regulab.cli._common import (
    SEED,
    _apply,
    _check_outputs,
    _console,
    _data_options,
    _file_input,
    _load_data,
    cli,
    output_options,
    write_json,
)
from regulab.data import list_datasets


@cli.command("datasets")
def datasets_command() -> None:
    """List the built-in data sets."""
    table = Table("name", "description")
    for name, description in list_datasets():
        table.add_row(name, description)
    _console().print(table)


@cli.command("diagnose")
@_data_options
@click.option("--seed", type=SEED, default=0, show_default=True)
@_apply(output_options("the findings", quiet=False))
def diagnose_command(
    data: str,
    target: str | None,
    task: str | None,
    mnist_dir: str | None,
    model: str | None,
    categorical: tuple[str, ...],
    numeric: tuple[str, ...],
    drop: tuple[str, ...],
    seed: int,
    json_path: str | None,
) -> None:
    """Diagnose a data set: size, irrelevant and correlated features, noise, balance."""
    from regulab.diagnose import diagnose_data

    _check_outputs({"--json": json_path}, {"--data": _file_input(data)})
    dataset = _load_data(data, locals(), seed=seed)
    findings = diagnose_data(dataset, model=model, seed=seed)
    if json_path:
        write_json(
            json_path,
            {"schema_version": 1, "data": dataset.name, "diagnostics": findings.to_dict()},
        )
    for reading in findings.readings():
        print_wrapped(_console(), reading, "- ")


@cli.command("diagnose-run")
@click.argument("history", type=click.Path())
@_apply(output_options("the findings", quiet=False))
def diagnose_run_command(history: str, json_path: str | None) -> None:
    """Read a training history CSV (epoch, loss, val_loss[, ...]) and say what went wrong."""
    from regulab.diagnose import diagnose_run

    _check_outputs({"--json": json_path}, {"HISTORY": history})
    result = diagnose_run(history)
    if json_path:
        write_json(json_path, result.to_dict())
    for finding in result.findings:
        click.echo(f"[{finding.kind}] {finding.reading}\n    → {finding.action}")
