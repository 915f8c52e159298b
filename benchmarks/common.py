"""What several benchmarks share: the CPU's name and flags, the held-out fraud rows."""

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


def cpu_flags() -> str:
    """The CPU features that decide reduced-precision speed: AMX, AVX512-BF16, AVX512, AVX2."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next(
                (line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []
            )
    except OSError:
        return "flags unknown"
    wanted = {
        "amx_bf16": "AMX-BF16",
        "avx512_bf16": "AVX512-BF16",
        "avx512f": "AVX512",
        "avx2": "AVX2",
    }
    found = [name for flag, name in wanted.items() if flag in flags]
    return ", ".join(found) if found else "none of AMX, AVX512, AVX2"


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
