"""Progress bars (rich): a per-epoch bar that ``verbose=0`` silences, and the stage bars of
experiments, which draw only on a live terminal (or notebook): redirected to a log or a pipe,
a finished stage leaves no line behind."""

from __future__ import annotations

from typing import Any

from rich import get_console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

__all__ = ["Progress", "stage_bar"]


def stage_bar(verbose: int, label: str) -> RichProgress:
    """A bar of runs done labelled ``label``: silent when ``verbose`` is 0 or when the
    output is not a terminal, where each finished stage would leave a line in the log.

    Examples
    --------
    >>> with stage_bar(0, "runs") as bars:
    ...     task = bars.add_task("", total=2)
    ...     bars.update(task, advance=2)
    """
    console = get_console()
    return RichProgress(
        TextColumn(f"[bold]{label}"),
        MofNCompleteColumn(),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not verbose or not (console.is_terminal or console.is_jupyter),
    )


def _summary(records: list[dict[str, Any]], active: int) -> str:
    if len(records) == 1:
        keys = ("loss", "val_loss", "val_accuracy", "val_r2")
        return "  ".join(f"{k} {records[0][k]:.4f}" for k in keys if k in records[0])
    key = "val_loss" if "val_loss" in records[0] else "loss"
    best = min(r[key] for r in records)
    return f"{active}/{len(records)} models training  best {key} {best:.4f}"


class Progress:
    """Epoch bar with the latest metrics; does nothing when ``verbose`` is 0."""

    def __init__(self, epochs: int, members: int, verbose: int) -> None:
        self._bar: RichProgress | None = None
        if verbose:
            self._bar = RichProgress(
                TextColumn("[bold]epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=False,
            )
            self._task = self._bar.add_task("", total=epochs)
            self._bar.start()

    def update(self, epoch: int, records: list[dict[str, Any]], active: int) -> None:
        """Show epoch ``epoch`` done with the members' latest records."""
        if self._bar is not None:
            self._bar.update(self._task, completed=epoch, description=_summary(records, active))

    def close(self) -> None:
        """Stop drawing."""
        if self._bar is not None:
            self._bar.stop()
