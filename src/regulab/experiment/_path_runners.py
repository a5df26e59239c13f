"""How a path is solved: warm-started from one strength to the next, or every point cold.

:func:`warm_path` is glmnet's way: each seed runs from the strongest strength to the weakest,
each point starting from the previous point's weights, all seeds stacked at each point, and a
*trapped* seed (:func:`trapped`) restarting from its initial weights. :func:`cold_path` trains
every strength and seed independently (stacked, in parallel, resumable run by run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from regulab._version import __version__
from regulab.experiment._compare import run_specs
from regulab.experiment._records import RunRecord
from regulab.experiment._runner import (
    DataBundle,
    RunSpec,
    fresh_models,
    record_from_result,
    train_stack,
)
from regulab.penalties import penalized_weights
from regulab.training import FitResult
from regulab.training._progress import stage_bar

__all__ = ["RecordList", "stored_records", "warm_path", "cold_path", "trapped"]

RecordList = list[RunRecord]


def stored_records(store: Any, keys: Sequence[str], group: str) -> dict[str, RunRecord] | None:
    """The stored records of ``keys`` when every one of them is stored, else None."""
    if store is None or not keys:
        return None
    if not set(keys) <= store.keys():
        return None
    wanted = set(keys)
    found = {r.run_key: r for r in store.records(group=group) if r.run_key in wanted}
    return found if len(found) == len(wanted) else None


def warm_path(
    all_specs: list[list[RunSpec]],
    grid: list[float],
    bundle: DataBundle,
    store: Any,
    experiment: str,
    first_results: list[FitResult] | None,
    stored_for: Callable[[list[float]], dict[str, RunRecord] | None],
    spec_key: Callable[[RunSpec, list[float]], str],
    verbose: int,
) -> tuple[list[RecordList], int]:
    """Train the path point by point, each from the previous point's weights.

    ``all_specs`` holds one list of specs (one per seed) per strength, strongest first;
    ``first_results`` are the first point's runs when the strength search already trained
    them. The whole path is reused when ``stored_for(grid)`` finds it in the store, else
    every record is stored as its point finishes. Returns the records per point and the
    number reused.
    """
    keys = [[spec_key(spec, grid) for spec in specs] for specs in all_specs]
    found = stored_for(grid)
    if found is not None:
        return [[found[k] for k in point] for point in keys], sum(len(p) for p in keys)
    records: list[RecordList] = []
    models: list[nn.Module] = []
    with stage_bar(verbose, "path") as bars:
        bar = bars.add_task("", total=sum(len(s) for s in all_specs))
        for index, specs in enumerate(all_specs):
            restarted = [False] * len(specs)
            if index == 0:
                results = first_results or train_stack(specs, fresh_models(specs, bundle), bundle)
            else:
                restarted = [trapped(model) for model in models]
                if any(restarted):
                    fresh = fresh_models(specs, bundle)
                    models = [f if r else m for m, f, r in zip(models, fresh, restarted)]
                results = train_stack(specs, models, bundle)
            models = [r.model for r in results]
            point = [
                record_from_result(
                    spec, result, bundle, __version__, key=key, seconds=result.seconds / len(specs)
                )
                for spec, result, key in zip(specs, results, keys[index])
            ]
            for record, restart in zip(point, restarted):
                record.extra["restarted"] = restart
            if store is not None:
                for record in point:
                    store.add(record, experiment)
            records.append(point)
            bars.update(bar, advance=len(specs))
    return records, 0


def trapped(model: nn.Module) -> bool:
    """True when two or more weight matrices are entirely zero.

    The forward signal is then cut at the first of them (later activations are constant) and
    the backward signal at the last, so once the biases fit, no weight receives a data
    gradient: an exact stationary point of the unpenalized loss that warm starts never leave.
    """
    return sum(not bool(w.detach().any()) for _, w in penalized_weights(model)) >= 2


def cold_path(
    all_specs: list[list[RunSpec]],
    bundle: DataBundle,
    store: Any,
    experiment: str,
    first_results: list[FitResult] | None,
    jobs: int,
    verbose: int,
) -> tuple[list[RecordList], int]:
    """Train every strength and seed independently (``first_results``: the first point's
    runs, already trained), reusing stored runs one by one. Returns the records per point
    and the number reused."""
    done: dict[str, RunRecord] = {}
    if first_results is not None:
        for spec, result in zip(all_specs[0], first_results):
            key = spec.key(bundle.fingerprint)
            done[key] = record_from_result(
                spec,
                result,
                bundle,
                __version__,
                key=key,
                seconds=result.seconds / len(first_results),
            )
            if store is not None:
                store.add(done[key], experiment)
    missing = [s for specs in all_specs for s in specs if s.key(bundle.fingerprint) not in done]
    trained, resumed = run_specs(
        missing, bundle, store=store, experiment=experiment, jobs=jobs, verbose=verbose
    )
    done.update({r.run_key: r for r in trained})
    return [[done[s.key(bundle.fingerprint)] for s in specs] for specs in all_specs], resumed
