"""Certify on a shared machine: quiet, then with one competing busy process, side by side.

    python benchmarks/bench_busy.py            # n = 100,000, about 5 minutes on 2 cores
    python benchmarks/bench_busy.py --quick    # n = 20,000, about a minute

One row certified (n0 = 100) at a time, at torch's default thread count, by
sksmooth as it ships (worker threads, each running torch single-threaded),
sksmooth with the previous policy (one thread per batch and torch's intra-op
threads), the bare minimum and the reference algorithm. Phases alternate:
quiet, then busy (the benchmark starts one process that spins on a core,
bounded in time, and stops it after the phase), twice; within a phase the
implementations are interleaved. The table gives the median time per row in
each phase and busy / quiet for each implementation.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_name  # noqa: E402
from peers import BareMinimum, ReferenceAlgorithm  # noqa: E402
from run import Sksmooth, demo_model, reference_module  # noqa: E402

import sksmooth._monte_carlo as monte_carlo  # noqa: E402
from sksmooth import make_fraud  # noqa: E402

SIGMA, ALPHA, N0, BATCH_SIZE = 0.5, 0.001, 100, 1000
SPIN = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


class IntraOpThreads(Sksmooth):
    """sksmooth with the previous thread policy: one thread per batch, intra-op threads."""

    def certify(self, x):
        with _patched(monte_carlo, "cpu_workers", lambda: 1):
            return super().certify(x)


@contextlib.contextmanager
def _patched(module, name, value):
    before = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, before)


@contextlib.contextmanager
def busy_process(limit_s: float):
    """One process spinning on a core for at most ``limit_s`` seconds, stopped on exit."""
    process = subprocess.Popen([sys.executable, "-c", SPIN.format(limit=limit_s)])
    time.sleep(0.5)  # let it reach the scheduler
    try:
        yield
    finally:
        process.kill()
        process.wait()


def implementations(module, n):
    params = {"sigma": SIGMA, "n0": N0, "n": n, "n_samples": 100, "alpha": ALPHA}
    return {
        "sksmooth (worker threads)": Sksmooth(
            module, 2, precision="float32", batch_size=BATCH_SIZE, **params
        ),
        "sksmooth (intra-op threads, before)": IntraOpThreads(
            module, 2, precision="float32", batch_size=BATCH_SIZE, **params
        ),
        "bare minimum": BareMinimum(module, 2, batch_size=BATCH_SIZE, **params),
        "reference algorithm": ReferenceAlgorithm(module, 2, batch_size=BATCH_SIZE, **params),
    }


def measure(task: str, module, rows: np.ndarray, n: int, repeats: int, cycles: int):
    impls = implementations(module, n)
    for impl in impls.values():
        impl.certify(rows[0])  # warm up
    times = {(name, phase): [] for name in impls for phase in ("quiet", "busy")}
    for cycle in range(cycles):
        for phase in ("quiet", "busy"):
            context = busy_process(600) if phase == "busy" else contextlib.nullcontext()
            with context:
                for repeat in range(repeats):
                    x = rows[(cycle * repeats + repeat) % len(rows)]
                    for name, impl in impls.items():
                        start = time.perf_counter()
                        impl.certify(x)
                        times[name, phase].append(time.perf_counter() - start)
    out = []
    for name in impls:
        quiet = float(np.median(times[name, "quiet"]))
        busy = float(np.median(times[name, "busy"]))
        out.append(
            {
                "task": task,
                "implementation": name,
                "quiet ms/row": 1e3 * quiet,
                "busy ms/row": 1e3 * busy,
                "busy / quiet": busy / quiet,
            }
        )
    table = pd.DataFrame(out)
    minimum = table.loc[table.implementation == "bare minimum", "quiet ms/row"].iloc[0]
    table["quiet x minimum"] = table["quiet ms/row"] / minimum
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else 100_000
    repeats, cycles = (3, 2) if args.quick else (5, 2)
    print(
        f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads (default), sksmooth workers "
        f"{monte_carlo.cpu_workers()}; certify n0 {N0}, n {n}, one row per call, "
        f"{repeats} rows x {cycles} cycles per phase"
    )
    tables = [
        measure(
            "reference MLP 30-256-256-2",
            reference_module().eval(),
            np.random.default_rng(0).normal(size=(20, 30)),
            n,
            repeats,
            cycles,
        )
    ]
    preprocess, smoothed = demo_model(2000 if args.quick else 20_000)
    fraud_rows = preprocess.transform(make_fraud(20, random_state=1)[0])
    tables.append(
        measure(
            "demo fraud net",
            smoothed.estimator_.module_.eval(),
            np.ascontiguousarray(fraud_rows, dtype=np.float64),
            n,
            repeats,
            cycles,
        )
    )
    table = pd.concat(tables, ignore_index=True)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))


if __name__ == "__main__":
    main()
