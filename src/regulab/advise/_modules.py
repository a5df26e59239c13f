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

from regulab.advise._code import _keras, _l1_l2, _pytorch, train_call
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


def module_code(
    config: TrainConfig,
    task: str,
    *,
    n_features: int,
    n_outputs: int,
    image_shape: tuple[int, int] | None,
) -> dict[str, str]:
    """Code that reproduces ``config`` on its custom model: Regulab for any, plain PyTorch
    and Keras for the built-in CNN.

    Examples
    --------
    >>> code = module_code(TrainConfig(model="cnn", dropout=(0.5,)), "classification",
    ...                    n_features=64, n_outputs=10, image_shape=(8, 8))
    >>> "CNN((8, 8), 10, dropout=0.5, seed=0)" in code["regulab"], "Conv2D" in code["keras"]
    (True, True)
    """
    penalties = [repr(p) for p in config.penalties()]
    callbacks = [repr(c) for c in config.callbacks()]
    options = []
    rates = tuple(config.dropout)
    if rates:
        options.append(f"dropout={rates[0] if len(rates) == 1 else rates}")
    if config.input_dropout:
        options.append(f"input_dropout={config.input_dropout:g}")
    if config.batchnorm:
        options.append("batchnorm=True")
    if config.model == "cnn" and image_shape:
        imports = "from regulab import CNN"
        build = (
            f"model = CNN({image_shape}, {n_outputs}{''.join(', ' + o for o in options)}, seed=0)"
        )
    else:
        imports = "from regulab.custom import build_model"
        build = (
            f'model = build_model("{config.model}", input_shape=X_train.shape[1:], '
            f'n_outputs={n_outputs}, task="{task}"{"".join(", " + o for o in options)}, seed=0)'
        )
    regulab = "\n".join(
        [
            "import regulab",
            imports,
            "from regulab.penalties import L1, L2, ElasticNet, WeightDecay",
            "from regulab.training import EarlyStopping",
            "",
            build,
            *train_call(config, penalties, callbacks),
        ]
    )
    if config.model == "cnn" and image_shape:
        torch_layers, keras_layers = _cnn_layers(config, image_shape, n_outputs)
        sizes = [n_features, n_outputs]
        return {
            "regulab": regulab,
            "pytorch": _pytorch(config, sizes, task, torch_layers),
            "keras": _keras(config, sizes, task, keras_layers),
        }
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


def _cnn_layers(
    config: TrainConfig, image_shape: tuple[int, int], n_outputs: int
) -> tuple[list[str], list[str]]:
    """:class:`~regulab.models.CNN`'s layers (default widths) for ``nn.Sequential`` and for
    ``keras.Sequential`` (channels last, without the output layer)."""
    height, width = image_shape
    rates = tuple(config.dropout)
    spatial1, spatial2, dense_rate = (
        (0.0, 0.0, rates[0]) if len(rates) == 1 else rates if rates else (0.0, 0.0, 0.0)
    )
    norm = config.batchnorm
    no_bias, keras_bias = (", bias=False", ", use_bias=False") if norm else ("", "")
    l1, l2 = _l1_l2(config)
    regularizer = (
        f", kernel_regularizer=regularizers.L1L2(l1={l1:g}, l2={l2:g})" if l1 or l2 else ""
    )
    torch_layers = [f"nn.Unflatten(1, (1, {height}, {width}))"]
    keras_layers = [f"    layers.Reshape(({height}, {width}, 1)),"]
    if config.input_dropout:
        torch_layers.append(f"nn.Dropout({config.input_dropout:g})")
        keras_layers.append(f"    layers.Dropout({config.input_dropout:g}),")
    channels = 1
    for out, rate in ((32, spatial1), (64, spatial2)):
        torch_layers.append(f"nn.Conv2d({channels}, {out}, 3, padding=1{no_bias})")
        keras_layers.append(
            f'    layers.Conv2D({out}, 3, padding="same"{keras_bias}{regularizer}),'
        )
        if norm:
            torch_layers.append(f"nn.BatchNorm2d({out})")
            keras_layers.append("    layers.BatchNormalization(momentum=0.9, epsilon=1e-5),")
        torch_layers += ["nn.ReLU()", "nn.MaxPool2d(2)"]
        keras_layers += ['    layers.Activation("relu"),', "    layers.MaxPooling2D(2),"]
        if rate:
            torch_layers.append(f"nn.Dropout2d({rate:g})")
            keras_layers.append(f"    layers.SpatialDropout2D({rate:g}),")
        channels = out
    flat = 64 * (height // 4) * (width // 4)
    torch_layers += ["nn.Flatten()", f"nn.Linear({flat}, 128{no_bias})"]
    keras_layers += ["    layers.Flatten(),", f"    layers.Dense(128{keras_bias}{regularizer}),"]
    if norm:
        torch_layers.append("nn.BatchNorm1d(128)")
        keras_layers.append("    layers.BatchNormalization(momentum=0.9, epsilon=1e-5),")
    torch_layers.append("nn.ReLU()")
    keras_layers.append('    layers.Activation("relu"),')
    if dense_rate:
        torch_layers.append(f"nn.Dropout({dense_rate:g})")
        keras_layers.append(f"    layers.Dropout({dense_rate:g}),")
    torch_layers.append(f"nn.Linear(128, {n_outputs})")
    return torch_layers, keras_layers
