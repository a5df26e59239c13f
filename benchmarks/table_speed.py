"""Table preprocessing speed and memory: regulab.tables versus a plain sklearn ColumnTransformer.

A generated mixed table (default 1,000,000 rows x 30 columns: 20 numeric, 10 text columns
of 2 to 20,000 levels with skewed frequencies, 5% missing cells everywhere) is fitted on its
first 80% of rows and then transformed whole. Each method runs in a fresh subprocess per
repeat; peak memory is that process's peak RSS (``resource.getrusage``), printed in full and
above the RSS once the table is built (both processes import the same modules).

- ``regulab``: ``TablePreprocessor(infer_schema(...))``: per-column sklearn fit, numpy
  transform into one preallocated float32 array.
- ``sklearn``: ``ColumnTransformer`` of ``SimpleImputer(median, add_indicator=True) +
  StandardScaler`` and ``OneHotEncoder(handle_unknown="infrequent_if_exist",
  min_frequency=5, max_categories=20, sparse_output=False)``: dense float64 output.

Run::

    .venv/bin/python benchmarks/table_speed.py                 # 1M rows, 3 repeats
    .venv/bin/python benchmarks/table_speed.py --rows 100000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd

LEVELS = (2, 3, 5, 8, 12, 30, 60, 300, 2_000, 20_000)
N_NUMERIC = 20
MISSING = 0.05


def make_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """20 numeric columns and 10 text columns (Zipf-like level frequencies), 5% missing."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for j in range(N_NUMERIC):
        values = rng.normal(loc=j, scale=1.0 + j, size=rows)
        values[rng.random(rows) < MISSING] = np.nan
        columns[f"num_{j}"] = values
    for j, levels in enumerate(LEVELS):
        names = np.array([f"c{j}_level_{k}" for k in range(levels)], dtype=object)
        weights = 1.0 / np.arange(1, levels + 1)
        codes = rng.choice(levels, size=rows, p=weights / weights.sum())
        values = names[codes]
        values[rng.random(rows) < MISSING] = np.nan
        columns[f"text_{j}"] = values
    return pd.DataFrame(columns)


def _run_regulab(frame: pd.DataFrame, n_fit: int) -> tuple[float, float, tuple[int, int]]:
    from regulab.tables import TablePreprocessor, infer_schema

    start = time.perf_counter()
    schema = infer_schema(frame.iloc[:n_fit])
    pre = TablePreprocessor(schema).fit(frame.iloc[:n_fit])
    fitted = time.perf_counter()
    X = pre.transform(frame)
    return fitted - start, time.perf_counter() - fitted, X.shape


def _run_sklearn(frame: pd.DataFrame, n_fit: int) -> tuple[float, float, tuple[int, int]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in frame.columns if c.startswith("num_")]
    text = [c for c in frame.columns if c.startswith("text_")]
    encoder = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=5,
        max_categories=20,
        sparse_output=False,
    )
    ct = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            ("cat", encoder, text),
        ]
    )
    start = time.perf_counter()
    ct.fit(frame.iloc[:n_fit])
    fitted = time.perf_counter()
    X = ct.transform(frame)
    return fitted - start, time.perf_counter() - fitted, X.shape


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(method: str, rows: int) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    import regulab.tables  # noqa: F401  (both methods pay the same imports)

    frame = make_table(rows)
    base = _peak_rss_mib()
    run = _run_regulab if method == "regulab" else _run_sklearn
    fit_s, transform_s, shape = run(frame, int(rows * 0.8))
    peak = _peak_rss_mib()
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "transform_s": transform_s,
                "shape": shape,
                "peak_mib": peak,
                "above_table_mib": peak - base,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["regulab", "sklearn"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return
    results: dict[str, list[dict]] = {"sklearn": [], "regulab": []}
    for _ in range(args.repeats):
        for method in results:
            command = [sys.executable, __file__, "--child", method, "--rows", str(args.rows)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results[method].append(json.loads(output.strip().splitlines()[-1]))
    print(
        f"{args.rows:,} rows x {N_NUMERIC + len(LEVELS)} columns, fit on 80%, transform all; "
        f"medians of {args.repeats} fresh processes"
    )
    print(
        f"{'method':<9} {'fit s':>7} {'transform s':>12} {'total s':>8} {'peak MiB':>9} "
        f"{'above table':>12}  output"
    )
    medians = {}
    for method, runs in results.items():
        m = {
            key: statistics.median(r[key] for r in runs)
            for key in ("fit_s", "transform_s", "peak_mib", "above_table_mib")
        }
        m["total_s"] = m["fit_s"] + m["transform_s"]
        medians[method] = m
        shape = runs[0]["shape"]
        print(
            f"{method:<9} {m['fit_s']:7.1f} {m['transform_s']:12.1f} {m['total_s']:8.1f} "
            f"{m['peak_mib']:9.0f} {m['above_table_mib']:12.0f}  {shape[0]:,} x {shape[1]}"
        )
    ours, base = medians["regulab"], medians["sklearn"]
    print(
        f"regulab / sklearn: time {ours['total_s'] / base['total_s']:.2f}x "
        f"(fit {ours['fit_s'] / base['fit_s']:.2f}x, transform "
        f"{ours['transform_s'] / base['transform_s']:.2f}x), peak memory "
        f"{ours['peak_mib'] / base['peak_mib']:.2f}x; target: time <= 1x, peak < 2048 MiB"
    )


if __name__ == "__main__":
    main()
