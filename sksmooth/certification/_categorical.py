r"""Joint certificates: a numeric radius with up to ``k`` categorical fields changed.

The noise is a product: Gaussian noise of per-column scale ``sigma`` on the
numeric columns, and on each categorical column ``j`` (``K_j`` categories)
random replacement: keep the value with probability ``1 - q_j``, otherwise
draw one of the ``K_j`` categories uniformly. So a categorical value stays
with probability ``beta_j = 1 - q_j + q_j / K_j`` and becomes any given other
category with probability ``gamma_j = q_j / K_j``.

**The likelihood ratio.** Let ``x'`` differ from ``x`` by a numeric shift of
``||delta / sigma||_2 = Delta`` and a change of the categorical fields in a
set ``S``. Write ``mu`` and ``mu'`` for the noise distributions around ``x``
and ``x'``. Their log likelihood ratio ``log(mu'(z) / mu(z))`` at a noisy
point ``z`` is a sum of independent terms:

- the Gaussian term ``Delta * Z - Delta^2 / 2``, with ``Z ~ N(0, 1)`` under
  ``mu`` (Cohen et al., 2019);
- for each ``j`` in ``S``: ``-t_j`` where ``z_j = x_j`` (probability
  ``beta_j`` under ``mu``), ``+t_j`` where ``z_j = x'_j`` (probability
  ``gamma_j``), ``0`` elsewhere, with ``t_j = log(beta_j / gamma_j)``.

The categorical part ``V`` therefore takes finitely many values ``v`` with
probabilities ``p_v`` under ``mu``, and ``q_v = p_v e^v`` under ``mu'``
(the distribution of ``-V`` under ``mu``: the roles of ``x_j`` and ``x'_j``
swap).

**The certificate** (Neyman-Pearson, as Lee et al., NeurIPS 2019, use it for
discrete noise). If the top class has probability at least ``p`` under
``mu``, the smallest probability it can have under ``mu'`` over every base
classifier is that of the set where the ratio is smallest,
``{V + Delta Z - Delta^2/2 <= lambda}``, with ``lambda`` set so that its
``mu``-probability is ``p``. The prediction cannot change while that
exceeds 1/2: with ``lambda`` the level at which the ``mu'``-probability is
exactly 1/2, the row is certified when ``p`` exceeds

.. math::

   p^*_S(\Delta) = \sum_v p_v \Phi\big((\lambda - v)/\Delta + \Delta/2\big),
   \quad \text{where} \quad
   \sum_v q_v \Phi\big((\lambda - v)/\Delta - \Delta/2\big) = 1/2 .

With no field changed (``V = 0``) this is ``Phi(Delta)``, Cohen et al.'s
certificate ``Delta < Phi^-1(p)``. At ``Delta = 0`` the Gaussian term
vanishes and ``p^*_S(0)`` is the discrete Neyman-Pearson bound: sort the
values ``v``, take the level set ``v*`` where the cumulative ``q`` reaches
1/2, and ``p^*_S(0) = P(V < v*) + theta P(V = v*)`` with ``theta`` the
fraction of that level set which brings ``q`` to exactly 1/2; it is also the
limit of ``p^*_S(Delta)`` as ``Delta`` goes to 0.

**At a decision threshold** ``t`` (a score that must stay at or above ``t``
rather than above 1/2; :meth:`~sksmooth.SmoothedClassifier.certify` with
``threshold=``), the same argument holds with ``t`` in place of 1/2 in the
level equation: the worst-case set keeps ``mu'``-probability above ``t``.
The Neyman-Pearson lemma holds for functions with values in [0, 1], so the
certificate covers soft scores too.

**The worst case.** An attacker who changes fewer fields, or a smaller
shift, is weaker: the pair ``(mu, mu')`` of a smaller change is obtained
from that of a larger one by redrawing the unchanged coordinates, so
``p^*_S(Delta)`` grows with ``Delta`` and with ``S``. The radius certified
with up to ``k`` fields changed is therefore
``min_S sup {Delta : p^*_S(Delta) < p}`` over the sets ``S`` of exactly
``k`` fields (all of them if there are fewer). Which fields are worst
depends on ``K_j`` and ``q_j``, so every choice is covered; fields with the
same ``(K_j, q_j)`` are interchangeable, so the choices are counted per
group of equal fields. A field with one category cannot change; a field
with ``q_j = 0`` can never be certified against (``p^*`` is 1).

**Many distinct fields.** The choices grow combinatorially with the number
of distinct fields (``C(m, k) 3^k`` atoms for ``m`` fields all distinct).
Beyond a budget of atoms per ``k``, the two groups of fields most alike
(closest ``t``) are merged, again and again until the enumeration fits,
into one group of a *dominating* field, which keeps its value with
probability ``max beta`` and switches with ``min gamma`` of the two. Each
merged field's pair of distributions is obtained from the dominating one's
by a fixed random relabelling (keep and switch mixed symmetrically, and
"other" spread evenly over keep and switch; it exists because
``beta <= beta*`` and ``gamma >= gamma*``), so by data processing the
certificate of the merged groups is smaller than that of every real choice:
sound, and exact when the merged fields share ``(K, q)``.

**Numerics.** ``lambda`` and ``Delta`` are found by bisection, each keeping
the side of its bracket that errs towards a smaller certificate, and the
condition is checked on the upper tails (``1 - p``), which keep their
precision when ``p`` is near 1, with a relative margin of ``1e-12``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = [
    "categorical_required_probability",
    "joint_required_probability",
    "joint_unit_radius",
]

# Relative margin on the tail 1 - p: certified only when the tail the
# certificate needs is smaller by this factor (absorbs rounding in the sums).
_TAIL_MARGIN = 1e-12
# No tail 1 - p of a double p < 1 is below Phi(-8.5), so no radius reaches it.
_LARGEST_RADIUS = 8.5
_GRID_POINTS = 1025
_RADIUS_ITERATIONS = 30
_LEVEL_ITERATIONS = 48
_BRACKET = 40.0
# Atoms summed over the choices of fields enumerated for one k; beyond it,
# groups are merged (exact up to 6 distinct fields: C(6, 4) 3^4 = 1215).
_EXACT_BUDGET = 2000


@dataclass(frozen=True)
class _Group:
    """Categorical fields that share ``(K, q)``: interchangeable for the worst case."""

    stay: float  # beta: the value is kept
    switch: float  # gamma: the value becomes one given other category
    size: int


def check_changes(n_changes) -> None:
    """Raise a ValueError unless ``n_changes`` is an integer >= 0."""
    if isinstance(n_changes, bool) or not isinstance(n_changes, (int, np.integer)) or n_changes < 0:
        raise ValueError(f"n_changes must be an integer >= 0, got {n_changes!r}.")


def _groups(n_categories, replace_probability) -> tuple[list[_Group], bool]:
    """Groups of changeable fields, and whether one of them has no noise (q = 0)."""
    n_categories = np.asarray(n_categories, dtype=np.int64).reshape(-1)
    q = np.broadcast_to(np.asarray(replace_probability, dtype=float), n_categories.shape)
    if np.any(n_categories < 1):
        raise ValueError(f"n_categories must be >= 1, got {n_categories.tolist()}.")
    if np.any(~np.isfinite(q)) or np.any(q < 0) or np.any(q >= 1):
        raise ValueError(f"replace_probability must be in [0, 1), got {q.tolist()}.")
    changeable = n_categories >= 2
    keys = sorted(set(zip(n_categories[changeable].tolist(), q[changeable].tolist(), strict=True)))
    groups = []
    for K, prob in keys:
        size = int(np.sum(changeable & (n_categories == K) & (q == prob)))
        groups.append(_Group(stay=1.0 - prob + prob / K, switch=prob / K, size=size))
    return groups, any(g.switch == 0.0 for g in groups)


def _net_count_distribution(group: _Group, n_changed: int) -> np.ndarray:
    """P(d) for d = -n..n: d = (# fields drawn at x'_j) - (# drawn at x_j), under mu."""
    other = 1.0 - group.stay - group.switch
    one = np.array([group.stay, other, group.switch])  # d = -1, 0, +1
    out = np.array([1.0])
    for _ in range(n_changed):
        out = np.convolve(out, one)
    return out


def _atoms(groups: list[_Group], counts: tuple[int, ...]):
    """Values ``v`` of the categorical log ratio with their masses under ``mu`` and ``mu'``."""
    values = np.zeros(1)
    p_mass = np.ones(1)
    q_mass = np.ones(1)
    for group, n_changed in zip(groups, counts, strict=True):
        if n_changed == 0:
            continue
        t = np.log(group.stay) - np.log(group.switch)
        dist = _net_count_distribution(group, n_changed)
        d = np.arange(-n_changed, n_changed + 1)
        values = (values[:, None] + d[None, :] * t).ravel()
        p_mass = (p_mass[:, None] * dist[None, :]).ravel()
        q_mass = (q_mass[:, None] * dist[None, ::-1]).ravel()  # under mu', d has the law of -d
    order = np.argsort(values, kind="stable")
    return values[order], p_mass[order], q_mass[order]


def _worst_case_counts(groups: list[_Group], n_changes: int):
    """Every way to spread ``n_changes`` (capped at the changeable fields) over the groups."""
    n_changes = min(n_changes, sum(g.size for g in groups))
    ranges = [range(min(g.size, n_changes) + 1) for g in groups]
    for counts in itertools.product(*ranges):
        if sum(counts) == n_changes:
            yield counts


def _level_index(q_mass: np.ndarray, level: float) -> int:
    """Index of the first atom (values sorted) at which the cumulative ``q`` reaches ``level``."""
    return min(int(np.searchsorted(np.cumsum(q_mass), level, side="left")), len(q_mass) - 1)


def _candidate_atoms(groups: list[_Group], n_changes: int) -> list:
    """The atoms of every worst-case choice of fields, coarsened to fit the budget.

    See "Many distinct fields" in the module docstring.
    """
    groups = _coarsened(groups, n_changes)
    return [_atoms(groups, counts) for counts in _worst_case_counts(groups, n_changes)]


def _enumeration_size(groups: list[_Group], n_changes: int) -> int:
    """Atoms summed over the choices of fields: the coefficient of ``x^k`` in a product.

    Group ``g`` contributes ``sum_c (2c + 1) x^c`` for ``c = 0 .. size_g``.
    """
    n_changes = min(n_changes, sum(g.size for g in groups))
    product = np.array([1.0])
    for group in groups:
        product = np.convolve(product, 2.0 * np.arange(group.size + 1) + 1.0)[: n_changes + 1]
    return int(product[n_changes]) if n_changes < len(product) else 0


def _log_ratio(group: _Group) -> float:
    return float(np.log(group.stay) - np.log(group.switch))


def _coarsened(groups: list[_Group], n_changes: int) -> list[_Group]:
    """Merge the two most alike groups (by log ratio) into a dominating one, until in budget."""
    if _enumeration_size(groups, n_changes) <= _EXACT_BUDGET:
        return groups
    groups = sorted(groups, key=_log_ratio)  # every switch is > 0 here: no field is unprotected
    while len(groups) > 1 and _enumeration_size(groups, n_changes) > _EXACT_BUDGET:
        gaps = np.diff([_log_ratio(g) for g in groups])
        i = int(np.argmin(gaps))
        a, b = groups[i], groups[i + 1]
        merged = _Group(
            stay=max(a.stay, b.stay), switch=min(a.switch, b.switch), size=a.size + b.size
        )
        groups = sorted([*groups[:i], merged, *groups[i + 2 :]], key=_log_ratio)
    return groups


def _discrete_tail(values, p_mass, q_mass, level: float = 0.5) -> float:
    """``1 - p*_S(0)``: the discrete Neyman-Pearson bound, as an upper tail.

    The atoms are sorted by ``values``, the log ratio; atoms of equal value
    may be split in any order, since they trade ``mu`` for ``mu'`` at the
    same rate.
    """
    q_before = np.concatenate([[0.0], np.cumsum(q_mass)[:-1]])
    # The atom where mu' reaches the level, and the fraction of it that reaches it exactly.
    index = _level_index(q_mass, level)
    theta = (level - q_before[index]) / q_mass[index] if q_mass[index] > 0 else 1.0
    theta = min(max(theta, 0.0), 1.0)
    # Upper tail of mu: the atoms after the level set and the part of it left out.
    return float(np.sum(p_mass[index + 1 :]) + (1.0 - theta) * p_mass[index])


def _gaussian_tail(delta: np.ndarray, values, p_mass, q_mass, level: float = 0.5) -> np.ndarray:
    """``1 - p*_S(Delta)`` for each ``Delta > 0``, erring low (towards no certificate).

    In ``s = lambda / Delta - Delta / 2`` the level equation reads
    ``g(s) = sum q_v Phi(s - v / Delta) - level = 0`` and the tail is
    ``sum p_v Phi(v / Delta - s - Delta)``. With ``v*`` the atom where the
    cumulative ``q`` first reaches the level, ``g <= 0`` at ``v* / Delta - 40``
    and ``g >= 0`` at ``v* / Delta + 40`` (``Phi(40)`` is 1 in floating
    point), whatever ``Delta``: bisection in that bracket, and the tail taken
    at its upper end, above the level, so below the true tail.
    """
    delta = np.asarray(delta, dtype=float)[:, None]
    scaled = values[None, :] / delta
    level_atom = values[_level_index(q_mass, level)]
    high = level_atom / delta[:, 0] + _BRACKET
    low = high - 2.0 * _BRACKET
    for _ in range(_LEVEL_ITERATIONS):
        middle = 0.5 * (low + high)
        above = special.ndtr(middle[:, None] - scaled) @ q_mass >= level
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return special.ndtr(scaled - high[:, None] - delta) @ p_mass


def _radius_for_atoms(tail_p: np.ndarray, values, p_mass, q_mass, level: float) -> np.ndarray:
    """Largest certified ``Delta`` for each upper tail ``1 - p``; 0 where none.

    The tail the certificate needs is tabulated on a grid of ``Delta`` shared
    by all rows; each row's answer is then bisected between the last grid
    point it certifies and the next, and the certified end is returned.
    """
    needed = tail_p * (1.0 + _TAIL_MARGIN)
    out = np.zeros_like(tail_p)
    rows = np.flatnonzero(_discrete_tail(values, p_mass, q_mass, level) > needed)
    if rows.size == 0:
        return out
    need = needed[rows]
    grid = np.linspace(0.0, _LARGEST_RADIUS, _GRID_POINTS)
    grid_tail = np.concatenate([[np.inf], _gaussian_tail(grid[1:], values, p_mass, q_mass, level)])
    # The first grid point each row fails (conservative even if rounding broke monotony).
    first_fail = np.argmin(grid_tail[None, :] > need[:, None], axis=1)
    first_fail = np.where(grid_tail[None, -1] > need, len(grid) - 1, first_fail)
    lo, hi = grid[first_fail - 1], grid[first_fail]
    for _ in range(_RADIUS_ITERATIONS):
        middle = 0.5 * (lo + hi)
        ok = _gaussian_tail(middle, values, p_mass, q_mass, level) > need
        lo = np.where(ok, middle, lo)
        hi = np.where(ok, hi, middle)
    out[rows] = lo
    return out


def joint_unit_radius(
    p_lower, n_changes: int, *, n_categories, replace_probability, threshold: float = 0.5
) -> np.ndarray:
    """Gaussian L2 radius certified together with up to ``n_changes`` categorical changes.

    In units of sigma: the region is ``||delta / sigma||_2 <= R`` over the
    numeric columns, together with any change of up to ``n_changes``
    categorical fields to any other category (see the module docstring for
    the derivation). With ``n_changes=0`` the same computation gives Cohen
    et al.'s ``Phi^-1(p_lower)`` (which :mod:`sksmooth.noise` computes in
    closed form); at a ``threshold``, ``Phi^-1(p_lower) - Phi^-1(threshold)``.

    Parameters
    ----------
    p_lower : array-like of float
        Lower bounds of the top class's probability under the joint noise.
    n_changes : int
        Largest number of categorical fields changed, at least 0.
    n_categories : array-like of int
        Number of categories of each categorical field.
    replace_probability : float or array-like of float
        Replacement probability ``q`` of each field, in [0, 1).
    threshold : float in (0, 1), default=0.5
        The score the class must keep above: 1/2 for the top class, the
        side's threshold for a decision at a threshold (Neyman-Pearson with
        the worst-case set's probability under the moved noise at this
        level instead of 1/2).

    Returns
    -------
    radius : ndarray of float
        The radius ``R``; 0 where not certified (also where ``p_lower <= threshold``).

    Examples
    --------
    >>> from sksmooth.certification._categorical import joint_unit_radius
    >>> joint_unit_radius([0.99], 0, n_categories=[7, 3], replace_probability=0.5).round(4)
    array([2.3263])
    >>> joint_unit_radius([0.99], 1, n_categories=[7, 3], replace_probability=0.5).round(4)
    array([1.8096])
    """
    p = np.asarray(p_lower, dtype=float)
    shape = p.shape
    p = p.reshape(-1)
    check_changes(n_changes)
    groups, unprotected = _groups(n_categories, replace_probability)
    if n_changes > 0 and unprotected:
        return np.zeros(shape)
    # Rows sharing a bound share a radius: solve once per distinct value.
    level = float(threshold)
    candidates = p > level
    unique, inverse = np.unique(p[candidates], return_inverse=True)
    radius = np.full(unique.shape, np.inf)
    for atoms in _candidate_atoms(groups, n_changes):
        radius = np.minimum(radius, _radius_for_atoms(1.0 - unique, *atoms, level))
    out = np.zeros(p.shape)
    out[candidates] = radius[inverse]
    return out.reshape(shape)


def joint_required_probability(
    unit_radius: float, n_changes: int, *, n_categories, replace_probability, threshold=0.5
) -> float:
    """The probability needed to certify ``unit_radius`` with ``n_changes`` fields changed.

    ``max_S p*_S(unit_radius)`` over the worst sets of fields (module
    docstring); at ``unit_radius=0`` the discrete bound. A row is certified
    when its ``p_lower`` exceeds it.

    Parameters
    ----------
    unit_radius : float
        Numeric radius ``Delta`` in units of sigma, at least 0.
    n_changes : int
        Largest number of categorical fields changed.
    n_categories, replace_probability, threshold
        As in :func:`joint_unit_radius`.

    Returns
    -------
    probability : float
        In [threshold, 1].

    Examples
    --------
    >>> from sksmooth.certification._categorical import joint_required_probability
    >>> round(joint_required_probability(1.0, 0, n_categories=[3], replace_probability=0.5), 6)
    0.841345
    """
    check_changes(n_changes)
    groups, unprotected = _groups(n_categories, replace_probability)
    if n_changes > 0 and unprotected:
        return 1.0
    tails = []
    for atoms in _candidate_atoms(groups, n_changes):
        if unit_radius == 0:
            tails.append(_discrete_tail(*atoms, threshold))
        else:
            tails.append(float(_gaussian_tail(np.array([unit_radius]), *atoms, threshold)[0]))
    return 1.0 - min(tails)


def categorical_required_probability(n_changes: int, *, n_categories, replace_probability) -> float:
    """The probability needed to certify ``n_changes`` categorical changes, numeric columns fixed.

    The discrete-only certificate: :func:`joint_required_probability` at
    radius 0.

    Parameters
    ----------
    n_changes : int
        Largest number of categorical fields changed.
    n_categories, replace_probability
        As in :func:`joint_unit_radius`.

    Returns
    -------
    probability : float

    Examples
    --------
    >>> from sksmooth.certification._categorical import categorical_required_probability
    >>> round(categorical_required_probability(1, n_categories=[2], replace_probability=0.5), 6)
    0.833333
    """
    return joint_required_probability(
        0.0, n_changes, n_categories=n_categories, replace_probability=replace_probability
    )
