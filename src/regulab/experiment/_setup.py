"""The set-up every experiment shares: which of its arguments load and split the data and
which are the training settings of the base config all its runs start from.

:func:`~regulab.experiment.compare`, :func:`~regulab.experiment.regularization_path`, the
curves and :func:`~regulab.experiment.tune` take these arguments under the same names and
hand them on, picked by :func:`setup_arguments`, to one
:func:`~regulab.experiment._compare.prepare_experiment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DATA_ARGUMENTS", "TRAINING_ARGUMENTS", "setup_arguments"]

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
