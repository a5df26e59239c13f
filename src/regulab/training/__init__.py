"""The fast in-memory trainer, its callbacks and its history.

Examples
--------
>>> import numpy as np
>>> from regulab.models import MLP
>>> from regulab.penalties import L2
>>> from regulab.training import EarlyStopping, train
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 5)).astype("float32")
>>> y = (X[:, 0] + X[:, 1] > 0).astype("int64")
>>> result = train(MLP("5-16-2", seed=0), X, y, penalties=[L2(1e-4)],
...                callbacks=[EarlyStopping(patience=2)], epochs=20, verbose=0)
>>> result.stop_reason.value in ("patience_exhausted", "max_epochs")
True
"""

from regulab.training._callbacks import Callback, EarlyStopping, Run
from regulab.training._common import Member
from regulab.training._evaluate import evaluate, predict, predict_proba, predict_scores
from regulab.training._history import FitResult, History, StopReason, TrainState
from regulab.training._stack import OptimizerSpec, StackedMLP
from regulab.training._target import TargetScaling
from regulab.training._trainer import OPTIMIZERS, resolve_device, train, train_many
from regulab.training._vmap import StackPlan, plan_stacks

__all__ = [
    "Callback",
    "EarlyStopping",
    "Run",
    "History",
    "StopReason",
    "FitResult",
    "TrainState",
    "Member",
    "train",
    "train_many",
    "evaluate",
    "predict",
    "predict_proba",
    "predict_scores",
    "resolve_device",
    "OPTIMIZERS",
    "OptimizerSpec",
    "StackedMLP",
    "StackPlan",
    "TargetScaling",
    "plan_stacks",
]
