"""The ``regulab`` command line: thin commands over the public Python API.

Each command parses its options, calls one public function, prints, and returns an exit
code. A user mistake becomes one line on stderr and exit code 2, never a traceback.

Examples
--------
>>> from regulab.cli import main
>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from regulab import __version__
from regulab.config import (
    RunSummary,
    TrainConfig,
    parse_early_stopping,
    parse_elastic_net,
    parse_rates,
    run,
)
from regulab.data import list_datasets
from regulab.errors import RegulabError

__all__ = ["main", "write_json"]

EXIT_USAGE = 2


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write JSON atomically (temporary file + rename) so a crash never leaves half a file."""
    target = Path(path)
    if not target.parent.exists():
        raise RegulabError(f"Cannot write '{target}': folder '{target.parent}' does not exist.")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2)
    os.replace(temporary, target)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regulab")
def cli() -> None:
    """Regulab: regularization for neural networks — train, diagnose, compare, advise."""


@cli.command("datasets")
def datasets_command() -> None:
    """List the built-in data sets."""
    table = Table("name", "description")
    for name, description in list_datasets():
        table.add_row(name, description)
    Console().print(table)


def _summary_table(summary: RunSummary) -> Table:
    result = summary.result
    table = Table("", "value", title=f"{summary.dataset.name}: test results")
    for name, value in summary.test_metrics.items():
        table.add_row(f"test {name}", f"{value:.4f}")
    table.add_row("epochs run", str(result.epochs_run))
    table.add_row("stop reason", result.stop_message)
    table.add_row("sparsity (exact zeros)", f"{result.sparsity.total:.1%}")
    dropped = result.sparsity.dropped_features
    if dropped:
        table.add_row("dropped features", f"{len(dropped)} of {summary.dataset.n_features}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    return table


@cli.command("train")
@click.option("--data", default="digits", show_default=True,
              help="Built-in name (see `regulab datasets`), mnist, or a CSV/Parquet/NPZ path.")
@click.option("--target", default=None, help="Target column of a CSV/Parquet file.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="Force the task for a file.")
@click.option("--mnist-dir", default=None, help="Folder with MNIST's four IDX .gz files.")
@click.option("--model", default=None,
              help="Layer sizes like 64-128-64-10, or 'linear'. Default: inputs-128-64-outputs.")
@click.option("--activation", default="relu", show_default=True)
@click.option("--dropout", default="", help="Rates after hidden layers, e.g. 0.5,0.3.")
@click.option("--input-dropout", type=float, default=0.0, show_default=True)
@click.option("--batchnorm", is_flag=True, help="Batch norm after every hidden layer.")
@click.option("--l1", type=float, default=0.0, show_default=True, help="L1 strength.")
@click.option("--l2", type=float, default=0.0, show_default=True, help="L2 strength.")
@click.option("--elastic-net", default=None, help="ALPHA:L1_RATIO, e.g. 1e-4:0.5.")
@click.option("--weight-decay", type=float, default=0.0, show_default=True,
              help="Decoupled (AdamW-style) decay.")
@click.option("--prox-l1", is_flag=True, help="Apply L1 as a proximal step (exact zeros).")
@click.option("--early-stopping", default=None, help="MONITOR:PATIENCE, e.g. val_loss:3.")
@click.option("--optimizer", default="adam", show_default=True, help="adam, adamw or sgd.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "json_path", default=None, help="Write the results as JSON here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(**options: Any) -> None:
    """Train one model with the chosen regularization and report test metrics."""
    json_path = options.pop("json_path")
    quiet = options.pop("quiet")
    if json_path and not Path(json_path).parent.exists():
        raise RegulabError(f"Cannot write '{json_path}': its folder does not exist.")
    options["dropout"] = parse_rates(options["dropout"])
    if options["elastic_net"]:
        options["elastic_net"] = parse_elastic_net(options["elastic_net"])
    if options["early_stopping"]:
        options["early_stopping"] = parse_early_stopping(options["early_stopping"])
    config = TrainConfig(**options, verbose=0 if quiet else 1)
    summary = run(config)
    Console().print(_summary_table(summary))
    if json_path:
        write_json(json_path, summary.to_json())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 for user mistakes).

    Set ``REGULAB_DEBUG=1`` to see the full traceback of an error instead of one line.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="regulab",
                 standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.UsageError as error:
        click.echo(f"regulab: error: {error.format_message()}", err=True)
        return EXIT_USAGE
    except click.Abort:
        click.echo("regulab: interrupted", err=True)
        return 130
    except (RegulabError, ValueError, OSError) as error:
        if os.environ.get("REGULAB_DEBUG"):
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        click.echo(f"regulab: error: {message}", err=True)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
