"""The advisor on MNIST within its default 5-minute budget (2 cores).

Run::

    .venv/bin/python benchmarks/advise_mnist.py --mnist-dir ../shared/data/mnist
    .venv/bin/python benchmarks/advise_mnist.py --budget 2m     # a shorter smoke run

Prints the diagnostics time, the recommendation, the evidence table (validation loss decides,
test accuracy on the official 10k test set confirms) and checks the target: the recommended
configuration reaches >= 98.0% mean test accuracy.
"""

from __future__ import annotations

import argparse
import time

from _common import DEFAULT_MNIST_DIR, Table, machine_summary, resolve_mnist_dir, verdict
from _common import write_json as write_json_file

from regulab.advise import advise
from regulab.data import load_mnist
from regulab.diagnose import diagnose_data

TARGET = 0.98


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR)
    parser.add_argument("--budget", default="5m")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    print(machine_summary())
    dataset = load_mnist(mnist_dir=resolve_mnist_dir(args.mnist_dir))
    started = time.perf_counter()
    diagnose_data(dataset)
    diagnostics_seconds = time.perf_counter() - started
    print(
        f"diagnose_data on MNIST (60,000 x 784): {diagnostics_seconds:.1f} s (target <= 20 s: "
        f"{verdict(diagnostics_seconds <= 20)})"
    )
    started = time.perf_counter()
    advice = advise(dataset, budget=args.budget, verbose=0)
    seconds = time.perf_counter() - started
    table = Table(
        f"Evidence (seeds {advice.data['seeds']}, {advice.data['epochs']} epochs max)",
        ["config", "val_loss", "test accuracy", "epochs", "mark"],
    )
    for row in advice.evidence:
        mark = (
            "recommended"
            if row["config"] == advice.recommendation
            else ("best" if row["best"] else ("tied" if row["tied"] else ""))
        )
        table.add(
            row["config"],
            f"{row['val_loss_mean']:.4f}",
            f"{row['test_accuracy_mean']:.4f} ± {row['test_accuracy_ci']:.4f}",
            f"{row['epochs_mean']:.1f}",
            mark,
        )
    print(table.render())
    for note in advice.notes:
        print(f"  - {note}")
    accuracy = advice.gain["recommended_mean"]
    print(f"advise wall time {seconds:.0f} s for budget {args.budget}")
    print(f"recommended: {' + '.join(advice.techniques)}")
    print(
        f"test accuracy {accuracy:.4f} (target >= {TARGET}: {verdict(accuracy >= TARGET)}); "
        f"gain over none {advice.gain['mean']:+.4f} ± {advice.gain['ci']:.4f}"
    )
    if args.json:
        write_json_file(
            args.json,
            {
                "diagnostics_seconds": diagnostics_seconds,
                "advise_seconds": seconds,
                "test_accuracy": accuracy,
                "advice": advice.to_json(),
            },
        )


if __name__ == "__main__":
    main()
