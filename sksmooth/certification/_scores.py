r"""Soft smoothing: sums of the base model's class probabilities under noise, and their bounds.

Soft smoothing scores a row by ``H_c(x) = E[s_c(x + noise)]``, the mean of
the base model's probability of class ``c`` over the noise (Salman et al.,
2019, call it the soft smoothed classifier). Each noisy sample's score is
stored in fixed point, ``k = floor(s * 2^32)``, and summed in int64 with an
upper bound of its square: integer sums do not depend on the order in which
worker threads add them, so results stay bit for bit reproducible, and the
floor only lowers every class's scores (``k / 2^32 <= s``), so a lower bound of
their mean is one of ``H_c`` too.

**The bound** is Maurer & Pontil's empirical Bernstein inequality (COLT 2009,
"Empirical Bernstein bounds and sample variance penalization", Theorem 4):
for ``n >= 2`` independent draws ``X_i`` in ``[0, 1]`` with mean ``m``,
sample mean ``\bar X`` and sample variance ``V`` (the unbiased one), with
probability at least ``1 - alpha``

.. math::

   m \ge \bar X - \sqrt{2 V \ln(2 / \alpha) / n} - 7 \ln(2 / \alpha) / (3 (n - 1)).

It holds for any distribution on [0, 1], with no normal approximation; it is
applied to the quantised scores, with ``V`` computed from the upper bound of
their squares (a larger ``V`` only lowers the bound).

**Why the vote certificates hold for soft scores.** Each noise's radius is the
worst case, over every function of the noisy row with values in [0, 1], of
how far its mean can fall when the row moves (Neyman-Pearson for tests with
values in [0, 1], or the Lipschitz and total-variation arguments of
:mod:`sksmooth.noise`); a vote indicator is one such function and a
probability another. With ``H_A >= L > 1/2`` the class ``A`` keeps the
largest mean score, since the scores of a row sum to 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SCORE_SCALE",
    "ScoreSums",
    "check_score_sums",
    "empirical_bernstein_lower",
    "empirical_bernstein_upper",
]

# Fixed point of one score: 32 fractional bits (2^31 samples per row fit in int64).
SCORE_SCALE = 2**32
# Covers the float rounding of the bound's own arithmetic (a few ulps of 1).
_ROUNDING_MARGIN = 1e-12


@dataclass(frozen=True)
class ScoreSums:
    """Fixed-point sums of each row's class scores over ``n`` noisy samples.

    Parameters
    ----------
    sums : ndarray of int64 of shape (n_rows, n_classes)
        ``sum_i floor(s_ic * SCORE_SCALE)``.
    squares : ndarray of int64 of shape (n_rows, n_classes)
        An upper bound of ``sum_i (floor(s_ic * SCORE_SCALE) / SCORE_SCALE)^2``,
        times ``SCORE_SCALE``.
    n : int
        Noisy samples per row.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> sums = ScoreSums(np.array([[SCORE_SCALE, 3 * SCORE_SCALE]]),
    ...                  np.array([[SCORE_SCALE, 3 * SCORE_SCALE]]), 4)
    >>> sums.means().tolist()
    [[0.25, 0.75]]
    """

    sums: np.ndarray
    squares: np.ndarray
    n: int

    def means(self) -> np.ndarray:
        """The mean score of each class, in [0, 1]."""
        if self.n == 0:
            return np.zeros(self.sums.shape)
        return self.sums / (float(SCORE_SCALE) * self.n)

    def probabilities(self) -> np.ndarray:
        """The mean scores scaled to sum to 1 per row (the floor loses a little)."""
        means = self.means()
        total = means.sum(axis=1, keepdims=True)
        uniform = np.full_like(means, 1.0 / means.shape[1]) if means.size else means
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, means / total, uniform)

    def __add__(self, other: ScoreSums) -> ScoreSums:
        return ScoreSums(self.sums + other.sums, self.squares + other.squares, self.n + other.n)


def check_score_sums(scores, n_rows: int | None = None) -> ScoreSums:
    """A :class:`ScoreSums` with consistent shapes, or a TypeError / ValueError naming the fault."""
    if not isinstance(scores, ScoreSums):
        raise TypeError(f"Expected the ScoreSums of soft smoothing, got {scores!r}.")
    if scores.sums.shape != scores.squares.shape or scores.sums.ndim != 2:
        raise ValueError("ScoreSums must hold sums and squares of one shape (n_rows, n_classes).")
    if n_rows is not None and len(scores.sums) != n_rows:
        raise ValueError(f"ScoreSums has {len(scores.sums)} rows, expected {n_rows}.")
    return scores


def empirical_bernstein_lower(
    sums: np.ndarray, squares: np.ndarray, n: int, alpha: float
) -> np.ndarray:
    """One-sided ``1 - alpha`` lower bound of a mean of [0, 1] scores (Maurer & Pontil, 2009).

    Parameters
    ----------
    sums, squares : ndarray of int
        Fixed-point sums of the scores and upper bounds of their squares,
        as :class:`ScoreSums` holds them.
    n : int
        Samples per row; the bound is 0 below 2.
    alpha : float
        Failure probability.

    Returns
    -------
    bound : ndarray of float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._scores import SCORE_SCALE, empirical_bernstein_lower
    >>> n = 10_000  # every score 0.9: no variance, only the 7 ln(2/alpha) / 3(n-1) term
    >>> k = int(0.9 * SCORE_SCALE)
    >>> square = k * k // SCORE_SCALE + 1
    >>> bound = empirical_bernstein_lower(np.array([n * k]), np.array([n * square]), n, 0.001)
    >>> round(float(bound[0]), 4)
    0.8982
    """
    if n < 2:
        return np.zeros(np.shape(sums))
    mean = np.asarray(sums) / (float(SCORE_SCALE) * n)
    return np.clip(mean - _bernstein_width(sums, squares, n, alpha), 0.0, 1.0)


def empirical_bernstein_upper(
    sums: np.ndarray, squares: np.ndarray, n: int, alpha: float
) -> np.ndarray:
    """One-sided ``1 - alpha`` upper bound of a mean of [0, 1] scores, from the same sums.

    The bound of :func:`empirical_bernstein_lower` applied to ``1 - s``, whose
    sample variance is that of ``s``; ``2^-32`` is added for the floor of the
    fixed point, which lowered every score by up to that.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._scores import SCORE_SCALE, empirical_bernstein_upper
    >>> n, k = 10_000, 0  # every score 0
    >>> round(float(empirical_bernstein_upper(np.array([0]), np.array([0]), n, 0.001)[0]), 4)
    0.0018
    """
    if n < 2:
        return np.ones(np.shape(sums))
    mean = np.asarray(sums) / (float(SCORE_SCALE) * n)
    width = _bernstein_width(sums, squares, n, alpha)
    return np.clip(mean + width + 1.0 / SCORE_SCALE, 0.0, 1.0)


def _bernstein_width(sums, squares, n: int, alpha: float) -> np.ndarray:
    """How far below the sample mean the bound lies, with the rounding margin."""
    scale = SCORE_SCALE
    sums = np.asarray(sums)
    squares = np.asarray(squares)
    # (n - 1) n V in units of scale^2, exactly in integers: n * sum(q^2) - (sum q)^2.
    exact = [
        max(0, n * int(sq) * scale - int(s) * int(s))
        for s, sq in zip(sums.ravel().tolist(), squares.ravel().tolist(), strict=True)
    ]
    centred = np.array(exact, dtype=float).reshape(sums.shape)
    variance = centred / (float(scale) ** 2 * n * (n - 1)) * (1.0 + 1e-12)
    log_term = math.log(2.0 / alpha)
    return (
        np.sqrt(2.0 * variance * log_term / n) + 7.0 * log_term / (3.0 * (n - 1)) + _ROUNDING_MARGIN
    )
