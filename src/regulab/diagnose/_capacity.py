"""A model's size against the data: parameter counts and the check that a model fits the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from regulab.custom import ModelFactory, build_model, describe_module, factory_reference
from regulab.data import Dataset
from regulab.errors import InvalidParameterError


def count_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of an MLP with these layer sizes.

    Examples
    --------
    >>> count_parameters([784, 128, 64, 10])
    109386
    """
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _check_model_fits(sizes: Sequence[int], p: int, outputs: int, task: str) -> None:
    """Refuse a model that does not fit the data, in the words training uses."""
    if sizes[0] != p:
        suggestion = "-".join(str(s) for s in (p, *sizes[1:]))
        raise InvalidParameterError(
            f"The model's input size is {sizes[0]} but the data has {p} features; "
            f"use a spec starting with {p}, e.g. '{suggestion}'."
        )
    allowed = {outputs} | ({1} if task == "classification" and outputs == 2 else set())
    if sizes[-1] not in allowed:
        what = f"{outputs} classes" if task == "classification" else "a single target column"
        raise InvalidParameterError(
            f"The model's output size is {sizes[-1]} but the data has {what}; the output size "
            f"must be {' or '.join(map(str, sorted(allowed)))}."
        )


def _module_capacity(
    model: str | ModelFactory, dataset: Dataset, outputs: int, seed: int
) -> tuple[str, dict[str, Any]]:
    """The name and :func:`~regulab.custom.describe_module` of a CNN or factory model, built
    for ``dataset`` and checked on two of its rows as training checks it."""
    from regulab.training._common import _targets
    from regulab.training._generic import check_fits

    name = model if isinstance(model, str) else factory_reference(model)
    shape = dataset.image_shape
    module = build_model(
        model,
        input_shape=(1, *shape) if shape else (dataset.n_features,),
        n_outputs=outputs,
        task=dataset.task,
        seed=seed,
    )
    probe = torch.as_tensor(np.asarray(dataset.X[:2], dtype=np.float32))  # forward: 2 rows
    y = _targets(dataset.y, dataset.task, len(dataset.y), "y", probe.device)  # every class
    check_fits(module, probe, y, dataset.task)
    return name, describe_module(module)
