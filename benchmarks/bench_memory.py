"""Peak memory of ``certify`` on many rows: bounded by the batch, not by rows times n.

Each configuration runs in a fresh Python process, so that the peak resident
set size (``ru_maxrss``) it reports is its own. A process imports the
libraries (baseline), fits a skorch MLP under noise on a small training set,
then certifies ``rows`` fresh rows with ``n0`` + ``n`` noisy samples each.
The table compares the peak with the memory that holding the noise naively
would take: ``n * d * 4`` bytes for one row, ``rows * n * d * 4`` for all.

Run from the repository root::

    python benchmarks/bench_memory.py            # 1,000 and 10,000 rows, n = 10,000
    python benchmarks/bench_memory.py --quick    # a few seconds per configuration
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

MIB = 2**20


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def measure(rows: int, n: int, n0: int, batch_size: int, n_features: int, threads: int) -> dict:
    """Fit and certify in this process; return timings and peak memory."""
    import numpy as np
    import torch
    from sklearn.datasets import make_classification

    from sksmooth import SmoothedClassifier
    from sksmooth.nets import make_mlp_classifier

    torch.set_num_threads(threads)
    baseline = peak_rss_bytes()

    n_train = 2000
    X, y = make_classification(
        n_train + rows, n_features=n_features, n_informative=10, random_state=0
    )
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    clf = SmoothedClassifier(
        make_mlp_classifier(max_epochs=5),
        sigma=0.25,
        n0=n0,
        n=n,
        batch_size=batch_size,
        random_state=0,
    ).fit(X[:n_train], y[:n_train])
    before_certify = peak_rss_bytes()

    start = time.perf_counter()
    result = clf.certify(X[n_train:], y[n_train:])
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "n": n,
        "n0": n0,
        "batch_size": batch_size,
        "seconds": seconds,
        "baseline_mib": baseline / MIB,
        "before_certify_mib": before_certify / MIB,
        "peak_mib": peak_rss_bytes() / MIB,
        "certified_accuracy": float(np.mean(result.correct)),
    }


def run_fresh(config: dict) -> dict:
    """Measure one configuration in a new interpreter, so peaks do not mix."""
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_table(results: list[dict], n_features: int) -> None:
    header = (
        f"{'rows':>7}{'n':>8}{'batch':>7}{'seconds':>9}{'peak MiB':>10}{'import MiB':>12}"
        f"{'fit MiB':>9}{'1-row noise MiB':>17}{'all-rows noise GiB':>20}"
    )
    print(header)
    for r in results:
        one_row = r["n"] * n_features * 4
        print(
            f"{r['rows']:>7}{r['n']:>8}{r['batch_size']:>7}{r['seconds']:>9.1f}"
            f"{r['peak_mib']:>10.0f}{r['baseline_mib']:>12.0f}{r['before_certify_mib']:>9.0f}"
            f"{one_row / MIB:>17.2f}{r['rows'] * one_row / 2**30:>20.2f}"
        )
    print(
        "peak MiB: whole process; import MiB: after importing sksmooth, torch, skorch and "
        "scikit-learn; fit MiB: peak before certify."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small rows and n; seconds each")
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(measure(**json.loads(args.worker))))
        return
    rows, n = ([200, 1000], 1000) if args.quick else (args.rows, args.n)
    results = []
    for n_rows in rows:
        for batch_size in args.batch_size:
            config = {
                "rows": n_rows,
                "n": n,
                "n0": args.n0,
                "batch_size": batch_size,
                "n_features": args.features,
                "threads": args.threads,
            }
            results.append(run_fresh(config))
            print(json.dumps(results[-1]), flush=True)
    print()
    net = f"skorch MLP {args.features} -> 64 -> 64 -> 2"
    print(f"certify: {net}, n0 = {args.n0}, {args.threads} thread(s)")
    print_table(results, args.features)


if __name__ == "__main__":
    main()
