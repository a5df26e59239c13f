"""The set-up every experiment shares: which of its arguments load and split the data and
which are the training settings of the base config all its runs start from.

:func:`~regulab.experiment.compare`, :func:`~regulab.experiment.regularization_path`, the
curves and :func:`~regulab.experiment.tune` take these arguments under the same names and
hand them on, picked by :func:`setup_arguments`, to one
:func:`~regulab.experiment._compare.prepare_experiment`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar

__all__ = [
    "DATA_ARGUMENTS",
    "TRAINING_ARGUMENTS",
    "RUN_DEFAULTS",
    "RunOptions",
    "StackOptions",
    "run_options",
    "setup_arguments",
    "shared_options",
]

_F = TypeVar("_F", bound=Callable[..., Any])

#: How the data is loaded and split (see :func:`~regulab.experiment.prepare_data`).
DATA_ARGUMENTS = (
    "target",
    "task",
    "mnist_dir",
    "data_seed",
    "max_train",
    "categorical",
    "numeric",
    "drop",
)
#: :class:`~regulab.config.TrainConfig` fields an experiment sets for every run.
TRAINING_ARGUMENTS = ("model", "epochs", "batch_size", "lr", "optimizer", "device", "seed")


def setup_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The data and training arguments among ``arguments`` (an experiment's ``locals()``).

    An argument the experiment does not take is left out, so its base config keeps the
    :class:`~regulab.config.TrainConfig` default.

    Examples
    --------
    >>> setup_arguments({"data": "iris", "seeds": 3, "epochs": 5, "data_seed": 1})
    {'data_seed': 1, 'epochs': 5}
    """
    return {
        name: arguments[name]
        for name in (*DATA_ARGUMENTS, *TRAINING_ARGUMENTS)
        if name in arguments
    }


class RunOptions(TypedDict, total=False):
    """The keyword options :func:`~regulab.experiment.tune`, the curves and
    :func:`~regulab.experiment.regularization_path` share (defaults in :data:`RUN_DEFAULTS`).

    Attributes
    ----------
    batch_size, lr : int, float
        Training settings every run shares.
    store : ResultsStore, optional
        Runs are saved there as they finish and reused when the same runs are asked again.
    verbose : int, default=1
        0 silences the progress (and Optuna's log).
    target, task, mnist_dir, max_train, data_seed
        How the data is loaded and split (see :func:`~regulab.experiment.prepare_data`).
    device : str, default="auto"
        Where training runs.
    """

    batch_size: int
    lr: float
    store: Any
    verbose: int
    target: str | None
    task: str | None
    mnist_dir: str | None
    max_train: int | None
    data_seed: int
    device: str


class StackOptions(RunOptions, total=False):
    """:class:`RunOptions` plus ``jobs`` (default 1), the worker processes of the curves and
    the path."""

    jobs: int


#: The default of every shared option, in the order the signatures list them.
RUN_DEFAULTS: dict[str, Any] = {
    "batch_size": 32,
    "lr": 1e-3,
    "store": None,
    "jobs": 1,
    "verbose": 1,
    "target": None,
    "task": None,
    "mnist_dir": None,
    "max_train": None,
    "data_seed": 0,
    "device": "auto",
}


def run_options(owner: str, kind: type, given: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``kind`` (:class:`RunOptions` or :class:`StackOptions`) that ``owner``
    was ``given``, with the defaults of the others; an unknown name is a TypeError, as for
    any function.

    Examples
    --------
    >>> run_options("tune", RunOptions, {"lr": 0.1})["lr"], "jobs" in run_options(
    ...     "tune", RunOptions, {})
    (0.1, False)
    >>> run_options("tune", RunOptions, {"jobs": 2})
    Traceback (most recent call last):
    TypeError: tune() got an unexpected keyword argument 'jobs'
    """
    names = kind.__optional_keys__  # type: ignore[attr-defined]
    for name in given:
        if name not in names:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
    return {
        name: given.get(name, default) for name, default in RUN_DEFAULTS.items() if name in names
    }


def shared_options(kind: type) -> Callable[[_F], _F]:
    """Show the options of ``kind`` that a function takes as ``**options`` as keyword-only
    parameters of its signature (for ``help`` and :func:`inspect.signature`); the function
    itself is returned unchanged."""

    def decorate(func: _F) -> _F:
        signature = inspect.signature(func)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        names = kind.__optional_keys__  # type: ignore[attr-defined]
        hints = typing.get_type_hints(kind)
        shared = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[name]
            )
            for name, default in RUN_DEFAULTS.items()
            if name in names
        ]
        func.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
        return func

    return decorate
