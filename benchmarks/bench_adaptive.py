"""Adaptive mode against fixed n on simulated votes: abstention, radius, samples.

Rows whose candidate has probability ``pA`` under noise, their votes drawn
from the binomial directly (no model), so the comparison is exact in
distribution and takes seconds: fixed ``n = 100,000`` against adaptive mode
capped at the same ``n``, at ``alpha = 0.001``, Gaussian noise, sigma 1.
"""

from __future__ import annotations

import numpy as np

from sksmooth.certification import certify_votes, sequential_certify_votes
from sksmooth.noise import make_noise_model

ROWS, N, ALPHA, N0 = 4000, 100_000, 0.001, 100


def main() -> None:
    model = make_noise_model("gaussian", 1.0, n_features=2)
    print(f"{ROWS} rows per pA, n0={N0}, n=n_cap={N}, alpha={ALPHA}, radii in sigmas")
    for p_a in (0.52, 0.55, 0.6, 0.75, 0.9):
        rng = np.random.default_rng(0)
        selection = np.tile([N0, 0], (ROWS, 1))
        count = rng.binomial(N, p_a, ROWS)
        fixed = certify_votes(
            selection, np.stack([count, N - count], 1), alpha=ALPHA, noise_model=model, norm="l2"
        )

        def draw_votes(rows, look, n_new, p_a=p_a, rng=rng):
            votes = rng.binomial(n_new, p_a, len(rows))
            return np.stack([votes, n_new - votes], 1)

        adaptive = sequential_certify_votes(
            selection, draw_votes, n_cap=N, alpha=ALPHA, noise_model=model, norm="l2"
        )
        print(
            f"pA={p_a}: abstain fixed {fixed.abstained.mean():.3f}, adaptive "
            f"{adaptive.abstained.mean():.3f}; mean radius fixed {fixed.radius.mean():.3f}, "
            f"adaptive {adaptive.radius.mean():.3f}; largest loss "
            f"{np.max(fixed.radius - adaptive.radius):.3f}; mean samples (selection "
            f"included) adaptive {(N0 + adaptive.n_samples).mean():.0f} of {N0 + N}"
        )


if __name__ == "__main__":
    main()
