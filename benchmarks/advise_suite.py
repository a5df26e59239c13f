"""The advisor against plain scikit-learn models on data it has never seen (issue 8).

Run::

    .venv/bin/python benchmarks/advise_suite.py                 # 3 minutes per case
    .venv/bin/python benchmarks/advise_suite.py --budget 30s    # a quick pass

Each case has known structure (``regulab.data.make_synthetic``, Friedman's smooth rule)
or is a data set scikit-learn ships. A test part is split off first and never reaches the
advisor; the advisor's pick is refit on every remaining row (``advice.refit``) and scored
there, beside the unregularized 128-64 network (same epochs) and the best scikit-learn reference:
LogisticRegressionCV (L1 and L2) or RidgeCV, LassoCV and ElasticNetCV, and
MLPClassifier/MLPRegressor with early stopping. Targets: the pick is at least as good as the
baseline within one standard error (paired over test rows) on every case, within 1 point of
accuracy (0.01 R^2) of the best reference on at least 80% of the cases, and never more than
3 points behind.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from _common import Table, load_average, machine_summary, verdict
from _common import write_json as write_json_file
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_friedman1,
)
from sklearn.linear_model import ElasticNetCV, LassoCV, LogisticRegressionCV, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from regulab.advise import advise
from regulab.data import Dataset, make_synthetic
from regulab.estimators import RegularizedMLPClassifier, RegularizedMLPRegressor

Maker = Callable[[], tuple[np.ndarray, np.ndarray, str]]


def _synthetic(**options: Any) -> Maker:
    def make() -> tuple[np.ndarray, np.ndarray, str]:
        data = make_synthetic(**options)
        return data.X, data.y, data.task

    return make


def _shipped(loader: Any, task: str) -> Maker:
    def make() -> tuple[np.ndarray, np.ndarray, str]:
        X, y = loader(return_X_y=True)
        return X.astype(np.float32), y, task

    return make


def _smooth_rule(n_samples: int, seed: int) -> Maker:
    """Friedman's smooth non-linear rule (5 of 20 features, sin/square terms) thresholded at
    its median: a two-class problem a linear model cannot solve."""

    def make() -> tuple[np.ndarray, np.ndarray, str]:
        X, score = make_friedman1(n_samples, n_features=20, noise=1.0, random_state=seed)
        X = (X - 0.5) * np.sqrt(12)  # unit variance
        return X.astype(np.float32), (score > np.median(score)).astype(int), "classification"

    return make


# name -> (data maker, test part); the synthetic cases add 1,000 test rows to their size
CASES: dict[str, tuple[Maker, float]] = {
    "sparse 600x300, 8 informative": (
        _synthetic(n_samples=1600, n_informative=8, n_irrelevant=292, seed=11),
        1000 / 1600,
    ),
    "dense 150x100, all weak": (
        _synthetic(n_samples=1150, n_informative=100, n_irrelevant=0, seed=12),
        1000 / 1150,
    ),
    "30% labels flipped, 800 rows": (
        _synthetic(n_samples=1800, n_informative=6, n_irrelevant=14, label_noise=0.3, seed=13),
        1000 / 1800,
    ),
    "correlated groups, 400 rows": (
        _synthetic(
            n_samples=1400, n_informative=8, n_groups=2, correlation=0.9, n_irrelevant=20, seed=14
        ),
        1000 / 1400,
    ),
    "diabetes (regression)": (_shipped(load_diabetes, "regression"), 0.25),
    "breast cancer": (_shipped(load_breast_cancer, "classification"), 0.3),
    "wine": (_shipped(load_wine, "classification"), 0.3),
    "digits": (_shipped(load_digits, "classification"), 0.3),
    "smooth non-linear, 12,000 rows": (_smooth_rule(15_000, seed=15), 3000 / 15_000),
}


def _scaled(model: Any) -> Any:
    return make_pipeline(StandardScaler(), model)


def _references(task: str, seed: int) -> dict[str, Any]:
    if task == "classification":
        return {
            "LogisticRegressionCV L2": _scaled(LogisticRegressionCV(max_iter=2000)),
            "LogisticRegressionCV L1": _scaled(
                LogisticRegressionCV(penalty="l1", solver="saga", max_iter=2000)
            ),
            "MLPClassifier(early_stopping)": _scaled(
                MLPClassifier(early_stopping=True, max_iter=500, random_state=seed)
            ),
        }
    return {
        "RidgeCV": _scaled(RidgeCV(alphas=np.logspace(-3, 3, 13))),
        "LassoCV": _scaled(LassoCV(random_state=seed)),
        "ElasticNetCV": _scaled(ElasticNetCV(l1_ratio=[0.2, 0.5, 0.8], random_state=seed)),
        "MLPRegressor(early_stopping)": _scaled(
            MLPRegressor(early_stopping=True, max_iter=1000, random_state=seed)
        ),
    }


def _per_row(task: str, y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-test-row score: correct (classification) or minus the squared error."""
    return (predicted == y).astype(float) if task == "classification" else -((predicted - y) ** 2)


def _score(task: str, y: np.ndarray, predicted: np.ndarray) -> float:
    if task == "classification":
        return float(np.mean(predicted == y))
    return float(1 - np.mean((predicted - y) ** 2) / np.var(y))


def _paired_se(task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of score(a) - score(b) over the test rows (R^2 units for regression)."""
    diff = _per_row(task, y, a) - _per_row(task, y, b)
    scale = 1.0 if task == "classification" else 1 / float(np.var(y))
    return float(diff.std(ddof=1) / np.sqrt(len(diff)) * scale)


EVIDENCE_ROWS = 8  # the advisor's best configs kept in the JSON (validation side only)


def _evidence_row(row: dict[str, Any]) -> dict[str, Any]:
    """The validation-side columns of one evidence row (no test metric)."""
    keep = ("config", "n_seeds", "best", "tied", "preferred", "sparsity_mean", "epochs_mean")
    return {
        **{key: row[key] for key in keep if key in row},
        **{key: row[key] for key in row if key.startswith("val_")},
    }


def run_case(name: str, budget: str, seed: int) -> dict[str, Any]:
    """Advise on the training part, refit the pick, score it and the references on the test
    part."""
    make, test_share = CASES[name]
    X, y, task = make()
    X_fit, X_test, y_fit, y_test = train_test_split(
        X,
        y,
        test_size=test_share,
        stratify=y if task == "classification" else None,
        random_state=seed,
    )
    names = [f"x{j}" for j in range(X.shape[1])]
    dataset = Dataset(X_fit.astype(np.float32), y_fit, task, names, name.split(" ")[0])
    advice = advise(dataset, budget=budget, seed=seed, verbose=0)
    pick = advice.refit(X_fit, y_fit).predict(X_test)
    network = RegularizedMLPClassifier if task == "classification" else RegularizedMLPRegressor
    baseline_model: Any = _scaled(
        network((128, 64), epochs=advice.data["epochs"], random_state=seed)
    )
    if task == "regression":  # the same target scaling the advisor's refit uses
        baseline_model = TransformedTargetRegressor(baseline_model, transformer=StandardScaler())
    baseline = baseline_model.fit(X_fit, y_fit).predict(X_test)
    references = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, model in _references(task, seed).items():
            references[label] = _score(task, y_test, model.fit(X_fit, y_fit).predict(X_test))
    best_reference = max(references, key=lambda k: references[k])
    return {
        "case": name,
        "task": task,
        "rows": len(X_fit),
        "features": X.shape[1],
        "pick": advice.recommendation,
        "estimator": advice.to_json()["recommendation"]["estimator"],
        "selection": advice.data["selection"],
        "evidence": [_evidence_row(row) for row in advice.evidence[:EVIDENCE_ROWS]],
        "notes": advice.notes,
        "advise_seconds": advice.seconds,
        "pick_score": _score(task, y_test, pick),
        "baseline_score": _score(task, y_test, baseline),
        "baseline_se": _paired_se(task, y_test, pick, baseline),
        "references": references,
        "best_reference": best_reference,
        "best_reference_score": references[best_reference],
    }


def _chosen_cases(option: str) -> list[str]:
    """The cases whose names start with one of the comma-separated prefixes (all by default;
    the names hold commas themselves, so a prefix such as ``sparse`` or ``30%`` names one)."""
    prefixes = [p.strip() for p in option.split(",") if p.strip()]
    unknown = [p for p in prefixes if not any(name.startswith(p) for name in CASES)]
    if unknown:
        raise SystemExit(f"--cases: no case starts with {unknown[0]!r}; cases: {list(CASES)}")
    return [name for name in CASES if not prefixes or any(name.startswith(p) for p in prefixes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="3m", help="Advisor budget per case, e.g. 30s.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cases",
        default="",
        help="Comma-separated prefixes of case names, e.g. sparse,digits (default all).",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(machine_summary())
    chosen = _chosen_cases(args.cases)
    results = []
    for name in chosen:
        result = run_case(name, args.budget, args.seed)
        results.append(result)
        print(
            f"done: {name} ({result['advise_seconds']:.0f} s, load {load_average()}): pick "
            f"{result['pick']} {result['pick_score']:.4f}, no reg. {result['baseline_score']:.4f}, "
            f"{result['best_reference']} {result['best_reference_score']:.4f}",
            flush=True,
        )
        if args.json:  # every finished case, so that an interrupted run keeps them
            write_json_file(args.json, {"budget": args.budget, "results": results})
    table = Table(
        f"Advisor suite (budget {args.budget} per case; test parts never seen by the advisor)",
        ["case", "pick", "pick score", "no reg.", "best sklearn reference", "ref.", "gap", ""],
    )
    close, all_ok = 0, True
    for r in results:
        gap = r["pick_score"] - r["best_reference_score"]
        within = gap >= -0.01
        ok = r["pick_score"] >= r["baseline_score"] - r["baseline_se"] and gap >= -0.03
        close += within
        all_ok &= ok
        table.add(
            r["case"],
            r["pick"],
            f"{r['pick_score']:.4f}",
            f"{r['baseline_score']:.4f}",
            r["best_reference"],
            f"{r['best_reference_score']:.4f}",
            f"{gap:+.4f}",
            verdict(ok and within),
        )
    print(table.render())
    print(
        f"within 1 point (0.01 R^2) of the best reference on {close}/{len(results)} cases "
        f"(target >= 80%: {verdict(close >= 0.8 * len(results))}); at least the baseline "
        f"within one SE and never 3 points behind on every case: {verdict(all_ok)}"
    )
    if args.json:
        write_json_file(args.json, {"budget": args.budget, "results": results})


if __name__ == "__main__":
    main()
