"""Sequential certification: look at the votes on a schedule, stop when decided.

The estimation samples of a row are drawn in rounds whose cumulative sizes
double, from ``n_min`` up to a cap. After each round ("look") the
Clopper-Pearson bounds are computed at level ``alpha / K``, where ``K`` is
the number of looks the schedule allows. By the union bound, all ``K``
lower bounds hold at once with probability at least ``1 - alpha``, so any
stopping rule (however it depends on the data) keeps CERTIFY's guarantee:
a certificate is wrong with probability at most ``alpha``.
"""

from __future__ import annotations

__all__ = ["geometric_schedule"]


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
    if n_min < 1 or n_max < n_min:
        raise ValueError(f"Need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}.")
    sizes = [n_min]
    while sizes[-1] * 2 < n_max:
        sizes.append(sizes[-1] * 2)
    if sizes[-1] != n_max:
        sizes.append(n_max)
    return sizes
