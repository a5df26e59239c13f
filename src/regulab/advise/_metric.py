"""The metric the advisor selects on and the one it reports: scikit-learn scorer names
mapped to the metrics every run records (``val_*`` at the returned epoch, ``test_*``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from regulab.errors import InvalidParameterError
from regulab.experiment import RunRecord
from regulab.stats import higher_is_better

__all__ = ["Metric", "LOG_LOSS", "METRICS", "selection_metric", "headline_metric"]

#: scikit-learn scorer name -> (the metric runs record, the task it applies to).
METRICS: dict[str, tuple[str, str]] = {
    "log_loss": ("loss", "classification"),
    "neg_log_loss": ("loss", "classification"),
    "roc_auc": ("roc_auc", "classification"),
    "roc_auc_ovr": ("roc_auc", "classification"),
    "balanced_accuracy": ("balanced_accuracy", "classification"),
    "accuracy": ("accuracy", "classification"),
    "f1_macro": ("f1_macro", "classification"),
    "r2": ("r2", "regression"),
    "neg_mean_squared_error": ("mse", "regression"),
    "neg_mean_absolute_error": ("mae", "regression"),
}


@dataclass(frozen=True)
class Metric:
    """A metric runs record (``loss``, ``roc_auc``...) under the name the user gave it.

    :meth:`score` and :meth:`values` orient it so that lower is better (a higher-is-better
    metric is negated), which is what the one-standard-error choice expects.

    Examples
    --------
    >>> metric = selection_metric("roc_auc", "classification")
    >>> metric.key, metric.higher, metric.test_key
    ('val_roc_auc', True, 'test_roc_auc')
    """

    name: str
    metric: str

    @property
    def key(self) -> str:
        """The validation metric in a run's record."""
        return f"val_{self.metric}"

    @property
    def test_key(self) -> str:
        """The test twin in a run's record."""
        return f"test_{self.metric}"

    @property
    def label(self) -> str:
        """How sentences name it: ``validation loss``, ``validation roc_auc``."""
        return f"validation {self.metric}"

    @property
    def higher(self) -> bool:
        """Whether larger values are better."""
        return higher_is_better(self.metric)

    def score(self, record: RunRecord) -> float:
        """The record's validation value, oriented lower-is-better."""
        value = float(record.metrics.get(self.key, float("nan")))
        return -value if self.higher else value

    def values(self, records: Sequence[RunRecord]) -> dict[str, dict[int, float]]:
        """``config -> {fold or seed: oriented value}``; a fold's seed identifies it."""
        table: dict[str, dict[int, float]] = {}
        for record in records:
            table.setdefault(record.config_name, {})[record.seed] = self.score(record)
        return table


#: The default selection metric: validation loss (log loss, or MSE for regression).
LOG_LOSS = Metric("log_loss", "loss")


def selection_metric(name: str | None, task: str) -> Metric:
    """The :class:`Metric` of a scikit-learn scorer name for ``task`` (``None``: the loss).

    Examples
    --------
    >>> selection_metric(None, "regression").key
    'val_loss'
    >>> selection_metric("accuracy", "regression")
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: The metric 'accuracy' does not apply to regression; choose one of: r2, neg_mean_squared_error, neg_mean_absolute_error.
    """  # noqa: E501
    if name is None:
        return LOG_LOSS if task == "classification" else Metric("neg_mean_squared_error", "loss")
    allowed = [scorer for scorer, (_, kind) in METRICS.items() if kind == task]
    if name not in METRICS:
        raise InvalidParameterError(
            f"Unknown metric {name!r}; choose one of: {', '.join(allowed)}."
        )
    recorded, kind = METRICS[name]
    if kind != task:
        raise InvalidParameterError(
            f"The metric {name!r} does not apply to {task}; choose one of: {', '.join(allowed)}."
        )
    return Metric(name, recorded)


def headline_metric(selection: Metric, task: str, rare: bool, named: bool) -> str:
    """The test metric the gain is reported in.

    The metric the user ``named`` (log loss included); otherwise accuracy, R² for
    regression, or ROC AUC when a class is ``rare`` (a majority-class predictor has high
    accuracy but ROC AUC 0.5).

    Examples
    --------
    >>> headline_metric(LOG_LOSS, "classification", rare=True, named=False)
    'test_roc_auc'
    """
    if named:
        return selection.test_key
    if task == "regression":
        return "test_r2"
    return "test_roc_auc" if rare else "test_accuracy"
