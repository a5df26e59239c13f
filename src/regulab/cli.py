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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Column, Table

from regulab import __version__
from regulab._files import atomic_write
from regulab.config import (
    RunSummary,
    TrainConfig,
    parse_early_stopping,
    parse_elastic_net,
    parse_rates,
    run,
)
from regulab.custom import is_custom, resolve_factory
from regulab.data import list_datasets
from regulab.errors import RegulabError

__all__ = ["main", "write_json"]

EXIT_USAGE = 2


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write JSON atomically (temporary file + rename) so a crash never leaves half a file."""
    target = Path(path)
    if not target.parent.exists():
        raise RegulabError(f"Cannot write '{target}': folder '{target.parent}' does not exist.")
    atomic_write(target, json.dumps(payload, indent=2).encode())


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


def _resolve_model(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--model`` before any work: an import path ``module:factory`` must resolve
    (the current folder is importable)."""
    if is_custom(value):
        assert value is not None
        resolve_factory(value)
    return value


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
@click.option(
    "--data",
    default="digits",
    show_default=True,
    help="Built-in name (see `regulab datasets`), mnist, or a CSV/Parquet/NPZ path.",
)
@click.option("--target", default=None, help="Target column of a CSV/Parquet file.")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    default=None,
    help="Force the task for a file.",
)
@click.option("--mnist-dir", default=None, help="Folder with MNIST's four IDX .gz files.")
@click.option(
    "--model",
    default=None,
    callback=_resolve_model,
    help="Layer sizes like 64-128-64-10, 'linear', 'cnn', or your own factory as "
    "package.module:function. Default: inputs-128-64-outputs.",
)
@click.option("--activation", default="relu", show_default=True)
@click.option("--dropout", default="", help="Rates after hidden layers, e.g. 0.5,0.3.")
@click.option("--input-dropout", type=float, default=0.0, show_default=True)
@click.option("--batchnorm", is_flag=True, help="Batch norm after every hidden layer.")
@click.option("--l1", type=float, default=0.0, show_default=True, help="L1 strength.")
@click.option("--l2", type=float, default=0.0, show_default=True, help="L2 strength.")
@click.option("--elastic-net", default=None, help="ALPHA:L1_RATIO, e.g. 1e-4:0.5.")
@click.option(
    "--weight-decay",
    type=float,
    default=0.0,
    show_default=True,
    help="Decoupled (AdamW-style) decay.",
)
@click.option("--prox-l1", is_flag=True, help="Apply L1 as a proximal step (exact zeros).")
@click.option("--early-stopping", default=None, help="MONITOR:PATIENCE, e.g. val_loss:3.")
@click.option("--optimizer", default="adam", show_default=True, help="adam, adamw or sgd.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "json_path", default=None, help="Write the results as JSON here.")
@click.option(
    "--save",
    "save_path",
    default=None,
    help="Save the trained model (safetensors + JSON metadata) for `regulab predict`.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(**options: Any) -> None:
    """Train one model with the chosen regularization and report test metrics."""
    json_path, save_path = options.pop("json_path"), options.pop("save_path")
    quiet = options.pop("quiet")
    for path in (json_path, save_path):
        _check_output(path)
    if save_path and is_custom(options["model"]):
        raise RegulabError(
            f"--save writes Regulab's MLP models only; save the weights of the {options['model']}"
            " model from Python with torch.save(result.model.state_dict(), path)."
        )
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
    if save_path:
        from regulab.io import save

        classes = summary.dataset.classes
        save(
            summary.result.model,
            save_path,
            preprocessing={
                "feature_names": list(summary.dataset.feature_names),
                "mean": summary.splits.mean.tolist(),
                "scale": summary.splits.scale.tolist(),
                "classes": [c.item() if hasattr(c, "item") else c for c in classes]
                if classes is not None
                else None,
            },
        )
        click.echo(f"Model saved to {save_path}")


@cli.command("predict")
@click.option("--model", "model_path", required=True, help="A file from `regulab train --save`.")
@click.option("--data", "data_path", required=True, help="CSV or Parquet with the features.")
@click.option("-o", "--output", default="predictions.csv", show_default=True)
@click.option("--target", default=None, help="A column to leave out and copy to the output.")
def predict_command(model_path: str, data_path: str, output: str, target: str | None) -> None:
    """Predict every row of a CSV/Parquet file with a saved model."""
    from regulab.io import predict_file

    _check_output(output)
    written = predict_file(model_path, data_path, output, target=target)
    click.echo(f"{len(written)} predictions written to {output}")


def _data_options(function: Any) -> Any:
    """The options every data-reading command shares."""
    options = [
        click.option(
            "--data",
            default="digits",
            show_default=True,
            help="Built-in name (see `regulab datasets`), mnist, or a file path.",
        ),
        click.option("--target", default=None, help="Target column of a CSV/Parquet file."),
        click.option(
            "--task",
            type=click.Choice(["classification", "regression"]),
            default=None,
            help="Force the task for a file.",
        ),
        click.option("--mnist-dir", default=None, help="Folder with MNIST's IDX .gz files."),
        click.option(
            "--model",
            default=None,
            callback=_resolve_model,
            help="Layer sizes like 64-128-64-10, 'cnn', or your own factory as "
            "package.module:function. Default: inputs-128-64-outputs.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@contextmanager
def _store_session(path: str | None) -> Iterator[Any]:
    """Check the store path before any training, open the store, and close it at the end.

    A store this command created is removed again when the command fails before any run
    was saved, so a mistyped argument leaves no empty file behind.
    """
    if path is None:
        yield None
        return
    from regulab.experiment._store import ResultsStore, check_writable

    target = check_writable(path)
    existed = target.exists()
    store = ResultsStore(path)
    try:
        yield store
    except BaseException:
        if not existed and len(store) == 0:
            store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        raise
    finally:
        store.close()


def _check_output(path: str | None) -> None:
    if path and not Path(path).resolve().parent.exists():
        raise RegulabError(f"Cannot write '{path}': its folder does not exist.")


def _comparison_table(rows: list[dict[str, Any]], metric: str, title: str) -> Table:
    table = Table(
        Column("config", overflow="fold"),
        f"{metric} (95% CI)",
        "gap",
        "epochs",
        "sparsity",
        "s/run",
        "",
        title=title,
    )
    for row in rows:
        mark = "best" if row["best"] else ("tied" if row["tied"] else "")
        if row["preferred"]:
            mark = f"{mark}, preferred" if mark else "preferred"
        table.add_row(
            row["config"],
            f"{row[f'{metric}_mean']:.4f} ± {row[f'{metric}_ci']:.4f}",
            f"{row['gap_mean']:+.3f}",
            f"{row['epochs_mean']:.1f}",
            f"{row['sparsity_mean']:.1%}",
            f"{row['seconds_mean']:.2f}",
            mark,
        )
    return table


@cli.command("compare")
@_data_options
@click.option(
    "--techniques",
    default=None,
    help="Comma-separated configs; techniques joined by '+', strengths after '=' "
    "(e.g. none,l1=3e-4,dropout=0.5/0.3+early_stopping=val_loss:5).",
)
@click.option("--seeds", type=int, default=5, show_default=True)
@click.option("--epochs", type=int, default=20, show_default=True)
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
@click.option("--report", "report_path", default=None, help="Write an HTML report here.")
@click.option("--figures", default=None, help="Also write each figure as PNG in this folder.")
@click.option("--json", "json_path", default=None, help="Write the comparison as JSON here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compare_command(**options: Any) -> None:
    """Compare regularization techniques side by side on the same splits and seeds."""
    from regulab.experiment import DEFAULT_TECHNIQUES, compare

    report_path, figures = options.pop("report_path"), options.pop("figures")
    json_path, quiet = options.pop("json_path"), options.pop("quiet")
    for path in (report_path, json_path):
        _check_output(path)
    jobs = options.pop("jobs")
    if jobs is None:
        jobs = os.cpu_count() or 1
    techniques = options.pop("techniques") or DEFAULT_TECHNIQUES
    with _store_session(options.pop("store")) as store:
        result = compare(
            options.pop("data"),
            techniques,
            store=store,
            jobs=jobs,
            verbose=0 if quiet else 1,
            **options,
        )
    Console().print(
        _comparison_table(result.rows, result.metric, f"{result.data['name']}: comparison")
    )
    for note in result.notes:
        click.echo(note)
    if result.resumed:
        click.echo(f"{result.resumed} run(s) reused from the store.")
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
        click.echo(f"Report written to {report_path}")


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

    with ResultsStore(store, create=False) as opened:
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
    Console().print(table)


@runs_group.command("show")
@_STORE_OPTION
@click.argument("run_id", type=int)
def runs_show(store: str, run_id: int) -> None:
    """Everything stored for one run, as JSON."""
    from regulab.experiment._store import ResultsStore

    with ResultsStore(store, create=False) as opened:
        record = opened.get(run_id)
    click.echo(json.dumps(record.to_dict(), indent=2))


@runs_group.command("export")
@_STORE_OPTION
@click.option("--csv", "csv_path", required=True, help="CSV file to write.")
@click.option("--experiment", default=None)
def runs_export(store: str, csv_path: str, experiment: str | None) -> None:
    """All runs as one CSV row each."""
    from regulab.experiment._store import ResultsStore

    _check_output(csv_path)
    with ResultsStore(store, create=False) as opened:
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

    _check_output(output)
    with ResultsStore(store, create=False) as opened:
        records = opened.records(experiment)
    if not records:
        raise RegulabError(
            f"The store '{store}' has no runs"
            + (f" for experiment '{experiment}'." if experiment else ".")
        )
    write_report(records, output, figures_dir=figures)
    click.echo(f"Report written to {output}")


@cli.command("diagnose")
@_data_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", default=None, help="Write the findings as JSON here.")
def diagnose_command(
    data: str,
    target: str | None,
    task: str | None,
    mnist_dir: str | None,
    model: str | None,
    seed: int,
    json_path: str | None,
) -> None:
    """Diagnose a data set: size, irrelevant and correlated features, noise, balance."""
    from regulab.data import load
    from regulab.diagnose import diagnose_data

    _check_output(json_path)
    dataset = load(data, target=target, task=task, mnist_dir=mnist_dir, seed=seed)
    findings = diagnose_data(dataset, model=model, seed=seed)
    for reading in findings.readings():
        click.echo(f"- {reading}")
    if json_path:
        write_json(
            json_path,
            {"schema_version": 1, "data": dataset.name, "diagnostics": findings.to_dict()},
        )


@cli.command("diagnose-run")
@click.argument("history", type=click.Path())
@click.option("--json", "json_path", default=None, help="Write the findings as JSON here.")
def diagnose_run_command(history: str, json_path: str | None) -> None:
    """Read a training history CSV (epoch, loss, val_loss[, ...]) and say what went wrong."""
    from regulab.diagnose import diagnose_run

    _check_output(json_path)
    result = diagnose_run(history)
    for finding in result.findings:
        click.echo(f"[{finding.kind}] {finding.reading}\n    → {finding.action}")
    if json_path:
        write_json(json_path, result.to_dict())


@cli.command("advise")
@_data_options
@click.option("--interpretable", is_flag=True, help="Favour sparse, linear, explainable answers.")
@click.option(
    "--important-features", default="", help="Comma-separated features the penalty should spare."
)
@click.option("--budget", default="5m", show_default=True, help="Time budget: 90s, 5m, 1h.")
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-train", type=int, default=None, help="Use at most this many training rows.")
@click.option("--store", default=None, help="SQLite results store to save and reuse runs.")
@click.option("--report", "report_path", default=None, help="Write an HTML report here.")
@click.option("--figures", default=None, help="Also write each figure as PNG in this folder.")
@click.option("--json", "json_path", default=None, help="Write the advice as JSON here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def advise_command(**options: Any) -> None:
    """Diagnose the data, recommend regularization with reasons, and prove it."""
    from regulab.advise import advise, parse_budget
    from regulab.advise._report import print_advice, write_advice_report

    report_path, figures = options.pop("report_path"), options.pop("figures")
    json_path, quiet = options.pop("json_path"), options.pop("quiet")
    for path in (report_path, json_path):
        _check_output(path)
    parse_budget(options["budget"])
    important = [f.strip() for f in options.pop("important_features").split(",") if f.strip()]
    with _store_session(options.pop("store")) as store:
        advice = advise(
            options.pop("data"),
            important_features=important,
            store=store,
            verbose=0 if quiet else 1,
            **options,
        )
    print_advice(advice, Console())
    if json_path:
        write_json(json_path, advice.to_json())
    if report_path:
        write_advice_report(advice, report_path, figures_dir=figures)
        click.echo(f"Report written to {report_path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 for user mistakes).

    Set ``REGULAB_DEBUG=1`` to see the full traceback of an error instead of one line.
    """
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="regulab",
            standalone_mode=False,
        )
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
