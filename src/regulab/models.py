"""Model builders: a multi-layer perceptron with dropout and batch norm, a linear model, and
a small convolutional network for images.

All are ordinary ``torch.nn.Module`` objects that work in any PyTorch code. Regulab's
trainer also reads the MLP's :class:`Architecture` to train several copies at once; the
:class:`CNN` trains like any other module (:mod:`regulab.training`).

Layer order inside each hidden block (Ioffe & Szegedy's placement, Keras' usual one)::

    Linear -> BatchNorm1d (if chosen) -> activation -> Dropout (if rate > 0)

A linear layer followed by batch norm has no bias (``bias=False``, as in Keras' and
torchvision's usual blocks): batch norm subtracts the batch mean, so such a bias would be
cancelled, and its shift ``beta`` plays that role.

Input dropout, when set, is applied to the features before the first layer. The head
returns raw scores: logits for classification (softmax or sigmoid live in the loss and in
``predict_proba``), values for regression. A regression model's head ends with
``target_scale * h + target_mean`` (two buffers, one value per target; 1 and 0 until
Regulab's trainer sets them to the training targets' statistics), so its weights live in
standardized units while it answers in the target's units.

Examples
--------
>>> from regulab.models import MLP
>>> model = MLP("784-128-64-10", dropout=[0.5, 0.3], batchnorm=[0], seed=0)
>>> model.architecture.sizes
(784, 128, 64, 10)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from regulab.errors import InvalidParameterError, check_range, did_you_mean

__all__ = ["Architecture", "MLP", "LinearModel", "CNN", "parse_sizes", "ACTIVATIONS", "TASKS"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
}
TASKS = ("classification", "regression")


def parse_sizes(sizes: str | Sequence[int]) -> tuple[int, ...]:
    """Parse ``"784-128-64-10"`` (or a list of ints) into layer sizes, input first.

    Examples
    --------
    >>> parse_sizes("64-32-10")
    (64, 32, 10)
    """
    if isinstance(sizes, str):
        parts = [part.strip() for part in sizes.replace(",", "-").split("-")]
        if not all(part.isdigit() for part in parts):
            raise InvalidParameterError(
                f"The model spec '{sizes}' must be layer sizes joined by '-', "
                "input first and output last, e.g. '784-128-64-10'."
            )
        values = tuple(int(part) for part in parts)
    else:
        values = tuple(int(size) for size in sizes)
    if len(values) < 2 or any(size < 1 for size in values):
        raise InvalidParameterError(
            f"The model spec {values} needs at least an input and an output size, all >= 1."
        )
    _check_memory(values)
    return values


def _check_memory(sizes: tuple[int, ...]) -> None:
    """Refuse layer sizes whose training state could never fit in this machine's memory."""
    parameters = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    needed = 16 * parameters  # float32 weights, gradients and two Adam moments
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        available = 1 << 40
    if needed > available:
        raise InvalidParameterError(
            f"The model {'-'.join(map(str, sizes))} has {parameters:.3g} parameters; training "
            f"it needs about {needed / 1e9:.3g} GB of memory (weights, gradients and optimizer "
            f"state as 32-bit floats) but this machine has {available / 1e9:.3g} GB. Use "
            "smaller layers."
        )


@dataclass(frozen=True)
class Architecture:
    """What models must share to train together in one stack.

    Attributes
    ----------
    sizes : tuple of int
        Layer widths, input first, output last.
    activation : str
        Hidden activation name.
    batchnorm : tuple of int
        Hidden layers (0-based) followed by batch normalization.
    task : str
        ``"classification"`` or ``"regression"``.
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    batchnorm: tuple[int, ...] = ()
    task: str = "classification"

    @property
    def n_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.sizes) - 2

    @property
    def spec(self) -> str:
        """The ``"784-128-64-10"`` form."""
        return "-".join(str(s) for s in self.sizes)


class MLP(nn.Module):
    """Multi-layer perceptron with optional input dropout, dropout and batch norm.

    Parameters
    ----------
    sizes : str or sequence of int
        ``"784-128-64-10"`` or ``[784, 128, 64, 10]``: input, hidden..., output.
    activation : str, default="relu"
        One of ``relu, gelu, tanh, sigmoid, elu, leaky_relu, silu``.
    dropout : float or sequence of float, default=0.0
        Rate after each hidden layer (one float for all, or one per hidden layer), in
        [0, 1). Srivastava et al. suggest 0.4-0.5 on hidden layers.
    input_dropout : float, default=0.0
        Rate on the input features, in [0, 1); 0.1-0.2 is typical.
    batchnorm : bool or sequence of int, default=False
        ``True`` for every hidden layer, or the 0-based hidden layers to normalize.
    task : {"classification", "regression"}, default="classification"
        Classification with one output unit is binary (sigmoid); more units use softmax.
    seed : int, optional
        Seed for the weight initialization (PyTorch's default scheme).

    Attributes
    ----------
    architecture : Architecture
        The shared structure (sizes, activation, batch-norm placement, task).
    dropout_rates : tuple of float
        Hidden-layer dropout rates.

    Examples
    --------
    >>> model = MLP([4, 8, 3], dropout=0.5, seed=0)
    >>> model(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    target_mean: torch.Tensor | None
    target_scale: torch.Tensor | None

    def __init__(
        self,
        sizes: str | Sequence[int],
        *,
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        batchnorm: bool | Sequence[int] = False,
        task: str = "classification",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        layer_sizes = parse_sizes(sizes)
        n_hidden = len(layer_sizes) - 2
        if activation not in ACTIVATIONS:
            raise InvalidParameterError(
                f"The 'activation' parameter of MLP must be one of "
                f"{', '.join(ACTIVATIONS)}. Got {activation!r} instead."
                + did_you_mean(activation, ACTIVATIONS)
            )
        if task not in TASKS:
            raise InvalidParameterError(
                f"The 'task' parameter of MLP must be one of {', '.join(TASKS)}. "
                f"Got {task!r} instead."
            )
        rates = _dropout_rates(dropout, n_hidden)
        check_range("input_dropout", input_dropout, low=0.0, high=1.0, high_open=True, owner="MLP")
        norm_layers = _batchnorm_layers(batchnorm, n_hidden)
        self.architecture = Architecture(layer_sizes, activation, norm_layers, task)
        self.dropout_rates = rates
        self.input_dropout = float(input_dropout)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            # A bias right before batch norm is cancelled by the mean subtraction: it gets no
            # gradient, only rounding noise that Adam would amplify into a random walk.
            self.linears = nn.ModuleList(
                nn.Linear(a, b, bias=index not in norm_layers)
                for index, (a, b) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]))
            )
        self.norms = nn.ModuleDict(
            {str(i): nn.BatchNorm1d(layer_sizes[i + 1]) for i in norm_layers}
        )
        self.activation = ACTIVATIONS[activation]()
        self.input_drop = nn.Dropout(self.input_dropout)
        self.drops = nn.ModuleList(nn.Dropout(rate) for rate in rates)
        regression = task == "regression"
        self.register_buffer("target_mean", torch.zeros(layer_sizes[-1]) if regression else None)
        self.register_buffer("target_scale", torch.ones(layer_sizes[-1]) if regression else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return raw scores (logits or regression values) for a batch ``x``."""
        h = self.input_drop(x)
        for index, linear in enumerate(self.linears):
            h = linear(h)
            if index == len(self.linears) - 1:
                break
            if str(index) in self.norms:
                h = self.norms[str(index)](h)
            h = self.drops[index](self.activation(h))
        if self.target_scale is not None and self.target_mean is not None:
            h = torch.addcmul(self.target_mean, h, self.target_scale)
        return h

    def config(self) -> dict:
        """JSON-safe constructor arguments (without the seed)."""
        arch = self.architecture
        return {
            "sizes": list(arch.sizes),
            "activation": arch.activation,
            "dropout": list(self.dropout_rates),
            "input_dropout": self.input_dropout,
            "batchnorm": list(arch.batchnorm),
            "task": arch.task,
        }


class LinearModel(MLP):
    """Linear model: multinomial/binary logistic regression or linear regression.

    An :class:`MLP` with no hidden layer, so every penalty and the trainer apply unchanged.

    Parameters
    ----------
    n_features : int
        Number of inputs.
    n_outputs : int, default=1
        Classes for multinomial logistic regression, 1 for binary or regression.
    task : {"classification", "regression"}, default="classification"
    input_dropout : float, default=0.0
    seed : int, optional

    Examples
    --------
    >>> LinearModel(784, 10, seed=0).architecture.spec
    '784-10'
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int = 1,
        *,
        task: str = "classification",
        input_dropout: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__([n_features, n_outputs], task=task, input_dropout=input_dropout, seed=seed)


class CNN(nn.Module):
    """Two convolution blocks and a dense head, with the MLP's techniques vocabulary.

    ::

        [Dropout on pixels] -> 2 x (Conv 3x3 -> [BatchNorm2d] -> act -> MaxPool 2 -> [Dropout2d])
        -> Flatten -> Linear(dense) -> [BatchNorm1d] -> act -> [Dropout] -> Linear(outputs)

    The second block has twice the first's channels. Spatial dropout (``Dropout2d``) drops
    whole feature maps, as neighbouring pixels of one map are strongly correlated
    (Tompson et al. 2015). Flat inputs ``(n, C*H*W)`` are reshaped to ``input_shape``, so
    the model takes MNIST or digits rows as Regulab loads them.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` or ``(height, width)`` for one channel.
    n_outputs : int
        Classes (1 for binary or regression).
    width : int, default=32
        Channels of the first convolution block.
    dense : int, default=128
        Units of the dense hidden layer.
    activation : str, default="relu"
    dropout : float or sequence of float, default=0.0
        One rate for the dense head, or three rates: (block 1, block 2, dense); the block
        rates are spatial. Each in [0, 1).
    input_dropout : float, default=0.0
    batchnorm : bool, default=False
        Batch norm after both convolutions and the dense layer (bias-free layers before it).
    task : {"classification", "regression"}, default="classification"
    seed : int, optional

    Examples
    --------
    >>> model = CNN((8, 8), 10, width=4, dense=16, dropout=0.5, batchnorm=True, seed=0)
    >>> model(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_outputs: int,
        *,
        width: int = 32,
        dense: int = 128,
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        batchnorm: bool = False,
        task: str = "classification",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in input_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise InvalidParameterError(
                f"The 'input_shape' parameter of CNN must be (channels, height, width) or "
                f"(height, width). Got {tuple(input_shape)!r} instead."
            )
        check_range("n_outputs", n_outputs, low=1, integer=True, owner="CNN")
        check_range("width", width, low=1, integer=True, owner="CNN")
        check_range("dense", dense, low=1, integer=True, owner="CNN")
        check_range("input_dropout", input_dropout, low=0.0, high=1.0, high_open=True, owner="CNN")
        if activation not in ACTIVATIONS:
            raise InvalidParameterError(
                f"The 'activation' parameter of CNN must be one of {', '.join(ACTIVATIONS)}. "
                f"Got {activation!r} instead." + did_you_mean(activation, ACTIVATIONS)
            )
        if task not in TASKS:
            raise InvalidParameterError(
                f"The 'task' parameter of CNN must be one of {', '.join(TASKS)}. "
                f"Got {task!r} instead."
            )
        rates: tuple[float, ...]
        if isinstance(dropout, (int, float)):
            rates = (0.0, 0.0, float(dropout))
        else:
            rates = tuple(float(rate) for rate in dropout)
            if len(rates) == 1:
                rates = (0.0, 0.0, rates[0])
            if len(rates) != 3:
                raise InvalidParameterError(
                    f"The 'dropout' parameter of CNN takes one rate (the dense head) or three "
                    f"(block 1, block 2, dense). Got {len(rates)} rates instead."
                )
        for rate in rates:
            check_range("dropout", rate, low=0.0, high=1.0, high_open=True, owner="CNN")
        self.input_shape = shape
        self.task = task
        self.dropout_rates = rates
        channels, height, width_px = shape
        flat = 2 * width * (height // 4) * (width_px // 4)
        if flat == 0:
            raise InvalidParameterError(
                f"The CNN pools twice by 2, so images must be at least 4x4. Got {shape[1:]}."
            )
        norm = bool(batchnorm)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.features = nn.Sequential(
                nn.Dropout(float(input_dropout)),
                *_conv_block(channels, width, activation, norm, rates[0]),
                *_conv_block(width, 2 * width, activation, norm, rates[1]),
                nn.Flatten(),
            )
            self.head = nn.Sequential(
                nn.Linear(flat, dense, bias=not norm),
                *([nn.BatchNorm1d(dense)] if norm else []),
                ACTIVATIONS[activation](),
                nn.Dropout(rates[2]),
                nn.Linear(dense, n_outputs),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores for a batch of images ``(n, C, H, W)`` or flat rows ``(n, C*H*W)``."""
        return self.head(self.features(x.reshape(len(x), *self.input_shape)))


def _conv_block(
    n_in: int, n_out: int, activation: str, batchnorm: bool, rate: float
) -> list[nn.Module]:
    return [
        nn.Conv2d(n_in, n_out, 3, padding=1, bias=not batchnorm),
        *([nn.BatchNorm2d(n_out)] if batchnorm else []),
        ACTIVATIONS[activation](),
        nn.MaxPool2d(2),
        nn.Dropout2d(rate),
    ]


def _dropout_rates(dropout: float | Sequence[float], n_hidden: int) -> tuple[float, ...]:
    if isinstance(dropout, (int, float)):
        rates = [float(dropout)] * n_hidden
    else:
        rates = [float(rate) for rate in dropout]
        if len(rates) != n_hidden:
            raise InvalidParameterError(
                f"The 'dropout' parameter of MLP has {len(rates)} rates but the model has "
                f"{n_hidden} hidden layers; give one rate per hidden layer or a single rate."
            )
    for rate in rates:
        check_range("dropout", rate, low=0.0, high=1.0, high_open=True, owner="MLP")
    return tuple(rates)


def _batchnorm_layers(batchnorm: bool | Sequence[int], n_hidden: int) -> tuple[int, ...]:
    if isinstance(batchnorm, bool):
        return tuple(range(n_hidden)) if batchnorm else ()
    layers = tuple(sorted({int(i) for i in batchnorm}))
    for index in layers:
        if not 0 <= index < n_hidden:
            raise InvalidParameterError(
                f"The 'batchnorm' parameter of MLP names hidden layer {index} but the model has "
                f"{n_hidden} hidden layers (0 to {n_hidden - 1})."
            )
    return layers
