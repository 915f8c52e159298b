"""Adaptive certification: look at the votes on a schedule, stop when decided.

The estimation samples of a row are drawn in rounds whose cumulative sizes
double, from ``n_min`` up to a cap. After each round ("look") the
Clopper-Pearson bounds are computed at level ``alpha / K``, where ``K`` is
the number of looks the schedule allows. By the union bound, all ``K``
lower bounds hold at once with probability at least ``1 - alpha``, so any
stopping rule (however it depends on the data) keeps CERTIFY's guarantee:
a certificate is wrong with probability at most ``alpha``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..utils._validation import check_sample_counts
from ._bounds import clopper_pearson_lower, clopper_pearson_upper

__all__ = [
    "ADAPTIVE_RADIUS_TOLERANCE",
    "SEQUENTIAL_N_MIN",
    "adaptive_rule",
    "geometric_schedule",
    "look_level",
    "sequential_lower_bounds",
    "sequential_schedule",
]

# Samples at the first look of sequential certification; then doubling.
SEQUENTIAL_N_MIN = 100
# Adaptive mode stops a certified row once more samples would add less than
# this fraction of sigma to its radius.
ADAPTIVE_RADIUS_TOLERANCE = 0.05


def geometric_schedule(n_min: int, n_max: int) -> list[int]:
    """Cumulative sample sizes ``n_min, 2 n_min, 4 n_min, ...``, ending exactly at ``n_max``.

    Parameters
    ----------
    n_min : int
        Samples at the first look, at least 1.
    n_max : int
        Samples at the last look, at least ``n_min``.

    Returns
    -------
    sizes : list of int
        Strictly increasing cumulative sample sizes; its length is the number
        of looks ``K`` the union bound pays for.

    Examples
    --------
    >>> from sksmooth.certification import geometric_schedule
    >>> geometric_schedule(100, 1000)
    [100, 200, 400, 800, 1000]
    """
    check_sample_counts(n_min=n_min, n_max=n_max)
    if n_max < n_min:
        raise ValueError(f"Need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}.")
    sizes = [n_min]
    while sizes[-1] * 2 < n_max:
        sizes.append(sizes[-1] * 2)
    if sizes[-1] != n_max:
        sizes.append(n_max)
    return sizes


def sequential_schedule(n_cap: int) -> list[int]:
    """The looks of sequential certification up to ``n_cap`` samples."""
    return geometric_schedule(min(SEQUENTIAL_N_MIN, n_cap), n_cap)


def look_level(alpha: float, n_cap: int) -> float:
    """The level of each look's bounds: ``alpha`` shared over the looks (union bound)."""
    return alpha / len(sequential_schedule(n_cap))


# A stopping rule: (lower, upper, count_a, n_drawn) of the active rows -> which continue.
StoppingRule = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def adaptive_rule(
    unit_radius: Callable[[np.ndarray], np.ndarray], *, n_cap: int, level: float
) -> StoppingRule:
    """Adaptive mode: spend samples where they can still change the answer.

    A row that does not certify yet goes on while it still could by the
    cap: while the lower bound at ``n_cap`` samples would exceed 1/2 were the
    truth at today's upper bound. Rows near 1/2 thus use more samples, not
    fewer. A certified row goes on while its point estimate, held to the cap,
    would add at least ``ADAPTIVE_RADIUS_TOLERANCE`` (in sigmas) to its
    radius. ``unit_radius`` maps probabilities to radii in units of sigma (0
    at or below 1/2); ``level`` is the per-look level of the bounds.
    """

    def at_cap(p: np.ndarray) -> np.ndarray:
        """The lower bound ``n_cap`` samples would give if their share were ``p``."""
        return clopper_pearson_lower(np.floor(p * n_cap), n_cap, level)

    def unfinished(lower, upper, count_a, n_drawn):
        if n_drawn >= n_cap:
            return np.zeros(len(lower), dtype=bool)
        certified = lower > 0.5
        could_certify = at_cap(upper) > 0.5
        p_hat = count_a / n_drawn
        gain = unit_radius(at_cap(p_hat)) - unit_radius(lower)
        return np.where(certified, gain >= ADAPTIVE_RADIUS_TOLERANCE, could_certify)

    return unfinished


def sequential_lower_bounds(
    draw_candidate_votes: Callable[[np.ndarray, int, int], np.ndarray],
    n_rows: int,
    *,
    n_cap: int,
    alpha: float,
    unfinished: StoppingRule,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower bounds of each row's ``pA`` from doubling rounds, each row stopping when decided.

    Parameters
    ----------
    draw_candidate_votes : callable
        ``draw_candidate_votes(rows, look, n_new)`` returns, for the row
        indices ``rows``, the votes for each row's candidate class among
        ``n_new`` fresh noisy samples (independent of every earlier look).
    n_rows : int
        Rows to certify.
    n_cap : int
        Samples at the last look.
    alpha : float
        Failure probability over all looks of a row together.
    unfinished : callable
        The stopping rule, e.g. from :func:`adaptive_rule`.

    Returns
    -------
    p_lower : ndarray of shape (n_rows,)
        The best lower bound over the looks each row took; all hold at once
        with probability at least ``1 - alpha``.
    n_used : ndarray of int of shape (n_rows,)
        Estimation samples each row used.
    """
    sizes = sequential_schedule(n_cap)
    level = alpha / len(sizes)
    count_a = np.zeros(n_rows, dtype=np.int64)
    n_used = np.zeros(n_rows, dtype=np.int64)
    best_lower = np.zeros(n_rows)
    active = np.arange(n_rows)
    drawn = 0
    for look, size in enumerate(sizes):
        if active.size == 0:
            break
        count_a[active] += draw_candidate_votes(active, look, size - drawn)
        drawn = size
        n_used[active] = size
        lower = clopper_pearson_lower(count_a[active], size, level)
        upper = clopper_pearson_upper(count_a[active], size, level)
        best_lower[active] = np.maximum(best_lower[active], lower)
        active = active[unfinished(lower, upper, count_a[active], size)]
    return best_lower, n_used
