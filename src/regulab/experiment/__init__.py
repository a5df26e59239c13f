"""Experiments: fair side-by-side comparisons, strength paths, tuning, and the results store.

Examples
--------
>>> from regulab.experiment import compare
>>> result = compare("iris", "none,dropout", model="4-16-3", seeds=2, epochs=2, verbose=0)
>>> result.metric, result.test_metric
('val_accuracy', 'test_accuracy')
"""

from regulab.experiment._compare import (
    COMPARE_SCHEMA_VERSION,
    DEFAULT_TECHNIQUES,
    Comparison,
    compare,
    prepare_data,
    run_specs,
)
from regulab.experiment._curves import CurveResult, dropout_curve, patience_curve
from regulab.experiment._linear_path import LinearPathResult, linear_regularization_path
from regulab.experiment._paths import PathResult, regularization_path
from regulab.experiment._records import RunRecord, run_key, weight_summary
from regulab.experiment._runner import (
    DataBundle,
    RunSpec,
    make_tasks,
    record_from_result,
    run_task,
)
from regulab.experiment._store import ResultsStore, StoreError, check_writable
from regulab.experiment._summary import summarize
from regulab.experiment._techniques import (
    TECHNIQUES,
    apply_techniques,
    parse_techniques,
    technique_count,
)
from regulab.experiment._tune import TuneResult, tune
from regulab.stats import main_metric, mean_ci, one_se_rule

__all__ = [
    "compare",
    "Comparison",
    "DEFAULT_TECHNIQUES",
    "COMPARE_SCHEMA_VERSION",
    "prepare_data",
    "run_specs",
    "RunRecord",
    "run_key",
    "weight_summary",
    "RunSpec",
    "DataBundle",
    "make_tasks",
    "run_task",
    "record_from_result",
    "regularization_path",
    "linear_regularization_path",
    "LinearPathResult",
    "dropout_curve",
    "patience_curve",
    "one_se_rule",
    "PathResult",
    "CurveResult",
    "tune",
    "TuneResult",
    "ResultsStore",
    "StoreError",
    "check_writable",
    "summarize",
    "mean_ci",
    "main_metric",
    "TECHNIQUES",
    "parse_techniques",
    "apply_techniques",
    "technique_count",
]
