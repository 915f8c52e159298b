"""Monte Carlo vote counting: batched noisy forward passes of the base classifier.

Each row's noise is a function of the fitted seed, a stream name and the
row's bytes (see :func:`row_seeds`), drawn in pieces of ``NOISE_PIECE``
samples, each piece from its own generator keyed by the row's seed and the
piece's index. Pieces are therefore independent units of work:
counts do not depend on batch size, row order, sharding, which other rows
are classified alongside, or which worker thread classified which piece.
That is what makes a smoothed classifier a deterministic function of its
input once fitted, and what lets the work be shared out.

Threads: on the CPU, a torch net's batches are shared among worker threads
that each run torch single-threaded (see :func:`cpu_workers`), rather than
one thread per batch with torch's intra-op threads. Intra-op threads meet at
a barrier after every operation, so one thread delayed by another process
stalls them all: on a 2-core machine with one busy process, certify ran 5 to
30 times slower that way. Independent workers only lose the share of the
machine the other process takes.

Floating point: noise is drawn in float64 and added to the row exactly as the
user passed it (float64), and only the noisy row is cast to the model's
precision. The votes are then those of ``f(cast(x + noise))``: the smoothed
classifier of the model as it runs (cast included) around ``x`` itself, so the
certificate is about ``x``, not about ``x`` rounded to float32 (which, for raw
magnitudes such as amounts in cents, is far from ``x`` on the noise's scale
and would also quantise the noise).
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
import threading

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._counter_noise import keys_from_seeds
from .certification._scores import SCORE_SCALE, ScoreSums

__all__ = ["count_votes", "cpu_workers", "fit_seeds", "row_seeds", "torch_seed"]

# Noise is drawn per row in pieces of at most this many samples (equal to
# the default batch_size, so default batches are whole pieces). The piece
# size is fixed (not ``batch_size``) so that the drawn numbers never depend
# on how samples are grouped into forward passes.
NOISE_PIECE = 1000

# Worker threads beyond torch's thread count: with exactly one per core, a
# busy process on one core leaves that worker a fraction of it and the call
# takes at least 1.5 times as long on 2 cores; one more worker keeps the
# machine's share of this call close to what it was (benchmarks/README.md).
EXTRA_WORKERS = 1


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


def cpu_workers() -> int:
    """Worker threads for counting a torch net's votes on the CPU.

    torch's thread count (``torch.get_num_threads()``, which the user may
    set) plus ``EXTRA_WORKERS`` when it is above 1; each worker runs torch
    with one thread. One thread stays one worker.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._monte_carlo import cpu_workers
    >>> cpu_workers() == (1 if torch.get_num_threads() == 1 else torch.get_num_threads() + 1)
    True
    """
    threads = torch.get_num_threads()
    return 1 if threads == 1 else threads + EXTRA_WORKERS


def count_votes(
    voter,
    X: np.ndarray,
    *,
    n_draws: int,
    noise_model,
    seeds: list[int],
    batch_size: int,
    on_batch=None,
    n_workers: int | None = None,
    soft: bool = False,
):
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
        piece of a row's noise comes from numpy's ``SFC64`` in a state hashed
        from all 128 bits of the row's seed and the piece's index
        (:func:`piece_state`); on a GPU, from a counter-based generator keyed
        with the same 128 bits (see :class:`_NoisyRows`).
    batch_size : int
        Noisy samples per forward pass; bounds the memory used.
    on_batch : callable, default=None
        Called with the number of samples just classified after each
        forward pass (e.g. a progress bar's ``update``), from one thread at
        a time.
    n_workers : int, default=None
        Threads sharing the batches. None: :func:`cpu_workers` for a torch
        net on the CPU, else 1 (a GPU keeps its own parallelism, and other
        estimators their own threads). The counts are the same for any value.
    soft : bool, default=False
        Sum the base classifier's class probabilities (``predict_scores``)
        instead of counting its votes, in the fixed point of
        :class:`~sksmooth.certification._scores.ScoreSums`.

    Returns
    -------
    counts : ndarray of int64 of shape (n_rows, n_classes), or ScoreSums when ``soft``
    """
    n_rows = X.shape[0]
    n_classes = voter.n_classes
    if n_rows == 0 or n_draws == 0:
        zeros = np.zeros((n_rows, n_classes), dtype=np.int64)
        return ScoreSums(zeros, zeros.copy(), n_draws) if soft else zeros
    # A copy: C order, and torch refuses numpy views with negative strides.
    X = np.array(X, dtype=np.float64, order="C")
    capacity = min(max(batch_size, NOISE_PIECE), n_rows * n_draws)
    batches = _Batches(n_rows, n_draws, capacity)
    if n_workers is None:
        on_cpu_net = voter.device.type == "cpu" and getattr(voter, "runs_in_threads", False)
        n_workers = cpu_workers() if on_cpu_net else 1
    n_workers = max(1, min(n_workers, batches.count))
    report = _locked(on_batch)
    with voter.prepared(), _single_threaded_torch(n_workers > 1):
        workers = [
            _Worker(voter, X, noise_model, seeds, capacity, batch_size, report, soft)
            for _ in range(n_workers)
        ]
        _run(workers, batches)

    def total(name):
        # Integer sums: the same whichever worker classified which batch.
        tensors = [getattr(worker, name) for worker in workers]
        return sum(tensors[1:], tensors[0]).view(n_rows, n_classes).cpu().numpy()

    if soft:
        return ScoreSums(total("counts"), total("squares"), n_draws)
    return total("counts")


class _Batches:
    """The work of one call, cut into batches of whole pieces; handed out one at a time.

    A piece is ``(row, piece index, size)``: up to ``NOISE_PIECE`` samples of
    one row. Any thread takes the next batch; ``stop()`` ends the handing out.
    """

    def __init__(self, n_rows: int, n_draws: int, capacity: int):
        self.n_rows, self.n_draws, self.capacity = n_rows, n_draws, capacity
        n_pieces = -(-n_draws // NOISE_PIECE)
        last = n_draws - (n_pieces - 1) * NOISE_PIECE
        # At least this many batches: more workers would find nothing to do.
        self.count = -(-n_rows * n_draws // capacity)
        self._pieces = self._generate(n_pieces, last)
        self._lock = threading.Lock()
        self._stopped = False

    def _generate(self, n_pieces: int, last: int):
        batch, filled = [], 0
        for row in range(self.n_rows):
            for piece in range(n_pieces):
                size = last if piece == n_pieces - 1 else NOISE_PIECE
                if filled + size > self.capacity:
                    yield batch
                    batch, filled = [], 0
                batch.append((row, piece, size))
                filled += size
        yield batch

    def next(self):
        """The next batch (a list of pieces), or None when done or stopped."""
        with self._lock:
            return None if self._stopped else next(self._pieces, None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True


def _run(workers: list, batches: _Batches) -> None:
    """Run ``workers[0]`` here and the others in threads; the first error is raised."""
    errors = []

    def work(worker):
        try:
            worker.run(batches)
        except BaseException as error:  # a KeyboardInterrupt from the model too
            errors.append(error)
            batches.stop()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers[1:]]
    for thread in threads:
        thread.start()
    try:
        workers[0].run(batches)
    finally:
        # Ctrl+C reaches this thread only: stop handing out work, let the others finish.
        batches.stop()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


@contextlib.contextmanager
def _single_threaded_torch(active: bool):
    """torch's intra-op threads set to 1 for the duration (the workers share the cores)."""
    if not active:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _locked(callback):
    if callback is None:
        return None
    lock = threading.Lock()

    def report(n):
        with lock:
            callback(n)

    return report


class _Worker:
    """Classifies batches of noisy rows into its own vote counts."""

    def __init__(self, voter, X, noise_model, seeds, capacity, batch_size, report, soft=False):
        self.voter, self.batch_size, self.report = voter, batch_size, report
        device = voter.device
        self.n_classes = voter.n_classes
        self.soft = soft
        self.source = _NoisyRows(X, noise_model, seeds, device, capacity)
        self.counts = torch.zeros(len(X) * self.n_classes, dtype=torch.int64, device=device)
        self.ones = torch.ones(capacity, dtype=torch.int64, device=device)
        if soft:  # counts then hold the fixed-point sums of the scores
            self.squares = torch.zeros_like(self.counts)
            self.counts = self.counts.view(len(X), self.n_classes)
            self.squares = self.squares.view(len(X), self.n_classes)

    def run(self, batches: _Batches) -> None:
        # Grad mode is per thread: each worker sets its own.
        with torch.inference_mode():
            while (batch := batches.next()) is not None:
                self.classify(batch)

    def classify(self, batch: list) -> None:
        noisy, owner = self.source.batch(batch, self.voter.dtype)
        filled = len(owner)
        for start in range(0, filled, self.batch_size):
            stop = min(start + self.batch_size, filled)
            if self.soft:
                fixed, squares = fixed_point_scores(self.voter.predict_scores(noisy[start:stop]))
                self.counts.index_add_(0, owner[start:stop], fixed)
                self.squares.index_add_(0, owner[start:stop], squares)
            else:
                predicted = self.voter.predict_indices(noisy[start:stop])
                flat_index = owner[start:stop] * self.n_classes + predicted
                self.counts.index_add_(0, flat_index, self.ones[: stop - start])
            if self.report is not None:
                self.report(stop - start)


def fixed_point_scores(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores in [0, 1] as ``k = floor(s * 2^32)``, and ``ceil(k^2 / 2^32)``, both int64.

    The square is exact in int64: with ``k = a 2^16 + b``,
    ``k^2 / 2^32 = a^2 + (2 a b 2^16 + b^2) / 2^32``, every term below 2^50.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._monte_carlo import fixed_point_scores
    >>> k, square = fixed_point_scores(torch.tensor([[0.5, 1.0]]))
    >>> k.tolist(), square.tolist()
    ([[2147483648, 4294967296]], [[1073741824, 4294967296]])
    """
    if not bool(torch.isfinite(scores).all()):
        raise ValueError("The base classifier returned class probabilities that are not finite.")
    scale = float(SCORE_SCALE)
    fixed = torch.floor(scores.double().clamp(0.0, 1.0) * scale).long()
    high, low = fixed >> 16, fixed & 0xFFFF
    rest = (2 * high * low << 16) + low * low
    squares = high * high + ((rest + (SCORE_SCALE - 1)) >> 32)
    return fixed, squares


def piece_state(seed: int, piece: int) -> dict:
    """The state of numpy's ``SFC64`` that draws piece ``piece`` of a row's noise on the CPU.

    Its three 64-bit words are a BLAKE2b hash of the piece's index keyed by
    all 128 bits of the row's seed, and its counter starts at 1, as
    ``SFC64``'s own seeding leaves it. SFC64 draws float64 normals about 1.5
    times as fast as numpy's counter-based ``Philox``; a keyed hash gives
    every piece its own independent stream all the same.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth._monte_carlo import piece_state
    >>> bit_generator = np.random.SFC64()
    >>> bit_generator.state = piece_state(2**100 + 7, 3)
    >>> float(np.random.Generator(bit_generator).standard_normal()) == float(
    ...     np.random.Generator(bit_generator).standard_normal())
    False
    """
    digest = hashlib.blake2b(
        piece.to_bytes(8, "little"), digest_size=24, key=int(seed).to_bytes(16, "little")
    ).digest()
    words = np.frombuffer(digest, dtype=np.uint64)
    return {
        "bit_generator": "SFC64",
        "state": {"state": np.array([*words, 1], dtype=np.uint64)},
        "has_uint32": 0,
        "uinteger": 0,
    }


def draws_by_counter(device: torch.device) -> bool:
    """Whether noise on ``device`` comes from the counter-based generator (GPUs)."""
    return device.type != "cpu"


class _NoisyRows:
    """Noisy rows of a batch of pieces: numpy per piece on the CPU, one counter draw on a GPU.

    On the CPU each piece is drawn by numpy's SFC64 from :func:`piece_state`
    (fast there: numpy draws float64 normals in one pass). On a GPU the whole batch is
    drawn at once by the counter-based generator of
    :mod:`sksmooth._counter_noise` (a few large kernels instead of one call
    per piece), from the same 128-bit seeds and the samples' indices.
    """

    def __init__(self, X: np.ndarray, noise_model, seeds, device: torch.device, capacity: int):
        self.noise_model = noise_model
        self.device = device
        self.seeds = seeds
        self.on_cpu = not draws_by_counter(device)
        if self.on_cpu:
            self.X = X
            self.buffer = np.empty((capacity, X.shape[1]))
            self.owner = np.empty(capacity, dtype=np.int64)
            # One bit generator, its state set per piece: a third of the cost
            # of building a new one.
            self.bit_generator = np.random.SFC64()
            self.rng = np.random.Generator(self.bit_generator)
        else:
            self.X = torch.from_numpy(X).to(device)
            self.keys = keys_from_seeds(seeds, device)

    def _keyed(self, seed: int, piece: int) -> np.random.Generator:
        """The generator of one piece of a row's noise (CPU): see :func:`piece_state`."""
        self.bit_generator.state = piece_state(seed, piece)
        return self.rng

    def batch(self, batch: list, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The noisy rows of the pieces ``batch``, in the model's dtype, and each one's row."""
        if not self.on_cpu:
            rows = np.concatenate([np.full(size, row) for row, _, size in batch])
            samples = np.concatenate(
                [
                    np.arange(piece * NOISE_PIECE, piece * NOISE_PIECE + size)
                    for _, piece, size in batch
                ]
            )
            rows = torch.from_numpy(rows).to(self.device)
            samples = torch.from_numpy(samples).to(self.device)
            noisy = self.noise_model.noisy_rows_by_counter(self.X, self.keys, rows, samples)
            return noisy.to(dtype), rows
        filled = 0
        for row, piece, size in batch:
            rng = self._keyed(self.seeds[row], piece)
            self.noise_model.noisy_rows_(self.buffer[filled : filled + size], self.X[row], rng)
            self.owner[filled : filled + size] = row
            filled += size
        # Cast to the model's dtype only now: the noise is added in float64.
        noisy = torch.from_numpy(self.buffer[:filled]).to(dtype)
        return noisy, torch.from_numpy(self.owner[:filled])
