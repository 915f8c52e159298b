"""Confidence bounds for randomized smoothing (radii belong to each noise: :mod:`sksmooth.noise`).

Pure numpy/scipy, no torch, so the mathematics is testable without a net.
Every function is vectorised over rows.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = [
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "top_two_binomial_pvalue",
]


def clopper_pearson_lower(
    successes: np.ndarray | int, trials: np.ndarray | int, alpha: float
) -> np.ndarray:
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a binomial proportion.

    Guarantee: if ``successes ~ Binomial(trials, p)``, then
    ``P(bound > p) <= alpha`` for every ``p``. This is the bound CERTIFY uses
    for ``pA`` (Cohen et al., 2019).

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes, between 0 and ``trials``.
    trials : int or array-like of int
        Number of trials, at least 1.
    alpha : float
        Failure probability, in (0, 1).

    Returns
    -------
    bound : ndarray of float
        The lower bound: the ``alpha`` quantile of
        ``Beta(successes, trials - successes + 1)``, and 0 where ``successes == 0``.

    Examples
    --------
    >>> from sksmooth.certification import clopper_pearson_lower
    >>> float(clopper_pearson_lower(100, 100, alpha=0.001).round(4))
    0.9333
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    # The Beta quantile is undefined for a zero shape parameter; the bound is 0 there.
    # special.betaincinv is scipy.stats.beta.ppf without its per-call overhead.
    safe_k = np.where(k > 0, k, 1.0)
    bound = special.betaincinv(safe_k, n - k + 1, alpha)
    return np.where(k > 0, bound, 0.0)


def clopper_pearson_upper(
    successes: np.ndarray | int, trials: np.ndarray | int, alpha: float
) -> np.ndarray:
    """One-sided (1 - alpha) Clopper-Pearson upper bound of a binomial proportion.

    Guarantee: ``P(bound < p) <= alpha`` for every ``p``.

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes, between 0 and ``trials``.
    trials : int or array-like of int
        Number of trials, at least 1.
    alpha : float
        Failure probability, in (0, 1).

    Returns
    -------
    bound : ndarray of float
        The ``1 - alpha`` quantile of ``Beta(successes + 1, trials - successes)``,
        and 1 where ``successes == trials``.

    Examples
    --------
    >>> from sksmooth.certification import clopper_pearson_upper
    >>> float(clopper_pearson_upper(0, 100, alpha=0.001).round(4))
    0.0667
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    return 1.0 - clopper_pearson_lower(n - k, n, alpha)


def top_two_binomial_pvalue(count_a: np.ndarray | int, count_b: np.ndarray | int) -> np.ndarray:
    """Two-sided binomial test p-value of ``count_a`` out of ``count_a + count_b`` at 1/2.

    This is the test of Cohen et al.'s PREDICT: the top class is returned only
    when its lead over the runner-up is significant at level ``alpha``, which
    bounds the probability of returning a class other than the smoothed
    classifier's by ``alpha``.

    Parameters
    ----------
    count_a, count_b : int or array-like of int
        Votes for the top class and for the runner-up.

    Returns
    -------
    pvalue : ndarray of float
        Equal to ``scipy.stats.binomtest(count_a, count_a + count_b, 0.5).pvalue``;
        1 where both counts are 0.

    Examples
    --------
    >>> from sksmooth.certification import top_two_binomial_pvalue
    >>> float(top_two_binomial_pvalue(67, 33).round(5))
    0.00087
    """
    a = np.asarray(count_a)
    b = np.asarray(count_b)
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        raise TypeError(f"count_a and count_b must be counts, got {count_a!r} and {count_b!r}.")
    # Binomial(n, 1/2) is symmetric, so the two-sided p-value doubles one tail.
    low_tail = stats.binom.cdf(np.minimum(a, b), a + b, 0.5)
    return np.minimum(1.0, 2.0 * low_tail)
