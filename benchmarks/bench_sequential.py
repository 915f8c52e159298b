"""Decision-mode certification: the betting test against doubling Clopper-Pearson looks and fixed n.

    python benchmarks/bench_sequential.py                  # 300 rows compared, 1,000,000 end to end
    python benchmarks/bench_sequential.py --headline-rows 100000

On the demo's fraud model, at radius 0.25 and 0.5 (sigma 0.25, alpha 0.001),
on the same fresh ``make_fraud`` rows:

- fixed n: ``certify(X)``, n0 = 100 selection and n = 100,000 estimation votes;
- doubling looks (the previous decision mode): n0 = 100 selection votes, then
  Clopper-Pearson bounds after 100, 200, 400, ... estimation votes, each at
  level alpha / 11 (union bound over the looks), a row stopping once
  certified or hopeless; written here from that procedure;
- betting (decision mode now, ``certify(X, radius=r)``): every class tested
  by a test supermartingale, no selection votes (see
  ``sksmooth.certification._betting``).

Certified accuracy at r, and the mean votes per row with the selection votes
included. Then the headline: decision-mode certification of many fresh rows
end to end (preprocessing included), its time, votes per row, certified
accuracy and peak memory (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_name  # noqa: E402
from run import demo_model  # noqa: E402

from sksmooth import make_fraud  # noqa: E402
from sksmooth.certification._sequential import (  # noqa: E402
    sequential_lower_bounds,
    sequential_schedule,
)


def doubling_looks(smoothed, Z, radius):
    """The previous decision mode: selection, then Clopper-Pearson at doubling looks."""
    noise_model = smoothed._noise_model()
    threshold = max(noise_model.required_probability(radius, noise_model.noise.default_norm), 0.5)
    seed = smoothed._call_seed()
    n0, n_cap = 100, smoothed.n
    candidate = smoothed._count_votes(Z, "select", n0, seed=seed).argmax(axis=1)

    def draw_candidate_votes(rows, look, n_new):
        votes = smoothed._count_votes(Z[rows], f"estimate{look}", n_new, seed=seed)
        return votes[np.arange(len(rows)), candidate[rows]]

    def unfinished(lower, upper, count_a, n_drawn):
        return ~(((lower >= threshold) & (lower > 0.5)) | (upper < threshold))

    p_lower, n_used = sequential_lower_bounds(
        draw_candidate_votes, len(Z), n_cap=n_cap, alpha=smoothed.alpha, unfinished=unfinished
    )
    label = smoothed.classes_[candidate]
    return label, p_lower >= threshold, n_used + n0


def compare(smoothed, Z, y, radius) -> list[dict]:
    rows = []
    start = time.perf_counter()
    fixed = smoothed.certify(Z, y)
    rows.append(
        {
            "radius": radius,
            "method": "fixed n (n0 100, n 100,000)",
            "certified accuracy": fixed.certified_accuracy(radius),
            "mean votes/row": fixed.total_samples.mean(),
            "s": time.perf_counter() - start,
        }
    )
    start = time.perf_counter()
    label, certified, used = doubling_looks(smoothed, Z, radius)
    rows.append(
        {
            "radius": radius,
            "method": f"doubling looks ({len(sequential_schedule(smoothed.n))} looks, n0 100)",
            "certified accuracy": float(np.mean(certified & (label == y))),
            "mean votes/row": used.mean(),
            "s": time.perf_counter() - start,
        }
    )
    start = time.perf_counter()
    betting = smoothed.certify(Z, y, radius=radius)
    rows.append(
        {
            "radius": radius,
            "method": "betting (decision mode)",
            "certified accuracy": betting.certified_accuracy(radius),
            "mean votes/row": betting.total_samples.mean(),
            "s": time.perf_counter() - start,
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare-rows", type=int, default=300)
    parser.add_argument("--headline-rows", type=int, default=1_000_000)
    parser.add_argument("--radius", type=float, default=0.25)
    args = parser.parse_args()
    print(
        f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )
    preprocess, smoothed = demo_model(20_000)
    X, y = make_fraud(args.compare_rows, random_state=1)
    Z, y = preprocess.transform(X), y.to_numpy()
    table = pd.DataFrame([row for r in (0.25, 0.5) for row in compare(smoothed, Z, y, r)])
    print(f"{args.compare_rows} make_fraud rows, sigma {smoothed.sigma}, alpha {smoothed.alpha}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    X_many, y_many = make_fraud(args.headline_rows, random_state=2)
    start = time.perf_counter()
    Z_many = preprocess.transform(X_many)
    many = smoothed.certify(Z_many, y_many.to_numpy(), radius=args.radius)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"end to end: {args.headline_rows:,} rows at radius {args.radius} in {elapsed:.1f} s "
        f"({elapsed / args.headline_rows * 1e3:.3f} ms/row), certified accuracy "
        f"{many.certified_accuracy(args.radius):.4f}, mean votes/row "
        f"{many.total_samples.mean():.1f} (selection included), peak RSS "
        f"{peak / 2**10:,.0f} MiB ({(peak - before) / 2**10:,.0f} MiB above the peak before "
        "the rows were generated)"
    )
    sizes, counts = np.unique(many.n_samples, return_counts=True)
    top = np.argsort(counts)[::-1][:5]
    print("most common votes/row:", {int(sizes[i]): int(counts[i]) for i in top})


if __name__ == "__main__":
    main()
