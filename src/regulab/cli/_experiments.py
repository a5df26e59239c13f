"""``regulab path``, ``regulab curve`` and ``regulab tune``: the experiments on the command line.

Each command parses its options, calls one public function of :mod:`regulab.experiment`
(:func:`~regulab.experiment.regularization_path`, :func:`~regulab.experiment.dropout_curve`
or :func:`~regulab.experiment.patience_curve`, :func:`~regulab.experiment.tune`), writes the
optional JSON and HTML report, and prints a table. Every choice shown (λ_min/λ_1se, the best
and one-SE values of a curve, the best trial) is the one the experiment made on validation
data; test figures are printed beside it.

:func:`add_commands` registers the commands on the ``regulab`` group. They reuse the helpers
of :mod:`regulab.cli._common` (data options, store session, output checks, JSON writer).

Examples
--------
>>> import click
>>> from regulab.cli._experiments import add_commands
>>> group = click.Group("demo")
>>> add_commands(group)
>>> sorted(group.commands)
['curve', 'path', 'tune']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from rich.table import Column, Table

from regulab.cli._common import (
    _COLUMN_KEYWORDS,
    _DATA_KEYWORDS,
    _apply,
    _call_in_store,
    _console,
    _data_options,
    _load_data,
    _pop_outputs,
    output_options,
    write_json,
)
from regulab.errors import InvalidParameterError

__all__ = ["add_commands"]

Option = Callable[[Callable[..., Any]], Callable[..., Any]]
Row = dict[str, str]


# -- options shared by the three commands -----------------------------------------------------
def _training_options(epochs: int | None, epochs_help: str) -> list[Option]:
    return [
        click.option(
            "--epochs", type=int, default=epochs, show_default=epochs is not None, help=epochs_help
        ),
        click.option("--batch-size", type=int, default=32, show_default=True),
        click.option("--lr", type=float, default=1e-3, show_default=True),
        click.option(
            "--max-train", type=int, default=None, help="Use at most this many training rows."
        ),
    ]


_SEEDS = click.option(
    "--seeds", type=int, default=3, show_default=True, help="Seeds 0..N-1 at every point."
)
_JOBS = click.option(
    "--jobs", type=int, default=None, help="Worker processes for independent runs (default 1)."
)
_STORE = click.option(
    "--store", default=None, help="SQLite results store: runs are saved, a rerun resumes."
)

PATH_OPTIONS: list[Option] = [
    click.option(
        "--penalty", default="l1", show_default=True, help="l1, l2 or elastic_net (proximal L1)."
    ),
    click.option(
        "--strengths",
        "--steps",
        "n_strengths",
        type=int,
        default=None,
        help="Grid points (default 10; a linear model's exact path: 30).",
    ),
    click.option(
        "--strength-max",
        type=float,
        default=None,
        help="Strongest strength; default computed from the data (l1, elastic_net) or 1.0 (l2).",
    ),
    click.option(
        "--ratio",
        type=float,
        default=1e-3,
        show_default=True,
        help="The weakest strength is strength-max × RATIO.",
    ),
    click.option(
        "--l1-ratio", type=float, default=None, help="Elastic net's L1 share (default 0.5)."
    ),
    click.option(
        "--folds",
        type=int,
        default=None,
        help="A linear model's cross-validation folds of the training+validation rows (5).",
    ),
    click.option(
        "--interpretable",
        is_flag=True,
        help="A linear model: take the sparsest strength within one SE (λ_1se), not λ_min.",
    ),
    click.option(
        "--warm-start/--no-warm-start",
        default=True,
        show_default=True,
        help="Start each point from the previous point's weights (glmnet), or from scratch.",
    ),
    _SEEDS,
    *_training_options(10, "Epochs per run (later warm-started points train half)."),
    _JOBS,
    _STORE,
    *output_options("the result", report=True, figures=True),
]

CURVE_KINDS = ("dropout", "patience")
CURVE_OPTIONS: list[Option] = [
    click.option(
        "--kind",
        type=click.Choice(CURVE_KINDS),
        default=None,
        help="Sweep the dropout rate or early stopping's patience (required).",
    ),
    click.option(
        "--values",
        default=None,
        help="Comma-separated rates (default 0,0.1,0.2,0.3,0.5,0.7) or patiences "
        "(default 0,1,2,3,5,8,13).",
    ),
    click.option(
        "--monitor", default=None, help="What early stopping watches (patience; default val_loss)."
    ),
    _SEEDS,
    *_training_options(None, "Epochs per run (default 10 for dropout, 50 for patience)."),
    _JOBS,
    _STORE,
    *output_options("the result", report=True, figures=True),
]

TUNE_OPTIONS: list[Option] = [
    click.option(
        "--trials",
        "n_trials",
        type=int,
        default=None,
        help="Trials in the study (default 20; with --timeout alone, as many as fit).",
    ),
    click.option(
        "--timeout", type=float, default=None, help="Seconds after which no new trial starts."
    ),
    click.option(
        "--techniques",
        default=None,
        help="Comma-separated techniques to search among l1, l2, elastic_net, weight_decay, "
        "dropout, input_dropout, batchnorm, early_stopping (default l1,l2,dropout,"
        "early_stopping).",
    ),
    click.option("--optimizer", default="adam", show_default=True, help="adam, adamw or sgd."),
    click.option(
        "--seed", type=int, default=0, show_default=True, help="Seeds the sampler and the trials."
    ),
    click.option(
        "--pruning/--no-pruning",
        default=True,
        show_default=True,
        help="Stop trials below the median of earlier trials at the same epoch.",
    ),
    click.option(
        "--startup-trials", type=int, default=None, help="Trials never pruned (default 5)."
    ),
    click.option(
        "--warmup-epochs",
        type=int,
        default=None,
        help="Epochs before a trial can be pruned (default epochs // 4).",
    ),
    *_training_options(20, "Maximum epochs per trial."),
    _STORE,
    *output_options("the result", report=True),
]


def _only_with(option: str, condition: str, got: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"The '{option}' option applies only with {condition}. Got {got} instead."
    )


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show the experiment's warnings as one ``regulab: warning:`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for warning in caught:
        click.echo(f"regulab: warning: {warning.message}", err=True)


def _run(function: Callable[..., Any], options: dict[str, Any], quiet: bool, **fixed: Any) -> Any:
    """Call the experiment ``function`` on ``--data`` in the ``--store`` session, warnings as
    lines, with ``fixed`` and the command's other ``options`` as keywords."""
    data = options.pop("data")
    loaded = any(options[name] for name in _COLUMN_KEYWORDS)
    if loaded:  # a table with the user's column kinds, loaded here
        data = _load_data(data, options)
    for name in _DATA_KEYWORDS if loaded else _COLUMN_KEYWORDS:
        del options[name]
    with _warnings_as_lines():
        return _call_in_store(function, data, options, quiet, **fixed)


def _reused(count: int, what: str) -> str:
    """The line saying how many runs or trials came from the store (empty for none)."""
    return f"{count} {what} from the store." if count else ""


def _g(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "—"


def _mean_se(mean: float, se: float) -> str:
    """``mean ± se``, or ``—`` for a point whose runs diverged."""
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4f} ± {se:.4f}" if math.isfinite(se) else f"{mean:.4f}"


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def _print_table(title: str, rows: Sequence[Row]) -> None:
    """Rows of plain strings as a Rich table; user strings are never read as markup."""
    if not rows:
        return
    columns = [Column(key, overflow="fold") for key in rows[0]]
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row.values())
    _console().print(table)


@dataclass
class _Shown:
    """What a command prints, and the choice table that leads its report.

    ``rows`` are plain strings (one dict per point or trial) and ``marks`` say which rows were
    chosen; the same rows feed the terminal table and the report's table.
    """

    title: str
    rows: list[Row]
    marks: list[str]
    sentence: str
    reused: str
    report_title: str
    section: tuple[str, str]
    report_options: dict[str, Any] = field(default_factory=dict)


def _write_report(result: Any, shown: _Shown, path: str, figures: str | None) -> None:
    """The HTML report of ``result.records``, led by the table of the choice made."""
    from regulab.report import section, table_html, write_report

    table = table_html(
        [{**row, "choice": mark} for row, mark in zip(shown.rows, shown.marks)],
        row_classes=["best" if mark else "" for mark in shown.marks],
    )
    write_report(
        result.records,
        path,
        title=shown.report_title,
        figures_dir=figures,
        lead_sections=[section(*shown.section, table, lead=shown.sentence)],
        dataset=str(result.data.get("name", "")) or None,
        **shown.report_options,
    )


def _finish(
    result: Any,
    shown: _Shown,
    *,
    json_path: str | None,
    report_path: str | None,
    figures: str | None = None,
) -> None:
    """Write the JSON and the report first (nothing printed can lose them), then print."""
    if json_path:
        write_json(json_path, result.to_json())
    if report_path:
        _write_report(result, shown, report_path, figures)
    _print_table(shown.title, [{**row, "": mark} for row, mark in zip(shown.rows, shown.marks)])
    click.echo(shown.sentence)
    if shown.reused:
        click.echo(shown.reused)
    if report_path:
        click.echo(f"Report written to {report_path}")


# -- regulab path -----------------------------------------------------------------------------
def _path_rows(result: Any) -> list[Row]:
    return [
        {
            "strength": _g(strength),
            _label(result.metric): _mean_se(result.val_mean[i], result.val_se[i]),
            _label(result.test_metric): _mean_se(result.test_mean[i], result.test_se[i]),
            "non-zero W1": _g(result.first_nonzero_mean[i]),
            "non-zero": _g(result.nonzero_mean[i]),
            "epochs": str(result.epochs[i]),
        }
        for i, strength in enumerate(result.strengths)
    ]


def _marks(values: Sequence[float], chosen: Sequence[tuple[str, float]]) -> list[str]:
    return [", ".join(name for name, pick in chosen if pick == value) for value in values]


def _path_sentence(result: Any) -> str:
    if not math.isfinite(result.lambda_min):
        return f"No strength gave a finite mean {_label(result.metric)}: every point diverged."
    test_mean, test_se = result.test_at_1se
    return (
        f"λ_min = {_g(result.lambda_min)} has the best mean {_label(result.metric)}; "
        f"λ_1se = {_g(result.lambda_1se)} is the strongest penalty within one standard error "
        f"of it. {_label(result.test_metric).capitalize()} at λ_1se: "
        f"{_mean_se(test_mean, test_se)} (reported, not used to choose)."
    )


def _is_linear(model: str | None) -> bool:
    """Whether ``--model`` asks for a linear model: ``linear`` or sizes without a hidden layer."""
    from regulab.custom import is_custom
    from regulab.models import parse_sizes

    if model == "linear":
        return True
    if not model or model == "cnn" or is_custom(model):
        return False
    try:
        return len(parse_sizes(model)) == 2
    except InvalidParameterError:
        return False  # the network path reports the bad spec


#: Options of a network's path that an exact linear path has no use for.
_NETWORK_ONLY = ("seeds", "epochs", "batch_size", "lr", "warm_start", "jobs", "store")
_LINEAR_ONLY = (("--folds", "folds"), ("--interpretable", "interpretable"))
_SHOWN_STEPS = 16  # a longer path shows the ends and the steps around the picks


def _shown_steps(n: int, picks: Sequence[int]) -> list[int]:
    if n <= _SHOWN_STEPS:
        return list(range(n))
    near = {i + d for i in picks for d in range(-2, 3)} | {0, 1, n - 1}
    return sorted(i for i in near if 0 <= i < n)


def _score_name(scoring: str) -> str:
    return "log loss" if scoring == "neg_log_loss" else "MSE (standardized y)"


def _linear_step(result: Any, index: int) -> str:
    """``strength 0.0123: 14 nonzero weights, CV log loss 0.2345 ± 0.0123``."""
    return (
        f"strength {_g(result.strengths[index])}: {result.nonzero[index]} nonzero weights, "
        f"CV {_score_name(result.scoring)} "
        f"{_mean_se(-result.cv_mean[index], result.cv_se[index])}"
    )


def _print_linear_path(result: Any) -> None:
    from regulab._terminal import Col, fitted_table, print_wrapped
    from regulab.experiment._linear_path import RULE_NAMES

    n = len(result.strengths)
    marks = {result.lambda_min_index: ["λ_min"]}
    marks.setdefault(result.lambda_1se_index, []).append("λ_1se")
    shown = _shown_steps(n, list(marks))
    cells, previous = [], -1
    for i in shown:
        if i > previous + 1:
            cells.append(["…", "", "", "", ""])
        mark = ", ".join(marks.get(i, [])) + (" (chosen)" if i == result.chosen_index else "")
        cells.append(
            [
                str(i + 1),
                _g(result.strengths[i]),
                str(result.nonzero[i]),
                _mean_se(-result.cv_mean[i], result.cv_se[i]),
                mark,
            ]
        )
        previous = i
    columns = [
        Col("step"),
        Col("strength"),
        Col("nonzero"),
        Col(f"CV {_score_name(result.scoring)} ± SE"),
        Col("", numeric=False),
    ]
    name = str(result.data.get("name", ""))
    title = f"{name}: exact {result.penalty} path, {result.folds}-fold CV"
    console = _console()
    console.print(fitted_table(console, columns, cells, title))
    if len(shown) < n:
        click.echo(f"{n - len(shown)} of {n} steps hidden (--json has all of them).")
    chosen, other = ("min", "1se") if result.rule == "min" else ("1se", "min")
    print_wrapped(
        console,
        f"λ_{chosen} ({RULE_NAMES[chosen]}) chose {_linear_step(result, result.chosen_index)}. "
        f"λ_{other} ({RULE_NAMES[other]}) would give "
        f"{_linear_step(result, result.other_index)}.",
    )
    print_wrapped(
        console,
        f"{_label(result.test_metric).capitalize()} of the chosen model, fitted on the training "
        f"and validation rows: {result.test_score:.4f} (reported, not used to choose).",
    )


def _linear_path_command(options: dict[str, Any], json_path: str | None, quiet: bool) -> None:
    """``regulab path`` for a linear model: the whole path solved exactly, chosen by CV."""
    from click.core import ParameterSource

    from regulab.experiment import linear_regularization_path

    context = click.get_current_context()
    for name in _NETWORK_ONLY:
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT:
            raise _only_with(
                f"--{name.replace('_', '-')}",
                "a network model (a linear model's path is solved exactly)",
                f"--model {options['model']}",
            )
        if name != "store":  # _run opens the store, None here
            options.pop(name)
    if options["n_strengths"] is None:
        options["n_strengths"] = 30
    options["n_steps"] = options.pop("n_strengths")
    options["rule"] = "1se" if options.pop("interpretable") else "min"
    if options["folds"] is None:
        options["folds"] = 5

    def solve(data: Any, store: Any, verbose: int, **arguments: Any) -> Any:
        return linear_regularization_path(data, **arguments)

    result = _run(solve, options, quiet)
    if json_path:
        write_json(json_path, result.to_json())
    _print_linear_path(result)


def path_command(**options: Any) -> None:
    """Train a grid of penalty strengths, strongest first, and pick λ_min and λ_1se (glmnet).

    A linear model's path (``--model linear``) is solved exactly and chosen by cross-validation.
    """
    from regulab.experiment import regularization_path

    report_path, figures, json_path, _, quiet = _pop_outputs(options)
    if options["l1_ratio"] is None:
        options["l1_ratio"] = 0.5
    elif options["penalty"] != "elastic_net":
        raise _only_with("--l1-ratio", "--penalty elastic_net", f"--penalty {options['penalty']}")
    if _is_linear(options["model"]):
        if report_path:
            raise _only_with(
                "--report",
                "a network model (a linear path prints and writes --json)",
                f"--model {options['model']}",
            )
        _linear_path_command(options, json_path, quiet)
        return
    for option, key in _LINEAR_ONLY:
        if options.pop(key):
            raise _only_with(
                option,
                "a linear model (--model linear, or sizes without a hidden layer)",
                f"--model {options['model'] or 'default network'}",
            )
    if options["n_strengths"] is None:
        options["n_strengths"] = 10
    jobs = options.pop("jobs")
    if jobs is not None and options["warm_start"]:
        raise _only_with("--jobs", "--no-warm-start (a warm path runs in order)", f"--jobs {jobs}")
    result = _run(regularization_path, options, quiet, jobs=1 if jobs is None else jobs)
    name = str(result.data.get("name", ""))
    shown = _Shown(
        title=f"{name}: {result.penalty} path",
        rows=_path_rows(result),
        marks=_marks(
            result.strengths, [("λ_min", result.lambda_min), ("λ_1se", result.lambda_1se)]
        ),
        sentence=_path_sentence(result),
        reused=_reused(result.resumed, "run(s) reused"),
        report_title=f"{result.penalty} path on {name}",
        section=("path-choice", "Choice of strength"),
        report_options={
            "path_summaries": {
                result.penalty: {"lambda_min": result.lambda_min, "lambda_1se": result.lambda_1se}
            }
        },
    )
    _finish(result, shown, json_path=json_path, report_path=report_path, figures=figures)


# -- regulab curve ----------------------------------------------------------------------------
def _parse_values(text: str, kind: str) -> list[float] | list[int]:
    items = [item.strip() for item in text.split(",")]
    try:
        if not all(items):
            raise ValueError(text)
        if kind == "patience":
            return [int(item) for item in items]
        return [float(item) for item in items]
    except ValueError:
        what = "whole patiences such as 0,2,5" if kind == "patience" else "rates such as 0,0.2,0.5"
        raise InvalidParameterError(
            f"The '--values' option of curve --kind {kind} takes comma-separated {what}. "
            f"Got {text!r} instead."
        ) from None


def _curve_rows(result: Any) -> list[Row]:
    return [
        {
            result.parameter: f"{value:g}",
            _label(result.metric): _mean_se(result.val_mean[i], result.val_se[i]),
            _label(result.test_metric): _mean_se(result.test_mean[i], result.test_se[i]),
            "epochs": _g(result.epochs_mean[i]),
        }
        for i, value in enumerate(result.values)
    ]


def _curve_sentence(result: Any) -> str:
    name = "dropout rate" if result.parameter == "rate" else "patience"
    if not math.isfinite(result.best):
        return f"No {name} gave a finite mean {_label(result.metric)}: every run diverged."
    simpler = "lowest rate" if result.parameter == "rate" else "shortest patience"
    index = result.values.index(result.one_se)
    return (
        f"The {name} {result.best:g} has the best mean {_label(result.metric)}; {result.one_se:g} "
        f"is the {simpler} within one standard error of it (one-SE choice). "
        f"{_label(result.test_metric).capitalize()} at {result.one_se:g}: "
        f"{_mean_se(result.test_mean[index], result.test_se[index])} (reported, not used to "
        "choose)."
    )


def curve_command(**options: Any) -> None:
    """Sweep the dropout rate or early stopping's patience and pick a value (one-SE rule)."""
    from regulab.experiment import dropout_curve, patience_curve

    report_path, figures, json_path, _, quiet = _pop_outputs(options)
    kind, values, monitor = options.pop("kind"), options.pop("values"), options.pop("monitor")
    if kind is None:  # checked here: click's own message spans several lines
        raise InvalidParameterError(
            f"The '--kind' option of curve is required: one of {', '.join(CURVE_KINDS)}."
        )
    function: Callable[..., Any]
    if kind == "dropout":
        if monitor is not None:
            raise _only_with("--monitor", "--kind patience", "--kind dropout")
        function, values_name = dropout_curve, "rates"
    else:
        function, values_name = patience_curve, "patiences"
        if monitor is not None:
            options["monitor"] = monitor
    if values is not None:
        options[values_name] = _parse_values(values, kind)
    if options["epochs"] is None:
        del options["epochs"]
    jobs = options.pop("jobs")
    result = _run(function, options, quiet, jobs=1 if jobs is None else jobs)
    name = str(result.data.get("name", ""))
    shown = _Shown(
        title=f"{name}: {kind} curve",
        rows=_curve_rows(result),
        marks=_marks(result.values, [("best", result.best), ("one-SE", result.one_se)]),
        sentence=_curve_sentence(result),
        reused=_reused(result.resumed, "run(s) reused"),
        report_title=f"{kind.capitalize()} curve on {name}",
        section=("curve-choice", f"Choice of {kind}"),
    )
    _finish(result, shown, json_path=json_path, report_path=report_path, figures=figures)


# -- regulab tune -----------------------------------------------------------------------------
def _tune_rows(result: Any) -> list[Row]:
    def value(number: Any) -> str:
        return f"{number:.4f}" if isinstance(number, float) and math.isfinite(number) else "—"

    return [
        {
            "trial": str(trial["number"]),
            "state": str(trial["state"]).lower(),
            "config": str(trial["config"] or "—"),
            _label(result.metric): value(trial["value"]),
            _label(result.test_metric): value(trial["test_value"]),
            "epochs": str(trial["epochs_run"] if trial["epochs_run"] is not None else "—"),
        }
        for trial in result.trials
    ]


def _tune_sentence(result: Any) -> str:
    return (
        f"Best trial #{result.best_trial}: {result.best_config} ({_label(result.metric)} "
        f"{result.best_value:.4f}; {_label(result.test_metric)} {result.best_test_value:.4f}, "
        f"reported, not used to choose). {result.n_complete} complete, {result.n_pruned} pruned."
    )


def tune_command(**options: Any) -> None:
    """Search regularization settings with Optuna (TPE sampler, median pruning)."""
    from regulab.experiment import tune

    report_path, _, json_path, _, quiet = _pop_outputs(options)
    if options["n_trials"] is None and options["timeout"] is None:
        options["n_trials"] = 20
    if not options["pruning"]:
        for option, key in (
            ("--startup-trials", "startup_trials"),
            ("--warmup-epochs", "warmup_epochs"),
        ):
            if options[key] is not None:
                raise _only_with(option, "pruning on", "--no-pruning")
    startup, warmup = options.pop("startup_trials"), options.pop("warmup_epochs")
    if startup is not None:
        options["n_startup_trials"] = startup
    if options["techniques"] is None:
        del options["techniques"]
    result = _run(tune, options, quiet, n_warmup_steps=warmup)
    name = str(result.data.get("name", ""))
    shown = _Shown(
        title=f"{name}: tuning {', '.join(result.techniques)}",
        rows=_tune_rows(result),
        marks=["best" if t["number"] == result.best_trial else "" for t in result.trials],
        sentence=_tune_sentence(result),
        reused=_reused(result.resumed, "trial(s) replayed"),
        report_title=f"Tuning on {name}",
        section=("tuning", "Tuning trials"),
    )
    _finish(result, shown, json_path=json_path, report_path=report_path)


# -- registration -----------------------------------------------------------------------------
_COMMANDS: tuple[tuple[str, Callable[..., None], list[Option]], ...] = (
    ("path", path_command, PATH_OPTIONS),
    ("curve", curve_command, CURVE_OPTIONS),
    ("tune", tune_command, TUNE_OPTIONS),
)


def add_commands(group: click.Group) -> None:
    """Register ``path``, ``curve`` and ``tune`` on ``group`` with :mod:`regulab.cli`'s data
    options (``--data``, ``--target``, ``--task``, ``--mnist-dir``, ``--model``)."""
    for name, function, options in _COMMANDS:
        group.add_command(click.command(name)(_data_options(_apply(options)(function))))
