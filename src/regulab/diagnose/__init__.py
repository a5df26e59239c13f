"""Diagnostics of a data set and of a training run: numbers, each with a one-sentence reading.

:func:`diagnose_data` measures what the regularization guide's rules depend on: size versus
capacity, irrelevant features, correlated features, outliers, label noise and class balance.
:func:`diagnose_run` reads a training history (Regulab's, or a CSV from Keras' CSVLogger or
Lightning's CSVLogger) and finds overfitting, underfitting and instability, each with the
action that addresses it.

Large data sets are sampled where exactness is not needed; every sampled diagnostic says so.

Examples
--------
>>> from regulab.data import make_synthetic
>>> from regulab.diagnose import diagnose_data
>>> report = diagnose_data(make_synthetic(300, n_informative=3, n_irrelevant=30, seed=0))
>>> report["irrelevant_features"].value >= 20
True
"""

from regulab.diagnose._capacity import count_parameters
from regulab.diagnose._data import DataDiagnostics, Finding, diagnose_data
from regulab.diagnose._run import RunDiagnostics, RunFinding, diagnose_run, read_history

__all__ = [
    "Finding",
    "DataDiagnostics",
    "RunFinding",
    "RunDiagnostics",
    "diagnose_data",
    "diagnose_run",
    "read_history",
    "count_parameters",
]
