"""Technique names and their strengths: ``"dropout+l2=1e-3+early_stopping=val_loss:5"``.

A configuration is techniques joined by ``+``; each may carry a strength after ``=``. The
result is a :class:`~regulab.config.TrainConfig` derived from a base config.

===================  ========================  ===========================================
technique            default                   strength form
===================  ========================  ===========================================
``none``             no regularization         -
``linear``           a linear model instead    - (no hidden layer: logistic/linear regression)
``l1``               ``1e-3``, proximal        ``l1=3e-4``
``l2``               ``1e-3``                  ``l2=1e-4``
``elastic_net``      ``1e-3:0.5``, proximal    ``elastic_net=ALPHA:L1_RATIO``
``weight_decay``     ``1e-2`` (AdamW default)  ``weight_decay=1e-3``
``dropout``          ``0.5`` per hidden layer  ``dropout=0.5/0.3`` (one rate per layer)
``input_dropout``    ``0.2``                   ``input_dropout=0.1``
``batchnorm``        every hidden layer        -
``early_stopping``   ``val_loss:5``            ``early_stopping=val_accuracy:3``
``balanced``         balanced class weights    - (classification: ``class_weight``)
===================  ========================  ===========================================

A technique appears at most once in a configuration; ``none`` stands alone; ``linear`` (no
hidden layer) cannot take ``dropout`` or ``batchnorm`` (use ``input_dropout``). Two
configurations that come to the same settings (``dropout+l2`` and ``l2+dropout``, ``l1`` and
``l1=1e-3``) are refused as a list naming one run twice.

L1 and elastic net run as proximal steps in comparisons, so their sparsity is real (exact
zeros) rather than the near-zeros a subgradient leaves. Under Adam a weight stays at zero
while its running mean gradient is below ``l1``; first-layer gradients of a mean loss are
typically 1e-3 to 1e-2, hence the defaults (Keras' own default is 0.01).

Examples
--------
>>> from regulab.config import TrainConfig
>>> config = apply_techniques(TrainConfig(), "dropout=0.5/0.3+early_stopping")
>>> config.dropout, config.early_stopping
((0.5, 0.3), ('val_loss', 5))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from regulab.config import TrainConfig, parse_early_stopping, parse_elastic_net
from regulab.errors import InvalidParameterError, check_range, did_you_mean

__all__ = ["TECHNIQUES", "parse_techniques", "apply_techniques", "technique_count"]


def _strength(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as error:
            raise InvalidParameterError(
                f"The strength of '{name}' must be a number such as {name}=1e-4. Got {text!r}."
            ) from error
        return float(check_range(name, value, low=0.0, owner="compare"))

    return parse


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in text.split("/"))
    except ValueError as error:
        raise InvalidParameterError(
            f"Dropout takes one rate or rates per hidden layer joined by '/', e.g. "
            f"dropout=0.5/0.3. Got {text!r}."
        ) from error
    for rate in rates:
        check_range("dropout", rate, low=0.0, high=1.0, high_open=True, owner="compare")
    return rates


def _input_rate(text: str) -> float:
    rate = _strength("input_dropout")(text)
    return float(
        check_range("input_dropout", rate, low=0.0, high=1.0, high_open=True, owner="compare")
    )


# name -> (changes with the default strength, parser of an explicit strength -> changes)
TECHNIQUES: dict[str, tuple[dict[str, Any], Callable[[str], dict[str, Any]] | None]] = {
    "none": ({}, None),
    "linear": ({"model": "linear", "dropout": ()}, None),
    "l1": ({"l1": 1e-3, "prox_l1": True}, lambda t: {"l1": _strength("l1")(t), "prox_l1": True}),
    "l2": ({"l2": 1e-3}, lambda t: {"l2": _strength("l2")(t)}),
    "elastic_net": (
        {"elastic_net": (1e-3, 0.5), "prox_l1": True},
        lambda t: {"elastic_net": parse_elastic_net(t), "prox_l1": True},
    ),
    "weight_decay": (
        {"weight_decay": 1e-2},
        lambda t: {"weight_decay": _strength("weight_decay")(t)},
    ),
    "dropout": ({"dropout": (0.5,)}, lambda t: {"dropout": _rates(t)}),
    "input_dropout": ({"input_dropout": 0.2}, lambda t: {"input_dropout": _input_rate(t)}),
    "batchnorm": ({"batchnorm": True}, None),
    "early_stopping": (
        {"early_stopping": ("val_loss", 5)},
        lambda t: {"early_stopping": parse_early_stopping(t)},
    ),
    "balanced": ({"class_weight": "balanced"}, None),
}


def _parts(config_name: str) -> list[tuple[str, str | None]]:
    parts = []
    for piece in config_name.split("+"):
        name, sep, strength = piece.strip().partition("=")
        name = name.strip().lower().replace("-", "_")
        if name not in TECHNIQUES:
            raise InvalidParameterError(
                f"Unknown technique '{name}'. Valid techniques: {', '.join(TECHNIQUES)}."
                + did_you_mean(name, TECHNIQUES)
            )
        if sep and TECHNIQUES[name][1] is None:
            raise InvalidParameterError(f"The technique '{name}' takes no strength; got '{piece}'.")
        parts.append((name, strength.strip() if sep else None))
    names = [name for name, _ in parts]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidParameterError(
            f"The configuration '{config_name}' names {', '.join(repeated)} more than once; "
            "give each technique once, with one strength."
        )
    if "none" in names and len(names) > 1:
        raise InvalidParameterError(
            f"The configuration '{config_name}' combines 'none' (no regularization) with other "
            "techniques; write the techniques alone."
        )
    hidden_only = [name for name in ("dropout", "batchnorm") if name in names]
    if "linear" in names and hidden_only:
        raise InvalidParameterError(
            f"The configuration '{config_name}' asks for {' and '.join(hidden_only)} on a "
            "linear model, which has no hidden layer; use input_dropout for a linear model."
        )
    return parts


def parse_techniques(techniques: str | Sequence[str]) -> list[str]:
    """Split and validate a comma-separated technique list; return normalized config names.

    Examples
    --------
    >>> parse_techniques("none, l1=3e-4, dropout+l2")
    ['none', 'l1=3e-4', 'dropout+l2']
    """
    items = techniques.split(",") if isinstance(techniques, str) else list(techniques)
    names = [item.strip() for item in items if item.strip()]
    if not names:
        raise InvalidParameterError(
            f"The technique list is empty; give at least one of {', '.join(TECHNIQUES)}."
        )
    normalized = []
    for name in names:
        parts = _parts(name)
        normalized.append(
            "+".join(part if strength is None else f"{part}={strength}" for part, strength in parts)
        )
    duplicates = sorted({n for n in normalized if normalized.count(n) > 1})
    if duplicates:
        raise InvalidParameterError(f"Configurations listed twice: {', '.join(duplicates)}.")
    settings: dict[str, str] = {}
    for name in normalized:
        same = settings.setdefault(_settings(name), name)
        if same != name:
            raise InvalidParameterError(
                f"Configurations '{same}' and '{name}' are the same settings and would train "
                "twice; list it once."
            )
    return normalized


def _settings(config_name: str) -> str:
    """The changes a configuration makes, in a canonical text form."""
    changes = apply_techniques(TrainConfig(), config_name).to_dict()
    return repr(sorted(changes.items()))


def apply_techniques(base: TrainConfig, config_name: str) -> TrainConfig:
    """The base config with the techniques of ``config_name`` switched on."""
    changes: dict[str, Any] = {}
    for name, strength in _parts(config_name):
        defaults, parser = TECHNIQUES[name]
        changes.update(defaults if strength is None or parser is None else parser(strength))
    return replace(base, **changes)


def technique_count(config_name: str) -> int:
    """How many techniques a configuration combines (``none`` counts 0).

    Examples
    --------
    >>> technique_count("dropout+l2"), technique_count("none")
    (2, 0)
    """
    return sum(1 for name, _ in _parts(config_name) if name != "none")
