"""Ready-to-paste code for a recommended configuration: Regulab, plain PyTorch and Keras."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from regulab.config import TrainConfig

__all__ = ["code_snippets"]


def _rates(config: TrainConfig, n_hidden: int) -> list[float]:
    if not config.dropout:
        return [0.0] * n_hidden
    return list(config.dropout) if len(config.dropout) > 1 else [config.dropout[0]] * n_hidden


def _l1_l2(config: TrainConfig) -> tuple[float, float]:
    """Total L1 and L2 coefficients in Keras' convention (l1*|w| + l2*w^2)."""
    l1, l2 = config.l1, config.l2
    if config.elastic_net:
        alpha, ratio = config.elastic_net
        l1 += alpha * ratio
        l2 += alpha * (1 - ratio) / 2
    return l1, l2


GROUPS_COMMENT = "one id per encoded input: a table column is one unit for L1"
KERAS_NO_GROUPS = "# Keras has no group lasso: its L1 weighs each encoded input alone"


def pasted_list(name: str, values: Sequence[Any], comment: str, call: str = "") -> list[str]:
    r"""Lines assigning ``values`` to ``name`` (``call(...)`` around the list when given), the
    comment first and the list wrapped, so that no pasted line passes 79 characters.

    Examples
    --------
    >>> print("\n".join(pasted_list("groups", [0, 1, 1], "one id per input")))
    # one id per input
    groups = [0, 1, 1]
    >>> print("\n".join(pasted_list("g", list(range(30)), "ids", "torch.tensor")))
    # ids
    g = torch.tensor([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        21, 22, 23, 24, 25, 26, 27, 28, 29,
    ])
    """
    items = [f"{value:g}" if isinstance(value, float) else str(value) for value in values]
    one_line = f"{name} = {call}{'(' if call else ''}[{', '.join(items)}]{')' if call else ''}"
    if len(one_line) <= 79:
        return [f"# {comment}", one_line]
    body = textwrap.wrap(", ".join(items) + ",", width=79 - 4, break_on_hyphens=False)
    close = "])" if call else "]"
    return [
        f"# {comment}",
        f"{name} = {call}{'(' if call else ''}[",
        *(f"    {b}" for b in body),
        close,
    ]


def _grouped(config: TrainConfig) -> list[int] | None:
    """The config's column groups when an L1 part uses them (some group of 2+ inputs)."""
    groups = config.feature_groups
    if not groups or not (config.l1 or config.elastic_net) or len(set(groups)) == len(groups):
        return None
    return list(groups)


def _l1_terms(l1: float, grouped: list[int] | None) -> tuple[list[str], list[str], str]:
    """The plain loop's L1 term, element-wise or (first layer, grouped) a group lasso:
    ``(lines before the loop, lines in the step before the loss, the term)``."""
    if grouped is None:
        return [], [], f"{l1:g} * sum(w.abs().sum() for w in weights)"
    setup = [
        *pasted_list("groups", grouped, GROUPS_COMMENT, "torch.tensor"),
        "root_sizes = torch.bincount(groups).float().sqrt()",
    ]
    step = [
        "        blocks = torch.zeros(len(weights[0]), len(root_sizes))",
        "        blocks = blocks.index_add(1, groups, weights[0].pow(2)).add(1e-12)",
        "        l1_sum = (blocks.sqrt() * root_sizes).sum()  # first layer: group lasso",
        "        l1_sum = l1_sum + sum(w.abs().sum() for w in weights[1:])",
    ]
    return setup, step, f"{l1:g} * l1_sum"


def train_call(config: TrainConfig, penalties: list[str], callbacks: list[str]) -> list[str]:
    """The pasted lines that train ``model`` with Regulab and print its test metrics."""
    return [
        "result = regulab.train(",
        "    model, X_train, y_train, X_val, y_val,",
        *([f"    penalties=[{', '.join(penalties)}],"] if penalties else []),
        *([f"    callbacks=[{', '.join(callbacks)}],"] if callbacks else []),
        f'    optimizer="{config.optimizer}", lr={config.lr:g}, epochs={config.epochs}, '
        f"batch_size={config.batch_size}, seed=0,",
        *([f'    class_weight="{config.class_weight}",'] if config.class_weight else []),
        ")",
        "print(regulab.evaluate(result.model, X_test, y_test))",
    ]


def _factors_comment(factors: Sequence[float], columns: Mapping[str, Sequence[int]] | None) -> str:
    """What the pasted ``factors`` line says: per input, and on a table which original
    columns the factors spare (every encoded input of each).

    Examples
    --------
    >>> _factors_comment([0.25, 0.25, 1.0], {"sex": [0, 1], "x": [2]})
    'penalty factor per encoded input: spares sex (all its encoded inputs)'
    """
    if not columns:
        return "penalty factor per input"
    spared = [name for name, inputs in columns.items() if all(factors[i] < 1 for i in inputs)]
    return f"penalty factor per encoded input: spares {', '.join(spared)} (all its encoded inputs)"


def _regulab(
    config: TrainConfig,
    sizes: list[int],
    task: str,
    columns: Mapping[str, Sequence[int]] | None = None,
) -> str:
    penalties = []
    factors = ", feature_factors=factors" if config.feature_factors else ""
    grouped = _grouped(config)
    groups = ", feature_groups=groups" if grouped else ""
    prox = ", proximal=True" if config.prox_l1 else ""
    if config.l1:
        penalties.append(f"L1({config.l1:g}{prox}{factors}{groups})")
    if config.l2:
        penalties.append(f"L2({config.l2:g}{factors})")
    if config.elastic_net:
        alpha, ratio = config.elastic_net
        penalties.append(f"ElasticNet({alpha:g}, {ratio:g}{prox}{factors}{groups})")
    if config.weight_decay:
        penalties.append(f"WeightDecay({config.weight_decay:g})")
    callbacks = []
    if config.early_stopping:
        monitor, patience = config.early_stopping
        callbacks.append(f'EarlyStopping("{monitor}", patience={patience})')
    spec = "-".join(map(str, sizes))
    task_option = ['task="regression"'] if task == "regression" else []
    if config.model == "linear":
        options = [str(sizes[0]), str(sizes[-1]), *task_option]
        if config.input_dropout:
            options.append(f"input_dropout={config.input_dropout:g}")
        model = f"LinearModel({', '.join(options + ['seed=0'])})"
    else:
        rates = _rates(config, len(sizes) - 2)
        options = [f'"{spec}"']
        if any(rates):
            options.append(f"dropout={rates}")
        if config.input_dropout:
            options.append(f"input_dropout={config.input_dropout:g}")
        if config.batchnorm:
            options.append("batchnorm=True")
        model = f"MLP({', '.join(options + task_option + ['seed=0'])})"
    lines = []
    if config.feature_factors:
        comment = _factors_comment(config.feature_factors, columns)
        lines += pasted_list("factors", list(config.feature_factors), comment)
    if grouped:
        lines += pasted_list("groups", grouped, GROUPS_COMMENT)
    lines += [f"model = {model}", *train_call(config, penalties, callbacks)]
    body = "\n".join(lines)
    names = ("MLP", "LinearModel", "L1", "L2", "ElasticNet", "WeightDecay", "EarlyStopping")
    used = [name for name in names if f"{name}(" in body]
    return f"import regulab\nfrom regulab import {', '.join(used)}\n\n{body}"


def _pytorch(
    config: TrainConfig, sizes: list[int], task: str, model_layers: list[str] | None = None
) -> str:
    """The plain loop on the MLP of ``sizes``, or on ``model_layers`` (``nn.Sequential``
    items) when given."""
    loss_fn = "F.cross_entropy" if task == "classification" else "F.mse_loss"
    target = "" if task == "classification" else ".view(-1, 1)"
    rates = _rates(config, len(sizes) - 2) if config.model != "linear" else []
    layers = list(model_layers or [])
    if model_layers is None and config.input_dropout:
        layers.append(f"nn.Dropout({config.input_dropout:g})")
    for index, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]) if model_layers is None else []):
        hidden = index < len(sizes) - 2
        no_bias = ", bias=False" if hidden and config.batchnorm else ""  # batch norm shifts
        layers.append(f"nn.Linear({a}, {b}{no_bias})")
        if hidden:
            if config.batchnorm:
                layers.append(f"nn.BatchNorm1d({b})")
            layers.append("nn.ReLU()")
            if rates[index]:
                layers.append(f"nn.Dropout({rates[index]:g})")
    l1, l2 = _l1_l2(config)
    optimizer = (
        f"torch.optim.AdamW(model.parameters(), lr={config.lr:g}, "
        f"weight_decay={config.weight_decay:g})"
        if config.weight_decay
        else f"torch.optim.Adam(model.parameters(), lr={config.lr:g})"
    )
    group_setup, group_step, l1_term = _l1_terms(l1, _grouped(config))
    terms = [l1_term] if l1 else []
    terms += [f"{l2:g} * sum(w.pow(2).sum() for w in weights)"] if l2 else []
    penalty = []
    if terms:
        penalty = [
            "        weights = [p for n, p in model.named_parameters() if p.ndim > 1]",
            *(group_step if l1 else []),
            f"        loss = loss + {' + '.join(terms)}",
        ]
    patience = config.early_stopping[1] if config.early_stopping else None
    weighted = task == "classification" and config.class_weight is not None
    balanced = [
        "counts = torch.bincount(y_train).float()  # balanced class weights (training rows)",
        "weight = len(y_train) / (len(counts) * counts)",
    ]
    lines = [
        "import copy, torch, torch.nn as nn, torch.nn.functional as F",
        "",
        "model = nn.Sequential(",
        *[f"    {layer}," for layer in layers],
        ")",
        f"opt = {optimizer}",
        *(group_setup if l1 else []),
        *(balanced if weighted else []),
        "best, best_state, wait = float('inf'), None, 0",
        f"for epoch in range({config.epochs}):",
        "    model.train()",
        "    for i in torch.randperm(len(X_train)).split(" + str(config.batch_size) + "):",
        f"        loss = {loss_fn}(model(X_train[i]), y_train[i]{target}"
        + (", weight=weight)" if weighted else ")"),
        *penalty,
        "        opt.zero_grad(); loss.backward(); opt.step()",
        "    model.eval()",
        "    with torch.no_grad():",
        f"        val_loss = {loss_fn}(model(X_val), y_val{target}).item()",
        "    if val_loss < best:",
        "        best, best_state, wait = val_loss, copy.deepcopy(model.state_dict()), 0",
    ]
    if patience is not None:
        lines += [
            "    else:",
            "        wait += 1",
            f"        if wait >= {patience}:",
            "            break",
        ]
    lines += ["model.load_state_dict(best_state)"]
    if config.prox_l1:
        lines.insert(
            0,
            "# Regulab applies L1 as a proximal step (exact zeros); this plain loop "
            "uses the subgradient, which leaves near-zeros instead.",
        )
    return "\n".join(lines)


def _keras(
    config: TrainConfig, sizes: list[int], task: str, model_layers: list[str] | None = None
) -> str:
    """The Keras model of ``sizes``, or of ``model_layers`` (indented ``Sequential`` items
    ending in the hidden part; the head is added) when given."""
    classify = task == "classification"
    head = ', activation="softmax"' if classify else ""
    loss = "sparse_categorical_crossentropy" if classify else "mse"
    metric = "accuracy" if classify else "mae"
    rates = _rates(config, len(sizes) - 2) if config.model != "linear" else []
    l1, l2 = _l1_l2(config)
    regularizer = ""
    if l1 and l2:
        regularizer = f", kernel_regularizer=regularizers.L1L2(l1={l1:g}, l2={l2:g})"
    elif l1 or l2:
        regularizer = f", kernel_regularizer=regularizers.{'L1' if l1 else 'L2'}({l1 or l2:g})"
    layers = [f"    keras.Input(shape=({sizes[0]},)),", *(model_layers or [])]
    if model_layers is None and config.input_dropout:
        layers.append(f"    layers.Dropout({config.input_dropout:g}),")
    no_bias = ", use_bias=False" if config.batchnorm else ""  # batch norm's beta shifts
    for index, width in enumerate(sizes[1:-1] if model_layers is None else []):
        layers.append(f"    layers.Dense({width}{no_bias}{regularizer}),")
        if config.batchnorm:  # PyTorch's (and Regulab's) running-statistics momentum and eps
            layers.append("    layers.BatchNormalization(momentum=0.9, epsilon=1e-5),")
        layers.append('    layers.Activation("relu"),')
        if rates[index]:
            layers.append(f"    layers.Dropout({rates[index]:g}),")
    layers.append(f"    layers.Dense({sizes[-1]}{head}{regularizer}),")
    optimizer = (
        f"keras.optimizers.AdamW({config.lr:g}, weight_decay={config.weight_decay:g})"
        if config.weight_decay
        else f"keras.optimizers.Adam({config.lr:g})"
    )
    callbacks = ""
    weights: list[str] = []
    if classify and config.class_weight is not None:
        weights = [
            "counts = np.bincount(y_train)  # balanced class weights (Keras averages over the "
            "batch, not over the weights)",
            "class_weight = dict(enumerate(len(y_train) / (len(counts) * counts)))",
        ]
        callbacks = "class_weight=class_weight, "
    if config.early_stopping:
        monitor, patience = config.early_stopping
        callbacks += (
            f'callbacks=[keras.callbacks.EarlyStopping(monitor="{monitor}", '
            f"patience={patience}, restore_best_weights=True)], "
        )
    return "\n".join(
        [
            "import keras",
            *(["import numpy as np"] if weights else []),
            "from keras import layers, regularizers",
            "",
            *([KERAS_NO_GROUPS] if _grouped(config) else []),
            *weights,
            "model = keras.Sequential([",
            *layers,
            "])",
            f'model.compile({optimizer}, loss="{loss}", metrics=["{metric}"])',
            f"model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs={config.epochs}, "
            f"batch_size={config.batch_size}, {callbacks}verbose=2)",
        ]
    )


def code_snippets(
    config: TrainConfig,
    sizes: list[int],
    task: str = "classification",
    columns: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, str]:
    """Code that reproduces ``config`` on a model with layer ``sizes``.

    ``columns`` (a table's original column -> its encoded inputs) lets the Regulab snippet
    name the original columns its feature factors spare.

    Examples
    --------
    >>> snippets = code_snippets(TrainConfig(l2=1e-4, dropout=(0.5,)), [64, 128, 10])
    >>> sorted(snippets)
    ['keras', 'pytorch', 'regulab']
    """
    if config.model == "linear":  # the sizes may be those of the MLP the advisor compared
        sizes = [sizes[0], sizes[-1]]
    return {
        "regulab": _regulab(config, sizes, task, columns),
        "pytorch": _pytorch(config, sizes, task),
        "keras": _keras(config, sizes, task),
    }
