"""What every ``regulab`` command shares: the click group, the error boundary and the helpers.

The error boundary is :func:`main`: a user mistake (a :class:`~regulab.errors.RegulabError`
or a click usage error) becomes one line on stderr and exit code 2; anything else is a bug and
shows its traceback (exit code 1).

Commands share a few helpers: :func:`_data_options` (the data flags), :func:`_store_session`
(a results store checked before any work), :func:`_check_outputs` (output files checked before
any work, never an input), :func:`write_json` (standard JSON, ``null`` for NaN) and
:func:`_console` (user strings printed literally, no Rich markup). This module imports no
command module; the command modules import it and register on :func:`cli`.

Examples
--------
>>> from regulab.cli._common import cli
>>> cli.name
'cli'
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from regulab._files import atomic_write, check_output_paths, dumps_json
from regulab._terminal import print_wrapped
from regulab._version import __version__
from regulab.custom import is_custom, resolve_factory
from regulab.errors import RegulabError

__all__ = ["EPOCHS", "SEED", "cli", "main", "output_options", "write_json"]

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


def _resolve_model(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--model`` before any work: an import path ``module:factory`` must resolve
    (the current folder is importable)."""
    if is_custom(value):
        assert value is not None
        resolve_factory(value)
    return value


def _column_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple:
    """``a,b`` as ``("a", "b")`` (spaces around names stripped, empty items skipped)."""
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


def output_options(
    what: str,
    *,
    report: bool = False,
    figures: bool = False,
    save: str | None = None,
    quiet: bool = True,
) -> list[Callable[[Any], Any]]:
    """The output options that :func:`_pop_outputs` reads, in ``--help`` order.

    ``--report`` and ``--figures`` when asked; ``--json`` (it writes ``what``); ``--save``
    with ``save`` (its help: what is saved); ``--quiet`` with ``quiet``.
    """
    options = []
    if report:
        options.append(
            click.option("--report", "report_path", default=None, help="Write an HTML report here.")
        )
    if figures:
        options.append(
            click.option(
                "--figures",
                default=None,
                help="Also write each report figure as PNG here (with --report).",
            )
        )
    options.append(
        click.option("--json", "json_path", default=None, help=f"Write {what} as JSON here.")
    )
    if save is not None:
        options.append(
            click.option("--save", "save_path", default=None, help=f"{save} for `regulab predict`.")
        )
    if quiet:
        options.append(click.option("--quiet", is_flag=True, help="No progress output."))
    return options


def _apply(options: Sequence[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """One decorator applying ``options`` so that ``--help`` lists them in order."""

    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


#: ``--categorical``, ``--numeric`` and ``--drop``: the column kinds a user sets on a table.
COLUMN_OPTIONS = [
    click.option(
        "--categorical",
        default=None,
        callback=_column_list,
        help="Comma-separated columns of a table to encode as categories (e.g. a,b).",
    ),
    click.option(
        "--numeric",
        default=None,
        callback=_column_list,
        help="Comma-separated columns of a table to read as numbers.",
    ),
    click.option(
        "--drop",
        default=None,
        callback=_column_list,
        help="Comma-separated columns of a table to leave out.",
    ),
]


def _column_options(function: Any) -> Any:
    """Add :data:`COLUMN_OPTIONS` to a command."""
    return _apply(COLUMN_OPTIONS)(function)


def _data_options(function: Any) -> Any:
    """The options every data-reading command shares (the column kinds of a table too)."""
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
        *COLUMN_OPTIONS,
    ]
    return _apply(options)(function)


#: The options of :func:`_data_options` that :func:`regulab.data.load` takes by keyword.
_COLUMN_KEYWORDS = ("categorical", "numeric", "drop")
_DATA_KEYWORDS = ("target", "task", "mnist_dir", *_COLUMN_KEYWORDS)


def _load_data(data: str, options: Mapping[str, Any], **extra: Any) -> Any:
    """Load ``data`` with the data options among ``options`` (``--target``, ``--task``,
    ``--mnist-dir`` and the column kinds) and ``extra`` keywords of
    :func:`regulab.data.load` (such as ``seed``)."""
    from regulab.data import load

    return load(data, **{name: options[name] for name in _DATA_KEYWORDS}, **extra)


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


def _call_in_store(
    function: Callable[..., Any], data: Any, options: dict[str, Any], quiet: bool, **fixed: Any
) -> Any:
    """Call ``function`` on ``data`` in the ``--store`` session (popped from ``options``),
    with a progress bar unless ``quiet``, ``fixed`` and the command's other ``options`` as
    keywords."""
    with _store_session(options.pop("store")) as store:
        return function(data, store=store, verbose=0 if quiet else 1, **fixed, **options)


def _check_figures(figures: str | None, report_path: str | None) -> None:
    """``--figures`` writes the report's figures into a folder: refuse it without
    ``--report``, or when it names a file."""
    if figures is None:
        return
    if report_path is None:
        raise RegulabError("--figures writes the report's figures as PNG; add --report FILE.")
    if Path(figures).expanduser().exists() and not Path(figures).expanduser().is_dir():
        raise RegulabError(f"--figures '{figures}' is a file; give a folder for the PNG files.")


def _pop_outputs(
    options: dict[str, Any],
) -> tuple[str | None, str | None, str | None, str | None, bool]:
    """Pop ``--report``, ``--figures``, ``--json``, ``--save`` (those the command has) and
    ``--quiet``, and check the output files before any work: none may replace the data file,
    the store or another output.

    Returns ``(report_path, figures, json_path, save_path, quiet)``.
    """
    report_path, figures = options.pop("report_path", None), options.pop("figures", None)
    json_path, save_path = options.pop("json_path", None), options.pop("save_path", None)
    _check_figures(figures, report_path)
    _check_outputs(
        {"--report": report_path, "--json": json_path, "--save": save_path},
        {"--data": _file_input(options["data"]), "--store": _store_input(options.get("store"))},
    )
    return report_path, figures, json_path, save_path, options.pop("quiet")


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
