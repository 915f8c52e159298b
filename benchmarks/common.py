"""What several benchmarks share: the CPU's name, and the held-out fraud rows they certify."""

from __future__ import annotations

import platform

import numpy as np


def cpu_name() -> str:
    """The CPU's model name, for every figure a benchmark reports."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def certification_rows(y, n_frauds: int, n_legit: int, *, seed: int = 0) -> np.ndarray:
    """Positions of ``n_frauds`` frauds, then ``n_legit`` legitimate rows, of ``y`` at random."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == 1), n_frauds, replace=False),
            rng.choice(np.flatnonzero(y == 0), n_legit, replace=False),
        ]
    )
