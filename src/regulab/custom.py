"""Models other than the MLP: the built-in CNN and a user's own model factory.

A *model factory* is any callable that returns a ``torch.nn.Module``, named by an import
path ``"package.module:function"`` (as uvicorn and Lightning's CLI do) or passed as the
callable itself. Regulab calls it with the keyword arguments its signature accepts:

==================  ===============================================================
``input_shape``     one sample's shape: ``(1, H, W)`` for image data, ``(features,)``
``n_features``      inputs per sample, flattened
``n_outputs``       classes (1 for binary or regression)
``task``            ``"classification"`` or ``"regression"``
``seed``            the run's seed (weights are seeded anyway)
``dropout``         the ``dropout`` technique's rate, or its tuple of rates
``input_dropout``   the ``input_dropout`` technique's rate
``batchnorm``       ``True`` when the ``batchnorm`` technique is on
==================  ===============================================================

Penalties and early stopping apply to any module. Dropout and batch norm are architecture:
when the factory has no ``dropout`` argument, the rate is set on the module's own
``nn.Dropout*`` layers; a module without any, or a factory without ``batchnorm`` (or
``input_dropout``), cannot take the technique and says so in one sentence.

On image data (MNIST, digits: feature names ``px_ROW_COL``) the model receives samples of
shape ``(1, H, W)``; flat rows are reshaped on the way in.

Examples
--------
>>> from torch import nn
>>> def make_net(n_features, n_outputs, dropout=0.0):
...     return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Dropout(dropout),
...                          nn.Linear(8, n_outputs))
>>> model = build_model(make_net, input_shape=(4,), n_outputs=3, task="classification",
...                     dropout=(0.5,), seed=0)
>>> model[2].p
0.5
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from regulab.errors import InvalidParameterError, did_you_mean
from regulab.models import CNN

__all__ = [
    "ModelFactory",
    "is_custom",
    "resolve_factory",
    "factory_reference",
    "build_model",
    "image_shape_of",
    "describe_module",
    "recipe",
    "rebuild",
    "refuse_custom",
    "importable",
]

ModelFactory = Callable[..., nn.Module]
_REGISTERED: dict[str, ModelFactory] = {}
_PIXEL = re.compile(r"px_(\d+)_(\d+)")
_TECHNIQUE_ARGUMENTS = ("dropout", "input_dropout", "batchnorm", "activation")
_RECIPE = "_regulab_recipe"  # the attribute build_model leaves on the module it made
_RECIPE_KEYS = ("factory", "kwargs", "layer_dropout", "input_shape", "n_outputs", "task", "seed")


def is_custom(model: str | None) -> bool:
    """True for ``"cnn"`` and for import paths ``"module:factory"``.

    Examples
    --------
    >>> is_custom("cnn"), is_custom("pkg.nets:make"), is_custom("64-32-10"), is_custom(None)
    (True, True, False, False)
    """
    return model is not None and (model == "cnn" or ":" in model)


def factory_reference(factory: ModelFactory) -> str:
    """The ``"module:qualname"`` that names ``factory`` in configs and stores.

    A factory that cannot be imported by that name (defined in ``__main__`` or inside a
    function) is remembered in this process, so it still works here, though not in
    worker processes.
    """
    if not callable(factory):
        raise InvalidParameterError(
            f"The 'model' parameter must be layer sizes, 'cnn', an import path "
            f"'module:factory' or a callable returning a torch.nn.Module. Got {factory!r}."
        )
    reference = f"{factory.__module__}:{factory.__qualname__}"
    try:
        importable = _import(reference) is factory
    except InvalidParameterError:
        importable = False
    if not importable:
        _REGISTERED[reference] = factory
    return reference


def importable(reference: str) -> bool:
    """False for a factory only this process knows (see :func:`factory_reference`)."""
    return reference not in _REGISTERED


def resolve_factory(reference: str) -> ModelFactory:
    """The callable named by ``"package.module:function"`` (``"cnn"``: the built-in CNN).

    The current folder is importable, as in ``python -m``.

    Examples
    --------
    >>> resolve_factory("regulab.models:CNN").__name__
    'CNN'
    """
    if reference == "cnn":
        return CNN
    if reference in _REGISTERED:
        return _REGISTERED[reference]
    return _import(reference)


def _import(reference: str) -> ModelFactory:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise InvalidParameterError(
            f"The model '{reference}' must be layer sizes such as 64-128-10, 'linear', 'cnn', "
            "or an import path 'package.module:factory'."
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidParameterError(
            f"Cannot import '{module_name}' for the model '{reference}': {error}."
        ) from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            raise InvalidParameterError(
                f"'{module_name}' has no attribute '{attribute}' for the model '{reference}'."
                + did_you_mean(part, names)
            )
        target = getattr(target, part)
    if not callable(target):
        raise InvalidParameterError(
            f"The model '{reference}' names a {type(target).__name__}, not a callable that "
            "returns a torch.nn.Module."
        )
    return target


def image_shape_of(feature_names: Sequence[str]) -> tuple[int, int] | None:
    """``(H, W)`` when the features are Regulab's pixel names ``px_ROW_COL``, row by row.

    Examples
    --------
    >>> image_shape_of([f"px_{r}_{c}" for r in range(2) for c in range(3)])
    (2, 3)
    >>> image_shape_of(["age", "income"]) is None
    True
    """
    match = _PIXEL.fullmatch(feature_names[-1]) if feature_names else None
    if match is None:
        return None
    rows, cols = int(match.group(1)) + 1, int(match.group(2)) + 1
    expected = [f"px_{r}_{c}" for r in range(rows) for c in range(cols)]
    return (rows, cols) if list(feature_names) == expected else None


def _accepts(signature: inspect.Signature | None) -> Callable[[str], bool]:
    if signature is None:
        return lambda name: False
    params = signature.parameters
    any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return lambda name: (
        any_keyword
        or (
            name in params
            and params[name].kind
            in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
    )


def build_model(
    factory: ModelFactory | str,
    *,
    input_shape: Sequence[int],
    n_outputs: int,
    task: str,
    dropout: Sequence[float] = (),
    input_dropout: float = 0.0,
    batchnorm: bool = False,
    activation: str | None = None,
    seed: int = 0,
) -> nn.Module:
    """Call the factory with what its signature accepts and apply the techniques.

    Raises
    ------
    InvalidParameterError
        When the factory fails, returns something other than a module, or cannot take a
        technique that was asked for.
    """
    if isinstance(factory, str):
        name, factory = factory, resolve_factory(factory)
    else:
        name = _name_of(factory)
    shape = tuple(int(s) for s in input_shape)
    values: dict[str, Any] = {
        "input_shape": shape,
        "n_features": int(torch.Size(shape).numel()),
        "n_outputs": int(n_outputs),
        "task": task,
        "seed": int(seed),
    }
    asked: dict[str, Any] = {}
    if dropout:
        asked["dropout"] = float(dropout[0]) if len(dropout) == 1 else tuple(dropout)
    if input_dropout:
        asked["input_dropout"] = float(input_dropout)
    if batchnorm:
        asked["batchnorm"] = True
    if activation is not None and activation != "relu":
        asked["activation"] = activation
    try:
        signature: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    accepts = _accepts(signature)
    kwargs = {k: v for k, v in {**values, **asked}.items() if accepts(k)}
    if signature is not None:
        missing = [
            p.name
            for p in signature.parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            and p.name not in kwargs
        ]
        if missing:
            raise InvalidParameterError(
                f"The model factory {name} requires '{missing[0]}', which Regulab does not "
                f"supply; it passes {', '.join(values)} and the techniques' "
                f"{', '.join(_TECHNIQUE_ARGUMENTS)}."
            )
    refused = [k for k in asked if k not in kwargs and k != "dropout"]
    if refused:
        raise InvalidParameterError(
            f"The model factory {name} takes no '{refused[0]}' argument, so the "
            f"{refused[0]} technique cannot change its architecture; add a {refused[0]}= "
            "keyword to the factory or leave the technique out."
        )
    layer_dropout = asked["dropout"] if "dropout" in asked and "dropout" not in kwargs else None
    model = _call(factory, name, kwargs, layer_dropout, shape, seed)
    setattr(
        model,
        _RECIPE,
        {
            "factory": name,
            "kwargs": _json_safe({**_bound_keywords(factory), **kwargs}),
            "layer_dropout": _json_safe(layer_dropout),
            "input_shape": list(shape),
            "n_outputs": int(n_outputs),
            "task": task,
            "seed": int(seed),
        },
    )
    return model


def _name_of(factory: Any) -> str:
    """``"module:qualname"`` of a factory; a partial without positional arguments is named
    by the function it wraps (its keywords are recorded with the arguments)."""
    if isinstance(factory, functools.partial) and not factory.args:
        return _name_of(factory.func)
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', factory)}"


def _bound_keywords(factory: Any) -> dict[str, Any]:
    """The keywords a ``functools.partial`` factory fixes (none for anything else)."""
    if isinstance(factory, functools.partial) and not factory.args:
        return {**_bound_keywords(factory.func), **factory.keywords}
    return {}


def _call(
    factory: ModelFactory,
    name: str,
    kwargs: dict[str, Any],
    layer_dropout: float | tuple[float, ...] | None,
    shape: tuple[int, ...],
    seed: int,
) -> nn.Module:
    """Call the factory (seeded), check it made a module, set dropout layers, and reshape
    flat rows to ``shape`` when the factory takes ``input_shape``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = factory(**kwargs)
        except Exception as error:  # the user's code: report it as one line
            detail = str(error).splitlines()[0] if str(error) else ""
            raise InvalidParameterError(
                f"The model factory {name} raised {type(error).__name__}: {detail}"
            ) from error
    if not isinstance(model, nn.Module):
        raise InvalidParameterError(
            f"The model factory {name} returned a {type(model).__name__}, not a torch.nn.Module."
        )
    if layer_dropout is not None:
        _set_dropout(model, layer_dropout, name)
    # flat rows become images only for a factory that asked for the sample's shape
    if len(shape) > 1 and "input_shape" in kwargs and not isinstance(model, CNN):
        model.register_forward_pre_hook(_reshape_hook(shape))
    return model


def _json_safe(value: Any) -> Any:
    """Tuples as lists: what JSON stores (:func:`rebuild` turns lists back into tuples)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_json_safe(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def recipe(model: nn.Module) -> dict[str, Any] | None:
    """How :func:`build_model` made ``model`` (JSON-safe), or None for any other module.

    ``factory`` (``"cnn"`` or ``"module:factory"``; a ``functools.partial`` by the function
    it wraps), ``kwargs`` (what the factory was called with, a partial's keywords
    included), ``layer_dropout`` (the rate(s) set on the module's own dropout layers, or
    None), ``input_shape`` (one sample), ``n_outputs``, ``task`` and ``seed``: what a model
    file stores to build the same module again (:func:`rebuild`).

    Examples
    --------
    >>> model = build_model("cnn", input_shape=(1, 8, 8), n_outputs=10,
    ...                     task="classification", batchnorm=True)
    >>> recipe(model)["kwargs"]["batchnorm"], recipe(model)["input_shape"]
    (True, [1, 8, 8])
    """
    found = getattr(model, _RECIPE, None)
    return dict(found) if isinstance(found, dict) else None


def rebuild(entry: dict[str, Any], factory: ModelFactory | None = None) -> nn.Module:
    """The module :func:`recipe` describes, with fresh weights: its factory (or ``factory``,
    which replaces the one named) is imported and called with the recorded arguments.

    Raises
    ------
    InvalidParameterError
        The factory no longer imports or raises; KeyError/TypeError for a malformed entry.

    Examples
    --------
    >>> model = build_model("cnn", input_shape=(1, 8, 8), n_outputs=10, task="classification")
    >>> again = rebuild(recipe(model))
    >>> [k for k in again.state_dict()] == [k for k in model.state_dict()]
    True
    """
    reference = str(entry["factory"])
    callable_ = factory if factory is not None else resolve_factory(reference)
    shape = tuple(int(s) for s in entry["input_shape"])
    model = _call(
        callable_,
        reference,
        _tuples(dict(entry["kwargs"])),
        _tuples(entry["layer_dropout"]),
        shape,
        int(entry["seed"]),
    )
    setattr(model, _RECIPE, {key: entry[key] for key in _RECIPE_KEYS})
    return model


def _set_dropout(model: nn.Module, rate: float | tuple[float, ...], name: str) -> None:
    """Set the rate of the module's own dropout layers (one rate for all, or one each)."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if not layers:
        raise InvalidParameterError(
            f"The model factory {name} takes no 'dropout' argument and its module has no "
            "nn.Dropout layer, so dropout cannot be applied; add a dropout= keyword to the "
            "factory or a dropout layer to the module."
        )
    rates = (rate,) * len(layers) if isinstance(rate, float) else rate
    if len(rates) != len(layers):
        raise InvalidParameterError(
            f"{len(rates)} dropout rates were given but the module of {name} has "
            f"{len(layers)} dropout layers; give one rate, or one per layer."
        )
    for layer, value in zip(layers, rates):
        layer.p = float(value)


def _reshape_hook(shape: tuple[int, ...]) -> Callable[[nn.Module, tuple[Any, ...]], Any]:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        return (x.reshape(len(x), *shape), *args[1:])

    return hook


def refuse_custom(model: Any, owner: str) -> None:
    """Refuse a CNN or factory model in an experiment built on the MLP's layers
    (regularization paths, dropout and patience curves, tuning).

    Examples
    --------
    >>> refuse_custom("64-32-10", "tune")  # an MLP: nothing to say
    >>> refuse_custom("cnn", "tune")
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: tune runs Regulab's MLP only, not the model cnn: ...
    """
    if not (callable(model) or (isinstance(model, str) and is_custom(model))):
        return
    name = model if isinstance(model, str) else getattr(model, "__qualname__", repr(model))
    raise InvalidParameterError(
        f"{owner} runs Regulab's MLP only, not the model {name}: its strength grids, warm "
        "starts and sweeps are built on the MLP's layers; compare a few strengths of your "
        f"model instead, e.g. regulab compare --model {name} --techniques none,l2=1e-4,l2=1e-3."
    )


def describe_module(model: nn.Module) -> dict[str, Any]:
    """Parameter count and layer kinds, for the advisor and the records.

    Examples
    --------
    >>> describe_module(CNN((8, 8), 10, width=2, dense=4))["convolutional"]
    True
    """
    kinds = sorted({type(m).__name__ for m in model.modules() if not list(m.children())})
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": kinds,
        "convolutional": any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules()),
        "recurrent": any(isinstance(m, nn.RNNBase) for m in model.modules()),
        "dropout_layers": sum(
            isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules()
        ),
        "batchnorm": any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
    }
