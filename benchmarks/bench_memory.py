"""Peak memory of ``certify`` on many rows: bounded by the batch, not by rows times n.

A skorch MLP is trained under noise once and pickled. Each configuration then
runs in a fresh Python process, so that the peak resident set size
(``ru_maxrss``) it reports is its own: the process imports the libraries,
loads the model and the rows, warms torch up on one row, then certifies
``rows`` rows with ``n0`` + ``n`` noisy samples each. The table compares what
certify adds to the resident set size it started from with the memory that
holding the noise naively would take: ``n * d * 4`` bytes for one row,
``rows * n * d * 4`` for all of them.

Run from the repository root::

    python benchmarks/bench_memory.py            # 1,000 and 10,000 rows, n = 10,000
    python benchmarks/bench_memory.py --quick    # a few seconds per configuration
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def current_rss_bytes() -> int:
    """Resident set size now (Linux); the peak so far where /proc is missing."""
    try:
        with open("/proc/self/statm") as file:
            resident_pages = int(file.read().split()[1])
    except OSError:
        return peak_rss_bytes()
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def prepare(path: Path, max_rows: int, n_features: int, threads: int) -> None:
    """Train the smoothed MLP on 2,000 rows and pickle it with ``max_rows`` rows to certify."""
    import numpy as np
    import torch
    from sklearn.datasets import make_classification

    from sksmooth import SmoothedClassifier
    from sksmooth.nets import make_mlp_classifier

    torch.set_num_threads(threads)
    n_train = 2000
    X, y = make_classification(
        n_train + max_rows, n_features=n_features, n_informative=10, random_state=0
    )
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    clf = SmoothedClassifier(make_mlp_classifier(max_epochs=5), sigma=0.25, random_state=0).fit(
        X[:n_train], y[:n_train]
    )
    with path.open("wb") as file:
        pickle.dump((clf, np.ascontiguousarray(X[n_train:]), y[n_train:]), file)


def measure(path: str, rows: int, n: int, n0: int, batch_size: int, threads: int) -> dict:
    """Load the model and rows, certify them in this process; return time and memory."""
    import numpy as np
    import torch

    import sksmooth  # noqa: F401

    torch.set_num_threads(threads)
    imports = current_rss_bytes()
    with open(path, "rb") as file:
        clf, X, y = pickle.load(file)
    X, y = X[:rows], y[:rows]
    clf.set_params(n0=n0, n=n, batch_size=batch_size)
    # First calls load kernels and fill caches (a fixed few MiB); a one-row
    # warm-up keeps that out of certify's figure.
    clf.certify(X[:1], n0=1, n=1)
    before = current_rss_bytes()

    start = time.perf_counter()
    result = clf.certify(X, y)
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "n": n,
        "n0": n0,
        "batch_size": batch_size,
        "seconds": seconds,
        "imports_mib": imports / MIB,
        "before_mib": before / MIB,
        "peak_mib": peak_rss_bytes() / MIB,
        "certified_accuracy": float(np.mean(result.correct)),
    }


def run_fresh(task: str, config: dict) -> str:
    """Run ``prepare`` or ``measure`` in a new interpreter; return what it printed.

    On Linux a child's ``ru_maxrss`` starts from its parent's peak, so this
    process imports nothing heavy and leaves all the work to children.
    """
    command = [sys.executable, __file__, f"--{task}", json.dumps(config)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def print_table(results: list[dict], n_features: int) -> None:
    print(
        f"{'rows':>7}{'n':>8}{'batch':>7}{'seconds':>9}{'imports MiB':>13}{'before MiB':>12}"
        f"{'peak MiB':>10}{'certify MiB':>13}{'1-row noise MiB':>17}{'all-rows noise GiB':>20}"
    )
    for r in results:
        one_row = r["n"] * n_features * 4
        print(
            f"{r['rows']:>7}{r['n']:>8}{r['batch_size']:>7}{r['seconds']:>9.1f}"
            f"{r['imports_mib']:>13.0f}{r['before_mib']:>12.0f}{r['peak_mib']:>10.0f}"
            f"{r['peak_mib'] - r['before_mib']:>13.1f}"
            f"{one_row / MIB:>17.2f}{r['rows'] * one_row / 2**30:>20.2f}"
        )
    print(
        "imports: RSS after importing sksmooth, torch, skorch and scikit-learn; before: RSS "
        "with the model and rows loaded and torch warmed up;\npeak: the process's peak RSS; "
        "certify: peak minus before, what certify added."
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
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare:
        config = json.loads(args.prepare)
        prepare(Path(config.pop("path")), **config)
        return
    if args.measure:
        print(json.dumps(measure(**json.loads(args.measure))))
        return
    rows, n = ([200, 1000], 1000) if args.quick else (args.rows, args.n)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "model.pkl")
        run_fresh(
            "prepare",
            {
                "path": path,
                "max_rows": max(rows),
                "n_features": args.features,
                "threads": args.threads,
            },
        )
        for n_rows in rows:
            for batch_size in args.batch_size:
                config = {
                    "path": path,
                    "rows": n_rows,
                    "n": n,
                    "n0": args.n0,
                    "batch_size": batch_size,
                    "threads": args.threads,
                }
                results.append(json.loads(run_fresh("measure", config).splitlines()[-1]))
                print(json.dumps(results[-1]), flush=True)
    print()
    net = f"skorch MLP {args.features} -> 64 -> 64 -> 2"
    print(f"certify: {net}, n0 = {args.n0}, {args.threads} thread(s)")
    print_table(results, args.features)


if __name__ == "__main__":
    main()
