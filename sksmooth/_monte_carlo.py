"""Monte Carlo vote counting: batched noisy forward passes of the base classifier.

Each row's noise is drawn from its own generator, seeded from the fitted
seed, a stream name and the row's bytes (see :func:`row_seeds`). Counts are
therefore independent of batch size, row order, sharding and which other rows
are classified alongside, which is what makes a smoothed classifier behave as
a deterministic function of its input once fitted.

Floating point: noise is drawn in float64 and added to the row exactly as the
user passed it (float64), and only the noisy row is cast to the model's
precision. The votes are then those of ``f(cast(x + noise))``: the smoothed
classifier of the model as it runs (cast included) around ``x`` itself, so the
certificate is about ``x``, not about ``x`` rounded to float32 (which, for raw
magnitudes such as amounts in cents, is far from ``x`` on the noise's scale
and would also quantise the noise).
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["count_votes", "fit_seeds", "row_seeds", "torch_seed"]

# Noise is drawn per row in pieces of at most this many samples (equal to
# the default batch_size, so default batches are whole pieces). The piece
# size is fixed (not ``batch_size``) so that the drawn numbers never depend
# on how samples are grouped into forward passes.
NOISE_PIECE = 1000


def fit_seeds(random_state, n_seeds: int) -> list[int]:
    """``n_seeds`` independent 128-bit seeds for one fit.

    ``random_state=None`` takes fresh entropy from the operating system (not
    from numpy's global generator, which ``np.random.seed`` would fix); an
    int gives the same seeds on every run; a ``RandomState`` instance is
    drawn from, as scikit-learn does.

    Examples
    --------
    >>> from sksmooth._monte_carlo import fit_seeds
    >>> fit_seeds(0, 2) == fit_seeds(0, 2), fit_seeds(None, 1) == fit_seeds(None, 1)
    (True, False)
    """
    check_random_state(random_state)  # the errors scikit-learn gives for a bad value
    if random_state is None:
        sequence = np.random.SeedSequence()
    elif isinstance(random_state, numbers.Integral):
        sequence = np.random.SeedSequence(int(random_state))
    else:
        words = random_state.randint(0, 2**32, size=4, dtype=np.uint64)
        sequence = np.random.SeedSequence([int(w) for w in words])
    words = sequence.generate_state(4 * n_seeds, dtype=np.uint32)
    return [int.from_bytes(words[4 * i : 4 * i + 4].tobytes(), "little") for i in range(n_seeds)]


def torch_seed(seed: int) -> int:
    """The 64 bits of a seed a torch generator takes."""
    return int(seed) % 2**64


def row_seeds(X: np.ndarray, seed: int, stream: str, *, n_bytes: int = 16) -> list[int]:
    """Derive one generator seed per row of ``X``, of ``n_bytes`` bytes (128 bits).

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features), float64, C-contiguous
        Rows in their canonical dtype; equal rows get equal seeds.
    seed : int
        The estimator's fitted seed (up to 128 bits).
    stream : str
        Name of the procedure drawing noise (at most 16 bytes), so that
        for instance CERTIFY's selection and estimation samples are independent.
    n_bytes : int, default=16
        Width of each seed; 8 for a torch generator, which takes 64 bits.

    Returns
    -------
    seeds : list of int
    """
    # The seed's own width (8 bytes up to 64 bits, else 16): a 64-bit seed keeps
    # the row seeds it always had.
    key = int(seed).to_bytes(16 if seed >= 2**64 else 8, "little", signed=False)
    person = stream.encode()
    X = X + 0.0  # -0.0 == 0.0 but its bytes differ: hash the same bytes for both
    return [
        int.from_bytes(
            hashlib.blake2b(row.tobytes(), digest_size=n_bytes, key=key, person=person).digest(),
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
        Rows to classify, float64 as the user gave them.
    n_draws : int
        Noisy samples per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise and its per-column scales; it draws every sample.
    seeds : list of int
        One generator seed per row, from :func:`row_seeds`. On the CPU each
        row's noise comes from a numpy ``SFC64`` generator seeded with all
        128 bits; on a GPU, from a torch generator seeded with 64 of them.
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
        # A copy: C order, and torch refuses numpy views with negative strides.
        X = np.array(X, dtype=np.float64, order="C")
        capacity = min(max(batch_size, NOISE_PIECE), n_rows * n_draws)
        source = _NoisyRows(X, noise_model, device, capacity)
        owner = torch.empty(capacity, dtype=torch.int64, device=device)
        ones = torch.ones(capacity, dtype=torch.int64, device=device)
        filled = 0

        def classify_filled() -> None:
            noisy = source.batch(filled, dtype)
            for start in range(0, filled, batch_size):
                stop = min(start + batch_size, filled)
                predicted = voter.predict_indices(noisy[start:stop])
                flat_index = owner[start:stop] * n_classes + predicted
                counts.index_add_(0, flat_index, ones[: stop - start])
                if on_batch is not None:
                    on_batch(stop - start)

        for row_index, seed in enumerate(seeds):
            generator = source.generator(seed)
            remaining = n_draws
            while remaining:
                size = min(NOISE_PIECE, remaining)
                if filled + size > capacity:
                    classify_filled()
                    filled = 0
                source.fill(filled, filled + size, row_index, generator)
                owner[filled : filled + size] = row_index
                filled += size
                remaining -= size
        classify_filled()
        return counts.view(n_rows, n_classes).cpu().numpy()


class _NoisyRows:
    """A float64 buffer of noisy rows: numpy on the CPU, torch on a GPU."""

    def __init__(self, X: np.ndarray, noise_model, device: torch.device, capacity: int):
        self.noise_model = noise_model
        self.device = device
        self.on_cpu = device.type == "cpu"
        if self.on_cpu:
            self.X = X
            self.buffer = np.empty((capacity, X.shape[1]))
        else:
            self.X = torch.from_numpy(X).to(device)
            self.buffer = torch.empty((capacity, X.shape[1]), dtype=torch.float64, device=device)
            self.scale = noise_model.torch_scale(device, torch.float64)

    def generator(self, seed: int):
        if self.on_cpu:
            return np.random.Generator(np.random.SFC64(seed))
        return torch.Generator(device=self.device).manual_seed(torch_seed(seed))

    def fill(self, start: int, stop: int, row_index: int, generator) -> None:
        piece = self.buffer[start:stop]
        if self.on_cpu:
            self.noise_model.noisy_rows_(piece, self.X[row_index], generator)
        else:
            self.noise_model.noise.draw_(piece, generator, self.scale).add_(self.X[row_index])
            self.noise_model.replace_categories_(piece, generator)

    def batch(self, filled: int, dtype: torch.dtype) -> torch.Tensor:
        """The first ``filled`` noisy rows, cast to the model's dtype only now."""
        noisy = self.buffer[:filled]
        if self.on_cpu:
            noisy = torch.from_numpy(noisy)
        return noisy.to(device=self.device, dtype=dtype)
