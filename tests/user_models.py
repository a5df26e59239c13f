"""Model factories a user might write, for the end-to-end tests of ``--model module:factory``.

They take what Regulab passes by keyword (``input_shape``, ``n_outputs``, ``dropout``,
``batchnorm``); anything they leave out Regulab either sets on the module (dropout) or
refuses (batch norm).
"""

from __future__ import annotations

from torch import nn


def make_net(input_shape, n_outputs, dropout=0.0, batchnorm=False):
    """A tiny convolutional network for ``(1, H, W)`` images."""
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1, bias=not batchnorm),
        nn.BatchNorm2d(4) if batchnorm else nn.Identity(),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(4 * (height // 2) * (width // 2), n_outputs),
    )


def make_mlp(n_features, n_outputs):
    """A plain MLP with its own dropout layer and no technique arguments."""
    return nn.Sequential(
        nn.Linear(n_features, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, n_outputs)
    )


def make_dense(n_features, n_outputs):
    """No dropout layer and no technique arguments: dropout and batch norm are refused."""
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_outputs))


def wrong_outputs(n_features, n_outputs):
    """One output too many."""
    return nn.Linear(n_features, n_outputs + 1)


def broken(n_features, n_outputs):
    """A factory with a bug."""
    raise RuntimeError("layer sizes do not add up")
