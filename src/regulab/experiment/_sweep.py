"""What paths and curves share: training a stack from given weights, aggregating seeds,
naming the experiment, checking the sweep's arguments and reporting runs as JSON.

Every choice of a sweep is made by :func:`regulab.stats.one_se_rule` on the validation
figures :func:`aggregate` computes; the test figures are carried beside.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from regulab.config import TrainConfig
from regulab.errors import InvalidParameterError, check_range
from regulab.experiment._compare import json_safe
from regulab.experiment._records import RunRecord
from regulab.experiment._runner import DataBundle
from regulab.stats import finite, main_metric, mean_ci, selection_metric

__all__ = [
    "PATHS_SCHEMA_VERSION",
    "experiment_name",
    "aggregate",
    "require_hidden_layer",
    "check_common",
    "check_distinct",
    "run_json",
    "SweepResult",
    "sweep_fields",
]

PATHS_SCHEMA_VERSION = 1


def experiment_name(prefix: str, payload: Any) -> str:
    """Store experiment name: ``prefix`` and a hash of what defines the experiment."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def aggregate(
    groups: Sequence[Sequence[RunRecord]], val_name: str, test_name: str
) -> dict[str, list[float]]:
    """Per group of seeds: mean and standard error of the validation and test metrics (over
    finite values), mean epochs, ``diverged`` (seeds whose validation metric is not finite)
    and ``choice_mean``, the validation mean to choose on: NaN when any seed diverged, so a
    diverged point is never chosen."""
    keys = ("val_mean", "val_se", "test_mean", "test_se", "epochs_mean", "diverged")
    out: dict[str, list[float]] = {key: [] for key in (*keys, "choice_mean")}
    for runs in groups:
        values = [r.choice_metric(val_name) for r in runs]
        val = mean_ci(values)
        test = mean_ci(r.metric(test_name) for r in runs)
        diverged = len(values) - len(finite(values))
        row = (val.mean, val.se, test.mean, test.se, mean_ci(r.epochs_run for r in runs).mean)
        for key, value in zip(keys, (*row, diverged)):
            out[key].append(value)
        out["choice_mean"].append(math.nan if diverged else val.mean)
    return out


def sweep_fields(
    points: Sequence[Sequence[RunRecord]],
    bundle: DataBundle,
    data: dict[str, Any],
    experiment: str,
    resumed: int,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The :class:`SweepResult` fields of ``points`` (each point's runs, seed by seed) of an
    experiment on ``bundle`` (``data``: its :func:`~regulab.experiment._compare.data_info`),
    and the :func:`aggregate` statistics they come from."""
    val_name, higher = selection_metric(bundle.task)
    test_name, _ = main_metric(bundle.task)
    stats = aggregate(points, val_name, test_name)
    fields = {
        "metric": val_name,
        "test_metric": test_name,
        "higher_is_better": higher,
        **{key: stats[key] for key in ("val_mean", "val_se", "test_mean", "test_se")},
        "records": [r for point in points for r in point],
        "data": data,
        "experiment": experiment,
        "resumed": resumed,
        "diverged": [int(d) for d in stats["diverged"]],
    }
    return fields, stats


def require_hidden_layer(config: TrainConfig, data: DataBundle, owner: str) -> None:
    """Raise when the model has no hidden layer for dropout to follow."""
    model = config.build_model(data.X_train.shape[1], data.n_outputs, data.task)
    if model.architecture.n_hidden == 0:
        raise InvalidParameterError(
            f"{owner} sweeps dropout after hidden layers, but the model "
            f"'{model.architecture.spec}' has no hidden layer; give one such as "
            f"'{data.X_train.shape[1]}-64-{data.n_outputs}'."
        )


def check_common(owner: str, seeds: int, epochs: int, jobs: int) -> None:
    """Check the arguments every sweep takes."""
    check_range("seeds", seeds, low=1, integer=True, owner=owner)
    check_range("epochs", epochs, low=1, integer=True, owner=owner)
    check_range("jobs", jobs, low=1, integer=True, owner=owner)


def check_distinct(name: str, values: Sequence[float], owner: str) -> None:
    """Raise when the swept ``values`` are empty or repeat one."""
    if len(values) == 0:
        raise InvalidParameterError(f"The '{name}' parameter of {owner} needs at least one value.")
    if len(set(values)) != len(values):
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} lists a value twice: {list(values)}."
        )


def run_json(record: RunRecord) -> dict[str, Any]:
    """One run of a path or curve in its ``--json`` form."""
    return {
        "config": record.config_name,
        "seed": record.seed,
        "extra": record.extra,
        "metrics": record.metrics,
        "epochs_run": record.epochs_run,
        "stop_reason": record.stop_reason,
        "sparsity": record.sparsity["total"],
        "seconds": record.seconds,
    }


@dataclass
class SweepResult:
    """What a regularization path and a parameter curve share: per-point statistics of the
    validation metric that chose and of the test metric reported beside it, and where the
    runs came from.

    Attributes
    ----------
    metric, test_metric : str
        Validation metric used to choose (``val_accuracy`` or ``val_r2``), and the reported
        test metric.
    higher_is_better : bool
    val_mean, val_se, test_mean, test_se : list of float
        Per point, over seeds.
    records : list of RunRecord
        Every run, point-major.
    data : dict
    experiment : str
        Store experiment name.
    resumed : int
        Runs found in the store instead of trained.
    diverged : list of int
        Seeds whose validation metric is not finite, per point; such a point is never chosen
        and shows as diverged.
    """

    metric: str
    test_metric: str
    higher_is_better: bool
    val_mean: list[float]
    val_se: list[float]
    test_mean: list[float]
    test_se: list[float]
    _: KW_ONLY
    records: list[RunRecord] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict)
    experiment: str = ""
    resumed: int = 0
    diverged: list[int] = field(default_factory=list)

    def point_row(
        self,
        index: int,
        name: str,
        value: float,
        fields: dict[str, Any],
        chosen: dict[str, float],
    ) -> dict[str, Any]:
        """Point ``index`` (``name: value``) as a row: mean and standard error of its
        validation and test metrics (keyed ``<metric>_mean``, ``<metric>_se``...), the
        ``fields``, ``diverged`` seeds and, for every ``chosen`` value, whether it is this
        point's."""
        return {
            name: value,
            f"{self.metric}_mean": self.val_mean[index],
            f"{self.metric}_se": self.val_se[index],
            f"{self.test_metric}_mean": self.test_mean[index],
            f"{self.test_metric}_se": self.test_se[index],
            **fields,
            "diverged": self.diverged[index] if self.diverged else 0,
            **{mark: value == choice for mark, choice in chosen.items()},
        }

    def sweep_json(
        self, kind: str, head: dict[str, Any], points: list[dict[str, Any]], tail: dict[str, Any]
    ) -> dict[str, Any]:
        """The JSON-safe ``--json`` form: ``schema_version``, ``kind``, the ``head`` fields,
        ``metric``, ``test_metric``, ``higher_is_better``, ``points``, the ``tail`` fields,
        ``data``, ``experiment``, ``resumed`` and every run (:func:`run_json`)."""
        return json_safe(
            {
                "schema_version": PATHS_SCHEMA_VERSION,
                "kind": kind,
                **head,
                "metric": self.metric,
                "test_metric": self.test_metric,
                "higher_is_better": self.higher_is_better,
                "points": points,
                **tail,
                "data": self.data,
                "experiment": self.experiment,
                "resumed": self.resumed,
                "runs": [run_json(r) for r in self.records],
            }
        )
