"""Monte Carlo vote counting: batched noisy forward passes of the base classifier.

Each row's noise is drawn from its own generator, seeded from the fitted
seed, a stream name and the row's bytes (see :func:`row_seeds`). Counts are
therefore independent of batch size, row order, sharding and which other rows
are classified alongside, which is what makes a smoothed classifier behave as
a deterministic function of its input once fitted.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

__all__ = ["count_votes", "row_seeds"]

# Noise is drawn per row in pieces of at most this many samples (equal to
# the default batch_size, so default batches are whole pieces). The piece
# size is fixed (not ``batch_size``) so that the drawn numbers never depend
# on how samples are grouped into forward passes.
NOISE_PIECE = 1000


def row_seeds(X: np.ndarray, seed: int, stream: str) -> list[int]:
    """Derive one 64-bit generator seed per row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features), float64, C-contiguous
        Rows in their canonical dtype; equal rows get equal seeds.
    seed : int
        The estimator's fitted seed.
    stream : str
        Name of the procedure drawing noise (at most 16 bytes), so that
        for instance CERTIFY's selection and estimation samples are independent.

    Returns
    -------
    seeds : list of int
    """
    key = int(seed).to_bytes(8, "little", signed=False)
    person = stream.encode()
    X = X + 0.0  # -0.0 == 0.0 but its bytes differ: hash the same bytes for both
    return [
        int.from_bytes(
            hashlib.blake2b(row.tobytes(), digest_size=8, key=key, person=person).digest(),
            "little",
        )
        for row in X
    ]


def count_votes(
    voter,
    X: np.ndarray,
    *,
    n_draws: int,
    noise_model,
    seeds: list[int],
    batch_size: int,
    on_batch=None,
) -> np.ndarray:
    """Count the base classifier's votes for each class under noise.

    Parameters
    ----------
    voter : object
        Adapter from :mod:`sksmooth._adapters`: ``device``, ``dtype``,
        ``n_classes``, ``prepared()`` and ``predict_indices(batch)``.
    X : ndarray of shape (n_rows, n_features)
        Rows to classify.
    n_draws : int
        Noisy samples per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise and its per-column scales; it draws every sample.
    seeds : list of int
        One generator seed per row, from :func:`row_seeds`.
    batch_size : int
        Noisy samples per forward pass; bounds the memory used.
    on_batch : callable, default=None
        Called with the number of samples just classified after each
        forward pass (e.g. a progress bar's ``update``).

    Returns
    -------
    counts : ndarray of int64 of shape (n_rows, n_classes)
    """
    n_rows, n_features = X.shape
    n_classes = voter.n_classes
    device, dtype = voter.device, voter.dtype
    with voter.prepared(), torch.inference_mode():
        counts = torch.zeros(n_rows * n_classes, dtype=torch.int64, device=device)
        if n_rows == 0 or n_draws == 0:
            return counts.view(n_rows, n_classes).cpu().numpy()
        # A copy: torch refuses numpy views with negative strides (e.g. X[::-1]).
        rows = torch.tensor(np.array(X, order="C"), dtype=dtype, device=device)
        capacity = min(max(batch_size, NOISE_PIECE), n_rows * n_draws)
        noisy = torch.empty((capacity, n_features), dtype=dtype, device=device)
        scale = noise_model.torch_scale(device, dtype)
        owner = torch.empty(capacity, dtype=torch.int64, device=device)
        ones = torch.ones(capacity, dtype=torch.int64, device=device)
        filled = 0

        def classify_filled() -> None:
            for start in range(0, filled, batch_size):
                stop = min(start + batch_size, filled)
                predicted = voter.predict_indices(noisy[start:stop])
                flat_index = owner[start:stop] * n_classes + predicted
                counts.index_add_(0, flat_index, ones[: stop - start])
                if on_batch is not None:
                    on_batch(stop - start)

        for row_index, seed in enumerate(seeds):
            generator = torch.Generator(device=device).manual_seed(seed)
            remaining = n_draws
            while remaining:
                size = min(NOISE_PIECE, remaining)
                if filled + size > capacity:
                    classify_filled()
                    filled = 0
                piece = noisy[filled : filled + size]
                noise_model.noise.draw_(piece, generator, scale).add_(rows[row_index])
                owner[filled : filled + size] = row_index
                filled += size
                remaining -= size
        classify_filled()
        return counts.view(n_rows, n_classes).cpu().numpy()
