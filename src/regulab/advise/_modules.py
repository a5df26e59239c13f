"""Advice for models other than the MLP: the built-in CNN and a user's model factory.

The data rules still score the penalties and early stopping; the model itself adds rules
from its layer types and size. Convolutional networks get the families that work for them
(dropout, batch norm, early stopping), and a model with more parameters than training
samples gets dropout and early stopping. Techniques the model cannot take (a factory
without a ``batchnorm`` argument, a module without dropout layers) are left out, with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from regulab.advise._rules import Reason, candidate_configs
from regulab.config import TrainConfig
from regulab.custom import describe_module
from regulab.errors import InvalidParameterError

__all__ = ["ModuleAdvice", "module_candidates", "module_code"]

_ARCHITECTURE = ("dropout", "batchnorm")
_NOT_FOR_MODULES = ("linear", "input_dropout")
_HIGH_CAPACITY = 1.0


@dataclass(frozen=True)
class ModuleAdvice:
    """The reasons (the model's first, then the data's that apply), the candidates, their
    scores, notes on refused techniques, and a one-line description of the model."""

    reasons: list[Reason]
    candidates: list[str]
    scores: dict[str, float]
    notes: list[str]
    description: str


def module_candidates(
    base: TrainConfig,
    data_reasons: Sequence[Reason],
    *,
    n_features: int,
    n_outputs: int,
    task: str,
    image_shape: tuple[int, int] | None,
    n_train: int,
) -> ModuleAdvice:
    """Candidate configs for the custom model ``base.model`` (``"cnn"`` or ``"module:factory"``).

    Examples
    --------
    >>> advice = module_candidates(TrainConfig(model="cnn"), [], n_features=64, n_outputs=10,
    ...                            task="classification", image_shape=(8, 8), n_train=1000)
    >>> advice.candidates[:3]
    ['none', 'dropout+early_stopping', 'batchnorm+early_stopping']
    """
    shape = dict(n_features=n_features, n_outputs=n_outputs, task=task, image_shape=image_shape)
    module = base.build(**shape)  # type: ignore[arg-type]
    info = describe_module(module)
    takes = {}
    notes = []
    for technique, changes in (
        ("dropout", {"dropout": (0.5,)}),
        ("batchnorm", {"batchnorm": True}),
    ):
        try:
            replace(base, **changes).build(**shape)  # type: ignore[arg-type]
            takes[technique] = True
        except InvalidParameterError as error:
            takes[technique] = False
            notes.append(f"{technique} is not a candidate: {error}")
    reasons = []
    kind = "convolutional" if info["convolutional"] else "custom"
    if info["convolutional"]:
        reasons.append(
            Reason(
                "convolutional_model",
                ("dropout", "batchnorm", "early_stopping"),
                1.0,
                f"The {base.model} model is convolutional ({', '.join(info['layers'])}): "
                "dropout, batch norm and early stopping are the families that work for "
                "convolutional networks; penalties stay candidates.",
            )
        )
    ratio = info["parameters"] / max(n_train, 1)
    if ratio > _HIGH_CAPACITY:
        reasons.append(
            Reason(
                "high_capacity_model",
                ("dropout", "early_stopping", "l2"),
                min(1.0, ratio / 10),
                f"The {base.model} model has {info['parameters']:,} parameters for {n_train:,} "
                f"training samples ({ratio:.1f} per sample) → dropout, early stopping and L2 "
                "restrain its capacity.",
            )
        )
    usable = [
        Reason(
            r.code,
            tuple(t for t in r.techniques if t not in _NOT_FOR_MODULES),
            r.score,
            r.sentence,
            r.avoid,
        )
        for r in [*reasons, *data_reasons]
        if r.code != "high_capacity"  # the data rules' capacity is the default MLP's
    ]
    usable = [r for r in usable if r.techniques]
    candidates, scores = candidate_configs(usable, has_hidden=True)
    refused = {t for t in _ARCHITECTURE if not takes[t]} | set(_NOT_FOR_MODULES)
    candidates = [c for c in candidates if not refused & _techniques(c)]
    description = f"{base.model} ({kind}, {info['parameters']:,} parameters)"
    return ModuleAdvice(usable, candidates, scores, notes, description)


def _techniques(config_name: str) -> set[str]:
    return {part.partition("=")[0] for part in config_name.split("+")}


def module_code(config: TrainConfig, task: str) -> dict[str, str]:
    """Code that reproduces ``config`` on the custom model ``config.model``."""
    penalties = [repr(p) for p in config.penalties()]
    callbacks = [repr(c) for c in config.callbacks()]
    options = []
    if config.dropout:
        options.append(f"dropout={tuple(config.dropout)}")
    if config.batchnorm:
        options.append("batchnorm=True")
    build = (
        f'model = build_model("{config.model}", input_shape=X_train.shape[1:], '
        f'n_outputs=N_OUTPUTS, task="{task}"{"".join(", " + o for o in options)}, seed=0)'
    )
    regulab = "\n".join(
        [
            "import regulab",
            "from regulab.custom import build_model",
            "from regulab.penalties import L1, L2, ElasticNet, WeightDecay",
            "from regulab.training import EarlyStopping",
            "",
            build,
            "result = regulab.train(",
            "    model, X_train, y_train, X_val, y_val,",
            f"    penalties=[{', '.join(penalties)}],",
            f"    callbacks=[{', '.join(callbacks)}],",
            f'    optimizer="{config.optimizer}", lr={config.lr:g}, epochs={config.epochs}, '
            f"batch_size={config.batch_size}, seed=0,",
            ")",
            "print(regulab.evaluate(result.model, X_test, y_test))",
        ]
    )
    coupled = [repr(p) for p in replace(config, prox_l1=False, weight_decay=0.0).penalties()]
    terms = " + ".join(f"{p}(model)" for p in coupled)
    pytorch = "\n".join(
        [
            "# Your own loop: build the model as above, then add the penalty to the loss",
            "# (the L1 subgradient there: Regulab's trainer applies L1 as a proximal step)",
            "from regulab.penalties import L1, L2, ElasticNet",
            f"loss = loss_fn(model(xb), yb){' + ' + terms if terms else ''}",
        ]
    )
    keras = "# No Keras code: the model is a PyTorch module."
    return {"regulab": regulab, "pytorch": pytorch, "keras": keras}
