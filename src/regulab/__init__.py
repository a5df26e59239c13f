"""Regulab: regularization for neural networks on PyTorch.

Every classic technique (L1, L2, elastic net, weight decay, dropout, batch norm, early
stopping) as composable pieces, a fast trainer that trains many configurations at once, and
tools to diagnose, compare and recommend.

Examples
--------
>>> import regulab
>>> model = regulab.MLP("64-128-64-10", dropout=[0.5, 0.3], seed=0)
>>> penalty = regulab.L1(1e-4, proximal=True)
"""

from regulab._version import __version__
from regulab.advise import Advice, advise
from regulab.diagnose import diagnose_data, diagnose_run
from regulab.errors import DataError, InvalidParameterError, RegulabError
from regulab.estimators import (
    RegularizedLinearClassifier,
    RegularizedLinearRegressor,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
)
from regulab.experiment import Comparison, compare
from regulab.io import load, save
from regulab.models import CNN, MLP, Architecture, LinearModel
from regulab.penalties import L1, L2, ElasticNet, Penalty, WeightDecay, describe, sparsity
from regulab.training import (
    Callback,
    EarlyStopping,
    FitResult,
    History,
    Member,
    StopReason,
    evaluate,
    predict,
    predict_proba,
    train,
    train_many,
)

__all__ = [
    "RegulabError",
    "InvalidParameterError",
    "DataError",
    "MLP",
    "LinearModel",
    "CNN",
    "Architecture",
    "Penalty",
    "L1",
    "L2",
    "ElasticNet",
    "WeightDecay",
    "describe",
    "sparsity",
    "Callback",
    "EarlyStopping",
    "History",
    "StopReason",
    "FitResult",
    "Member",
    "train",
    "train_many",
    "evaluate",
    "predict",
    "predict_proba",
    "advise",
    "Advice",
    "compare",
    "Comparison",
    "diagnose_data",
    "diagnose_run",
    "RegularizedMLPClassifier",
    "RegularizedMLPRegressor",
    "RegularizedLinearClassifier",
    "RegularizedLinearRegressor",
    "save",
    "load",
    "__version__",
]
