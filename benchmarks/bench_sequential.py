"""Sequential (decision-mode) certification against fixed n = 100,000, side by side.

On the demo's fraud model: certified accuracy at radius r and the samples
used per row, on a subsample certified both ways; then the end-to-end time
of decision-mode certification of many fresh ``make_fraud`` rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from run import demo_model  # noqa: E402

from sksmooth import make_fraud  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--radius", type=float, default=0.25)
    parser.add_argument("--compare-rows", type=int, default=300)
    parser.add_argument("--headline-rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    preprocess, smoothed = demo_model(20_000)

    X_test, y_test = make_fraud(args.compare_rows, random_state=1)
    Z = preprocess.transform(X_test)
    start = time.perf_counter()
    fixed = smoothed.certify(Z, y_test)
    fixed_time = time.perf_counter() - start
    start = time.perf_counter()
    sequential = smoothed.certify(Z, y_test, radius=args.radius)
    sequential_time = time.perf_counter() - start
    used = sequential.n_samples
    print(f"{args.compare_rows} make_fraud rows, radius {args.radius}, alpha {smoothed.alpha}")
    print(f"{'mode':<12}{'cert. acc':>10}{'mean samples':>14}{'time (s)':>10}")
    print(
        f"{'fixed n':<12}{fixed.certified_accuracy(args.radius):>10.3f}"
        f"{fixed.n_samples.mean():>14.0f}{fixed_time:>10.1f}"
    )
    print(
        f"{'sequential':<12}{sequential.certified_accuracy(args.radius):>10.3f}"
        f"{used.mean():>14.0f}{sequential_time:>10.1f}"
    )
    # Every sample counts, the n0 selection samples included.
    saved = fixed.total_samples.mean() / sequential.total_samples.mean()
    print(f"samples saved: {saved:.1f}x fewer on average, selection included")
    sizes, counts = np.unique(used, return_counts=True)
    print("rows stopping at each round:", dict(zip(sizes.tolist(), counts.tolist(), strict=True)))

    X_many, y_many = make_fraud(args.headline_rows, random_state=2)
    start = time.perf_counter()
    Z_many = preprocess.transform(X_many)
    many = smoothed.certify(Z_many, y_many, radius=args.radius)
    elapsed = time.perf_counter() - start
    print(
        f"end to end: {args.headline_rows} rows in {elapsed:.1f} s "
        f"({elapsed / args.headline_rows * 1e3:.2f} ms/row), certified accuracy "
        f"{many.certified_accuracy(args.radius):.3f}, mean samples {many.n_samples.mean():.0f}"
    )


if __name__ == "__main__":
    main()
