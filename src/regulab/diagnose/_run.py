"""Diagnostics of a training run: read a history, find overfitting, underfitting and instability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regulab.errors import DataError

_MIN_EPOCHS_TO_JUDGE = 3
_ALIASES = {"train_loss": "loss", "train_loss_epoch": "loss", "val_loss_epoch": "val_loss"}


def read_history(source: str | Path | Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Epoch records from a Regulab history or a CSV (Keras CSVLogger, Lightning CSVLogger).

    Lightning writes training and validation values on separate rows of the same epoch;
    rows are merged per epoch. ``train_loss`` is read as ``loss``.

    Examples
    --------
    >>> read_history([{"epoch": 1, "loss": 1.0, "val_loss": 1.1}])[0]["val_loss"]
    1.1
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"History file '{path}' does not exist.")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise DataError(f"Cannot read '{path}' as CSV: {error}".splitlines()[0]) from error
    else:
        frame = pd.DataFrame(list(source))
    found = ", ".join(map(str, frame.columns)) or "no columns"  # as written, before aliases
    frame = frame.rename(columns=_ALIASES)
    missing = [c for c in ("loss", "val_loss") if c not in frame.columns]
    if missing:
        raise DataError(
            f"The history has no {' or '.join(missing)} column; found "
            f"{found}. Expected epoch, loss, val_loss[, metrics]."
        )
    if "epoch" not in frame.columns:
        frame["epoch"] = np.arange(1, len(frame) + 1)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    not_numbers = numeric.isna() & frame.notna()
    if not_numbers.any().any():
        column = str(not_numbers.any().idxmax())
        row = int(np.flatnonzero(not_numbers[column])[0])
        raise DataError(
            f"The history's column '{column}' has a value that is not a number: "
            f"{frame[column].iloc[row]!r} in data row {row + 1}."
        )
    merged = numeric.groupby("epoch", sort=True).agg(
        lambda column: column.dropna().iloc[-1] if column.notna().any() else np.nan
    )
    if len(merged) < 1:
        raise DataError("The history is empty.")
    records = []
    for epoch, row in merged.iterrows():
        record: dict[str, float] = {"epoch": int(epoch)}
        record.update({k: float(v) for k, v in row.items() if k not in ("step",)})
        records.append(record)
    return records


@dataclass(frozen=True)
class RunFinding:
    """A pattern found in a training history, with the number behind it and the action."""

    kind: str  # overfitting, underfitting, instability, still_improving, healthy, too_short
    reading: str
    action: str
    epoch: int | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "kind": self.kind,
            "reading": self.reading,
            "action": self.action,
            "epoch": self.epoch,
            "value": self.value,
        }


@dataclass
class RunDiagnostics:
    """Findings of :func:`diagnose_run` plus the best epoch by validation loss."""

    findings: list[RunFinding]
    best_epoch: int | None
    epochs: int

    @property
    def kinds(self) -> list[str]:
        """Kinds of the findings, e.g. ``["overfitting"]``."""
        return [f.kind for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the ``diagnose-run --json`` contract: ``schema_version``,
        ``epochs``, ``best_epoch``, ``findings``)."""
        return {
            "schema_version": 1,
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "findings": [f.to_dict() for f in self.findings],
        }


def _spikes(values: np.ndarray) -> list[int]:
    """Epoch indices where the loss jumps up far more than its usual change."""
    if len(values) < 4:
        return []
    steps = np.diff(values)
    typical = float(np.median(np.abs(steps))) or 1e-12
    return [i + 1 for i, step in enumerate(steps) if step > max(5 * typical, 0.25 * abs(values[i]))]


def diagnose_run(
    history: str | Path | Sequence[Mapping[str, Any]], *, tolerance: float = 0.02
) -> RunDiagnostics:
    """Find overfitting, underfitting and instability in a history, each with an action.

    Parameters
    ----------
    history : path or list of dict
        A CSV (``epoch, loss, val_loss[, metric...]``) or epoch records.
    tolerance : float, default=0.02
        Relative rise of the validation loss above its minimum that counts as overfitting.

    Examples
    --------
    >>> losses = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1]
    >>> val = [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8]
    >>> records = [{"epoch": i + 1, "loss": a, "val_loss": b}
    ...            for i, (a, b) in enumerate(zip(losses, val))]
    >>> diagnose_run(records).kinds
    ['overfitting']
    """
    records = read_history(history)
    epochs = np.array([r["epoch"] for r in records])
    loss = np.array([r.get("loss", np.nan) for r in records])
    val = np.array([r.get("val_loss", np.nan) for r in records])
    findings: list[RunFinding] = []
    bad = ~np.isfinite(loss) | ~np.isfinite(val)
    if bad.any():
        first = int(epochs[np.argmax(bad)])
        findings.append(
            RunFinding(
                "instability",
                f"The loss became non-finite at epoch {first}.",
                "Lower the learning rate (e.g. by 10x), check inputs for NaN or huge values, and "
                "keep early stopping on so the last finite weights are restored.",
                first,
            )
        )
    finite = np.isfinite(val)
    best_epoch = int(epochs[finite][np.argmin(val[finite])]) if finite.any() else None
    spikes = _spikes(np.where(np.isfinite(loss), loss, np.nan)[np.isfinite(loss)])
    if spikes:
        findings.append(
            RunFinding(
                "instability",
                f"The training loss jumped up at epoch(s) "
                f"{', '.join(str(int(epochs[i])) for i in spikes[:5])}.",
                "Lower the learning rate or add batch normalization; clip gradients if it "
                "persists.",
                int(epochs[spikes[0]]),
            )
        )
    if best_epoch is not None:
        position = int(np.flatnonzero(epochs == best_epoch)[0])
        best_val = float(val[position])
        after = val[position + 1 :]
        later_train = loss[position:]
        seen = after[~np.isnan(after)]  # NaN epochs are reported as instability
        rise = float(seen.max() / best_val - 1) if len(seen) and best_val > 0 else 0.0
        if len(after) >= 2 and rise > tolerance and np.nanmin(later_train) < loss[position]:
            gap = val - loss
            growth = float(np.polyfit(epochs[position:], gap[position:], 1)[0])
            findings.append(
                RunFinding(
                    "overfitting",
                    f"Validation loss was lowest at epoch {best_epoch} ({best_val:.4g}) and rose "
                    f"{rise:.0%} afterwards while training loss kept falling; the gap grows by "
                    f"{growth:.3g} per epoch.",
                    f"Stop at epoch {best_epoch} (EarlyStopping('val_loss', patience=3, "
                    "restore_best_weights=True)) and add or increase dropout or weight decay.",
                    best_epoch,
                    growth,
                )
            )
        elif position == len(val) - 1 and len(val) >= 3 and val[-1] < val[-2]:
            findings.append(
                RunFinding(
                    "still_improving",
                    f"Validation loss was still falling at the last epoch ({val[-1]:.4g}).",
                    "Train for more epochs, with early stopping to pick the stopping point.",
                    int(epochs[-1]),
                    float(val[-1]),
                )
            )
    start = loss[np.isfinite(loss)][:1]
    end = loss[np.isfinite(loss)][-3:]
    if len(start) and len(end) == 3 and start[0] > 0:
        drop = 1 - float(np.mean(end)) / float(start[0])
        flat = float(np.ptp(end)) < 0.02 * abs(float(np.mean(end))) + 1e-12
        recent = val[-3:][np.isfinite(val[-3:])]
        close = (
            len(recent) > 0
            and abs(float(np.mean(recent)) - float(np.mean(end)))
            < 0.1 * abs(float(np.mean(end))) + 1e-12
        )
        if drop < 0.2 and flat and close:
            findings.append(
                RunFinding(
                    "underfitting",
                    f"Training loss fell only {drop:.0%} from the first epoch and is flat, with "
                    "validation loss close to it.",
                    "Add capacity (wider or deeper layers), raise the learning rate, or weaken "
                    "regularization (less dropout, smaller penalties).",
                    value=drop,
                )
            )
    if not findings and len(records) < _MIN_EPOCHS_TO_JUDGE:
        findings.append(
            RunFinding(
                "too_short",
                f"The history has {len(records)} epoch(s): too short to judge overfitting, "
                f"underfitting or instability (at least {_MIN_EPOCHS_TO_JUDGE} are needed).",
                f"Train for {_MIN_EPOCHS_TO_JUDGE} or more epochs and diagnose the whole history.",
            )
        )
    elif not findings:
        findings.append(
            RunFinding(
                "healthy",
                "No overfitting, underfitting or instability detected.",
                "Keep the current settings.",
                best_epoch,
            )
        )
    return RunDiagnostics(findings, best_epoch, len(records))
