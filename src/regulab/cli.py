"""The ``regulab`` command line: thin commands over the public Python API.

Each command parses its options, calls one public function, prints, and returns an exit
code. The error boundary is :func:`main`: a user mistake (a :class:`~regulab.errors.RegulabError`
or a click usage error) becomes one line on stderr and exit code 2; anything else is a bug and
shows its traceback (exit code 1).

Commands share a few helpers: :func:`_data_options` (the data flags), :func:`_store_session`
(a results store checked before any work), :func:`_check_outputs` (output files checked before
any work, never an input), :func:`write_json` (standard JSON, ``null`` for NaN) and
:func:`_console` (user strings printed literally, no Rich markup).

Examples
--------
>>> from regulab.cli import main
>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from regulab import __version__
from regulab._files import atomic_write, check_output_paths, dumps_json
from regulab._terminal import comparison_table, print_summary, print_wrapped
from regulab.config import (
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
EXIT_BUG = 1

#: The most epochs a command accepts: far beyond any useful run (early stopping and the time
#: budget end real runs sooner), small enough that a typo such as 1e20 is caught at once.
MAX_EPOCHS = 100_000
EPOCHS = click.IntRange(max=MAX_EPOCHS)  # the lower bound is the trainer's ('epochs' >= 1)
SEED = click.IntRange(min=0)


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write standard JSON atomically (temporary file + rename): a crash never leaves half a
    file, and NaN or infinite numbers are written as ``null``."""
    target = Path(path)
    if not target.parent.exists():
        raise RegulabError(f"Cannot write '{target}': folder '{target.parent}' does not exist.")
    try:
        atomic_write(target, dumps_json(payload).encode())
    except OSError as error:
        raise RegulabError(f"Cannot write '{target}': {error.strerror or error}.") from error


def _console() -> Console:
    """A console that prints every string literally: a column named ``[bold]`` stays as is."""
    return Console(markup=False)


def _file_input(path: str | None) -> str | None:
    """``path`` if it names an existing file (an input an output must not replace)."""
    return path if path and Path(path).expanduser().is_file() else None


def _check_outputs(
    outputs: dict[str, str | None], inputs: dict[str, str | None] | None = None
) -> None:
    """Check every output file before any work starts (see
    :func:`regulab._files.check_output_paths`): its folder exists and is writable, it is not a
    folder, and it is neither an input (``--data``, ``--model``, the store) nor another output.
    """
    check_output_paths(outputs, {k: v for k, v in (inputs or {}).items() if v})


def _store_input(path: str | None) -> str | None:
    """The store file ``--store`` names (a folder means the default file in it)."""
    if path is None:
        return None
    from regulab.experiment._store import store_file

    return str(store_file(path))


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
    _console().print(table)


def _resolve_model(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--model`` before any work: an import path ``module:factory`` must resolve
    (the current folder is importable)."""
    if is_custom(value):
        assert value is not None
        resolve_factory(value)
    return value


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
@click.option("--epochs", type=EPOCHS, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
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
    _check_outputs(
        {"--json": json_path, "--save": save_path}, {"--data": _file_input(options["data"])}
    )
    options["dropout"] = parse_rates(options["dropout"])
    if options["elastic_net"] is not None:
        options["elastic_net"] = parse_elastic_net(options["elastic_net"])
    if options["early_stopping"] is not None:
        options["early_stopping"] = parse_early_stopping(options["early_stopping"])
    config = TrainConfig(**options, verbose=0 if quiet else 1)
    summary = run(config)
    if json_path:
        write_json(json_path, summary.to_json())
    if save_path:
        from regulab.io import preprocessing_of, save

        save(
            summary.result.model,
            save_path,
            preprocessing=preprocessing_of(
                summary.dataset, summary.splits.mean, summary.splits.scale
            ),
        )
    print_summary(_console(), summary)
    if save_path:
        click.echo(f"Model saved to {save_path}")


@cli.command("predict")
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A file from `regulab train --save` or `regulab advise --save` (a CNN or factory "
    "model imports and runs its factory).",
)
@click.option("--data", "data_path", required=True, help="CSV or Parquet with the features.")
@click.option("-o", "--output", default="predictions.csv", show_default=True)
@click.option("--target", default=None, help="A column to leave out and copy to the output.")
def predict_command(model_path: str, data_path: str, output: str, target: str | None) -> None:
    """Predict every row of a CSV/Parquet file with a saved model."""
    from regulab.io import predict_file

    _check_outputs({"-o/--output": output}, {"--model": model_path, "--data": data_path})
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


def _check_output(
    path: str | None, label: str = "output", inputs: dict[str, str | None] | None = None
) -> None:
    """Check one output file before any work (see :func:`_check_outputs`)."""
    _check_outputs({label: path}, inputs)


def _check_figures(figures: str | None, report_path: str | None) -> None:
    """``--figures`` writes the report's figures into a folder: refuse it without
    ``--report``, or when it names a file."""
    if figures is None:
        return
    if report_path is None:
        raise RegulabError("--figures writes the report's figures as PNG; add --report FILE.")
    if Path(figures).expanduser().exists() and not Path(figures).expanduser().is_dir():
        raise RegulabError(f"--figures '{figures}' is a file; give a folder for the PNG files.")


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
@click.option("--report", "report_path", default=None, help="Write an HTML report here.")
@click.option("--figures", default=None, help="Also write each figure as PNG in this folder.")
@click.option("--json", "json_path", default=None, help="Write the comparison as JSON here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compare_command(**options: Any) -> None:
    """Compare regularization techniques side by side on the same splits and seeds."""
    from regulab.experiment import DEFAULT_TECHNIQUES, compare

    report_path, figures = options.pop("report_path"), options.pop("figures")
    json_path, quiet = options.pop("json_path"), options.pop("quiet")
    _check_figures(figures, report_path)
    _check_outputs(
        {"--report": report_path, "--json": json_path},
        {"--data": _file_input(options["data"]), "--store": _store_input(options["store"])},
    )
    jobs = options.pop("jobs")
    if jobs is None:
        jobs = os.cpu_count() or 1
    techniques = options.pop("techniques")
    if techniques is None:
        techniques = DEFAULT_TECHNIQUES
    with _store_session(options.pop("store")) as store:
        result = compare(
            options.pop("data"),
            techniques,
            store=store,
            jobs=jobs,
            verbose=0 if quiet else 1,
            **options,
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


@cli.command("diagnose")
@_data_options
@click.option("--seed", type=SEED, default=0, show_default=True)
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

    _check_outputs({"--json": json_path}, {"--data": _file_input(data)})
    dataset = load(data, target=target, task=task, mnist_dir=mnist_dir, seed=seed)
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
@click.option("--json", "json_path", default=None, help="Write the findings as JSON here.")
def diagnose_run_command(history: str, json_path: str | None) -> None:
    """Read a training history CSV (epoch, loss, val_loss[, ...]) and say what went wrong."""
    from regulab.diagnose import diagnose_run

    _check_outputs({"--json": json_path}, {"HISTORY": history})
    result = diagnose_run(history)
    if json_path:
        write_json(json_path, result.to_dict())
    for finding in result.findings:
        click.echo(f"[{finding.kind}] {finding.reading}\n    → {finding.action}")


@cli.command("advise")
@_data_options
@click.option("--interpretable", is_flag=True, help="Favour sparse, linear, explainable answers.")
@click.option(
    "--important-features", default="", help="Comma-separated features the penalty should spare."
)
@click.option("--budget", default="5m", show_default=True, help="Time budget: 90s, 5m, 1h.")
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
@click.option("--report", "report_path", default=None, help="Write an HTML report here.")
@click.option("--figures", default=None, help="Also write each figure as PNG in this folder.")
@click.option("--json", "json_path", default=None, help="Write the advice as JSON here.")
@click.option(
    "--save",
    "save_path",
    default=None,
    help="Refit the recommendation on every row and save it for `regulab predict`.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def advise_command(**options: Any) -> None:
    """Diagnose the data, recommend regularization with reasons, and prove it."""
    from regulab.advise import advise, parse_budget
    from regulab.advise._report import print_advice, write_advice_report

    report_path, figures = options.pop("report_path"), options.pop("figures")
    json_path, quiet = options.pop("json_path"), options.pop("quiet")
    save_path = options.pop("save_path")
    _check_figures(figures, report_path)
    _check_outputs(
        {"--report": report_path, "--json": json_path, "--save": save_path},
        {"--data": _file_input(options["data"]), "--store": _store_input(options["store"])},
    )
    parse_budget(options["budget"])
    important = [f.strip() for f in options.pop("important_features").split(",") if f.strip()]
    with _store_session(options.pop("store")) as store:
        data = options.pop("data")
        advice = advise(
            data,
            important_features=important,
            store=store,
            verbose=0 if quiet else 1,
            **options,
        )
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
    """Refit the recommended model on every row of ``data`` and save it; return the rows."""
    from regulab.advise._refit import save_refit
    from regulab.data import load

    dataset = load(
        data,
        target=options["target"],
        task=options["task"],
        mnist_dir=options["mnist_dir"],
        seed=options["seed"],
    )
    save_refit(advice, dataset, save_path)
    return dataset.n_samples


class _EchoHandler(logging.Handler):
    """Prints Regulab's notes (``logging.INFO`` on the ``regulab`` logger) to stdout, such as
    the task inferred from a target column."""

    def emit(self, record: logging.LogRecord) -> None:
        print_wrapped(_console(), record.getMessage())


@contextmanager
def _notes_printed() -> Iterator[None]:
    logger = logging.getLogger("regulab")
    handler, level = _EchoHandler(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code.

    The error boundary of every command: a :class:`~regulab.errors.RegulabError` (Regulab's
    own verdict on the user's input) or a click usage error is one line on stderr and exit
    code 2. Any other exception is a bug: its traceback goes to stderr and the exit code is 1.
    Set ``REGULAB_DEBUG=1`` to see the traceback of a user error too.
    """
    try:
        with _notes_printed():
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
    except (click.Abort, KeyboardInterrupt):
        click.echo("regulab: interrupted", err=True)
        return 130
    except (RegulabError, click.ClickException) as error:
        if os.environ.get("REGULAB_DEBUG"):
            raise
        text = error.format_message() if isinstance(error, click.ClickException) else str(error)
        message = text.splitlines()[0] if text else type(error).__name__
        click.echo(f"regulab: error: {message}", err=True)
        return EXIT_USAGE
    except Exception:  # a bug, not a user mistake: show where it happened
        traceback.print_exc()
        click.echo(
            "regulab: internal error (a bug in Regulab, not in your input); please report it "
            "with the traceback above.",
            err=True,
        )
        return EXIT_BUG
    return 0


# path, curve and tune live in their own module and use the helpers above.
from regulab._cli_experiments import add_commands  # noqa: E402

add_commands(cli)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
