"""Joint certificates with changed categorical fields, against independent computations.

What each test proves (tolerances in brackets):

- k = 0 is the plain certificate: ``radius_with_categorical_changes(0)`` of a
  certify run and ``NoiseModel.radius_with_changes(p, norm, 0)`` equal
  ``radius`` bit for bit; the general routine ``joint_unit_radius(p, 0)``
  matches Cohen et al.'s ``Phi^-1(p)`` [1e-9] and never exceeds it [1e-12].
- Radii are non-increasing in k (exactly, with no running minimum applied),
  for homogeneous and heterogeneous fields.
- ``categorical_required_probability`` equals a brute-force randomized
  Neyman-Pearson bound [1e-12]: every joint outcome of the changed fields
  (kept, switched to the attacker's category, other) with its masses under
  ``mu`` and ``mu'``, sorted by likelihood ratio, filled to ``mu'``-mass 1/2
  with a fraction of the last outcome, the worst set of fields taken by
  enumeration. The radius is positive just above that probability and 0 at
  and below it (just above: by 1e-7, since radii under about 1e-8 sigma are
  lost to rounding, on the safe side).
- The joint radius with k >= 1 fields changed equals a nested brentq solution
  of the formula of the module docstring built on the same enumeration
  [1e-8], and never exceeds it [1e-10]; the worst case over which fields
  change equals the minimum over every subset (itertools.combinations), and
  a concrete setting shows that a fixed choice (the fields with the most
  categories) overstates it.
- Edge cases: q = 0 on a changeable field, single-category fields, p <= 1/2,
  p = 1 - 1e-12, and invalid ``n_changes``.
- Beyond the enumeration budget, the dominating field gives radii never above
  the exact ones [1e-12] and equal to them when every field shares (K, q)
  [1e-12]; a wrong "dominating" field (the mean field instead of the
  extremes) overstates some radius, so the comparison has bite.
- At a decision threshold ``t`` (the score must stay above ``t`` instead of
  1/2): the same references with ``t`` in place of 1/2 in the level equation
  [1e-12 discrete, 1e-8 joint], k = 0 is ``Phi^-1(p) - Phi^-1(t)`` [1e-9];
  the radius at 1/2 read at ``t = 0.9`` overstates it by more than 0.1 sigma,
  so the threshold has bite; a certify result at a threshold reads its
  radius with changed categories at each row's own side's threshold.
"""

import itertools

import numpy as np
import pytest
from scipy import optimize, special
from sklearn.frozen import FrozenEstimator

from sksmooth import SmoothedClassifier
from sksmooth.certification import _categorical
from sksmooth.certification._categorical import (
    categorical_required_probability,
    joint_required_probability,
    joint_unit_radius,
)
from sksmooth.noise import make_noise_model

from .oracles import LinearThreshold

# (n_categories, replace_probability): homogeneous, heterogeneous, repeated
# groups, a binary field, and single-category fields (which cannot change).
SETTINGS = [
    ([5], 0.3),
    ([2], 0.5),
    ([5, 5, 5], 0.4),
    ([3, 3], [0.9, 0.2]),
    ([2, 7, 30], [0.1, 0.5, 0.3]),
    ([4, 1, 9], [0.3, 0.0, 0.6]),
]
P_GRID = np.concatenate([np.linspace(0.5, 1.0, 1001)[1:-1], 1.0 - np.logspace(-12, -3, 40)])
P_CHECK = [0.9, 0.99, 0.999, 0.99999]


def radius(p, k, n_categories, q, threshold=0.5):
    return joint_unit_radius(
        np.atleast_1d(p), k, n_categories=n_categories, replace_probability=q, threshold=threshold
    )


def fields(n_categories, q):
    """(K, q) of each field."""
    n_categories = list(n_categories)
    return list(zip(n_categories, np.broadcast_to(q, len(n_categories)).tolist(), strict=True))


# --- independent reference -------------------------------------------------------


def outcomes(changed):
    """Masses under mu and mu' of every joint outcome of the changed fields ``[(K, q)]``.

    Per field: the value kept (mu: beta, mu': gamma), switched to the
    attacker's category (gamma, beta), or any other ((K - 2) gamma each side).
    """
    per_field = []
    for K, q in changed:
        beta, gamma = 1 - q + q / K, q / K
        per_field.append([(beta, gamma), (gamma, beta), ((K - 2) * gamma, (K - 2) * gamma)])
    mu, nu = [], []
    for combo in itertools.product(*per_field):
        mu.append(np.prod([c[0] for c in combo]))
        nu.append(np.prod([c[1] for c in combo]))
    mu, nu = np.array(mu), np.array(nu)
    keep = (mu > 0) | (nu > 0)
    return mu[keep], nu[keep]


def discrete_bound(changed, level=0.5):
    """Smallest mu-mass of a set whose mu'-mass is ``level``, filled by increasing ratio."""
    mu, nu = outcomes(changed)
    order = np.argsort(nu / mu, kind="stable")
    filled = p = 0.0
    for a, b in zip(mu[order], nu[order], strict=True):
        if filled + b >= level:
            return p + a * (level - filled) / b
        filled += b
        p += a
    return p


def subsets(n_categories, q, k):
    """The sets of exactly k changeable fields (all of them if fewer)."""
    changeable = [f for f in fields(n_categories, q) if f[0] >= 2]
    return list(itertools.combinations(changeable, min(k, len(changeable))))


def required_tail(delta, changed, level=0.5):
    """``1 - p*_S(delta)``: lambda by brentq on the mu'-mass ``level``.

    In ``s = lambda / delta - delta / 2``.
    """
    mu, nu = outcomes(changed)
    v = np.log(nu / mu)
    equation = lambda s: special.ndtr(s - v / delta) @ nu - level  # noqa: E731
    s = optimize.brentq(equation, v.min() / delta - 50, v.max() / delta + 50, xtol=1e-15)
    return special.ndtr(v / delta - s - delta) @ mu


def brentq_radius(p, changed, level=0.5):
    """The Delta at which ``p*_S(Delta) = p``, every field of ``changed`` changed; 0 if none."""
    gap = lambda d: required_tail(d, changed, level) - (1 - p)  # noqa: E731
    if gap(1e-6) <= 0:
        return 0.0
    return optimize.brentq(gap, 1e-6, 8.5, xtol=1e-14)


# --- k = 0 ---------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, [0.5, 1.0, 0.0, 0.0, 0.0]], ids=["scalar", "per-column"])
def test_no_change_is_the_plain_radius_bit_for_bit(sigma):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[:, 2], X[:, 3] = rng.integers(0, 4, 300), rng.integers(0, 6, 300)
    base = FrozenEstimator(LinearThreshold(np.array([1.0, 0.5, 0.2, -0.1, 0.3]), 0.0).fit())
    y = base.predict(X)
    clf = SmoothedClassifier(
        base,
        sigma=sigma,
        categorical_features=[2, 3],
        categorical_noise=[0.3, 0.6],
        n0=50,
        n=300,
        alpha=0.05,
        random_state=0,
    ).fit(X, y)
    for norm in ("l2", "linf"):
        result = clf.certify(X, y, norm=norm)
        assert np.array_equal(result.radius_with_categorical_changes(0), result.radius)
        assert np.array_equal(result.categorical_radius[:, 0], result.radius)
        assert np.any(result.radius_with_categorical_changes(2) > 0)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_noise_model_with_no_change_is_radius(norm):
    model = make_noise_model(
        "gaussian",
        0.5,
        n_features=4,
        categorical_columns=[1, 3],
        categories=(np.arange(3.0), np.arange(7.0)),
        categorical_noise=[0.2, 0.5],
    )
    assert np.array_equal(model.radius_with_changes(P_GRID, norm, 0), model.radius(P_GRID, norm))


@pytest.mark.parametrize("n_categories, q", SETTINGS)
def test_general_routine_is_cohen_at_zero_changes(n_categories, q):
    excess = radius(P_GRID, 0, n_categories, q) - special.ndtri(P_GRID)
    assert np.max(np.abs(excess)) < 1e-9
    assert np.max(excess) <= 1e-12


# --- monotone in k ------------------------------------------------------------------


@pytest.mark.parametrize("n_categories, q", SETTINGS)
def test_radius_is_non_increasing_in_k(n_categories, q):
    radii = np.stack([radius(P_GRID, k, n_categories, q) for k in range(len(n_categories) + 2)])
    assert np.all(np.diff(radii, axis=0) <= 0)
    assert np.all(radii[1] < radii[0])  # changing a field always costs something
    # Changing more fields than there are changeable ones is changing all of them.
    assert np.array_equal(radii[-1], radii[-2])


# --- discrete-only bound at radius 0 ---------------------------------------------


@pytest.mark.parametrize("n_categories, q", SETTINGS)
def test_discrete_bound_matches_enumeration(n_categories, q):
    for k in range(1, len(n_categories) + 1):
        expected = max(discrete_bound(s) for s in subsets(n_categories, q, k))
        got = categorical_required_probability(k, n_categories=n_categories, replace_probability=q)
        assert got == pytest.approx(expected, abs=1e-12)
        assert (
            joint_required_probability(0.0, k, n_categories=n_categories, replace_probability=q)
            == got
        )
        # Certified (a positive radius) just above the bound, not at or below it.
        assert radius(got, k, n_categories, q)[0] == 0
        assert radius(got * (1 - 1e-9), k, n_categories, q)[0] == 0
        assert radius(got + 1e-7, k, n_categories, q)[0] > 0


def test_discrete_bound_by_hand():
    # K = 2, q = 1/2: beta = 3/4, gamma = 1/4. mu' fills 1/4 on "kept" (mu 3/4),
    # then 1/3 of "switched" (mu 1/4): p* = 3/4 + 1/12 = 5/6.
    assert categorical_required_probability(
        1, n_categories=[2], replace_probability=0.5
    ) == pytest.approx(5 / 6, abs=1e-15)


# --- joint radius, k >= 1 ------------------------------------------------------------


@pytest.mark.parametrize("n_categories, q", SETTINGS[:5])
def test_joint_radius_matches_brentq(n_categories, q):
    # Every field changed (k = number of fields): one set S, no worst case.
    changed = fields(n_categories, q)
    for p in P_CHECK:
        expected = brentq_radius(p, changed)
        got = radius(p, len(changed), n_categories, q)[0]
        assert got == pytest.approx(expected, abs=1e-8)
        assert got <= expected + 1e-10
    # The probability required at that radius is p again.
    p = 0.99999
    r = brentq_radius(p, changed)
    needed = joint_required_probability(
        r, len(changed), n_categories=n_categories, replace_probability=q
    )
    assert needed == pytest.approx(p, abs=1e-10)


@pytest.mark.parametrize(
    "n_categories, q",
    [
        ([2, 7, 30], [0.1, 0.5, 0.3]),
        ([3, 10, 4], [0.05, 0.6, 0.2]),
        ([3, 3, 8, 1], [0.2, 0.2, 0.5, 0.4]),  # a repeated group and a fixed field
    ],
)
def test_worst_case_over_fields_is_every_subset(n_categories, q):
    for k in range(1, len(n_categories) + 1):
        for p in P_CHECK:
            per_subset = [brentq_radius(p, s) for s in subsets(n_categories, q, k)]
            got = radius(p, k, n_categories, q)[0]
            assert got == pytest.approx(min(per_subset), abs=1e-8)
            assert got <= min(per_subset) + 1e-10


def test_fixed_choice_of_fields_would_overstate():
    # A field with 3 categories and q = 0.05 is worse to lose than one with 10
    # categories and q = 0.6: changing the field with the most categories
    # would certify 2.81 sigma where 1.60 is all that holds.
    n_categories, q, p = [3, 10], [0.05, 0.6], 0.999
    most_categories = radius(p, 1, [10], [0.6])[0]
    worst = radius(p, 1, n_categories, q)[0]
    assert worst == pytest.approx(radius(p, 1, [3], [0.05])[0], abs=1e-12)
    assert worst == pytest.approx(1.5979, abs=1e-4)
    assert most_categories > worst + 1.0
    # With k = 2 of [2, 7, 30]: the two largest fields leave 0.98 sigma, but
    # the pair (2, 30) certifies nothing.
    n_categories, q = [2, 7, 30], [0.1, 0.5, 0.3]
    assert radius(p, 2, [7, 30], [0.5, 0.3])[0] > 0.9
    assert radius(p, 2, n_categories, q)[0] == 0
    assert radius(p, 2, [2, 30], [0.1, 0.3])[0] == 0


# --- edge cases ----------------------------------------------------------------------


def test_unnoised_changeable_field_is_never_certified():
    # The attacker picks the field with q = 0, whatever the others.
    assert np.all(radius(P_GRID, 1, [5, 3], [0.4, 0.0]) == 0)
    assert np.all(radius(P_GRID, 2, [5, 3], [0.4, 0.0]) == 0)
    assert np.all(radius(P_GRID, 0, [5, 3], [0.4, 0.0]) > 0)
    assert (
        joint_required_probability(0.5, 1, n_categories=[5, 3], replace_probability=[0.4, 0.0]) == 1
    )


def test_single_category_field_cannot_change():
    # Even with q = 0: a field with one category has nothing to change to.
    alone = radius(P_GRID, 1, [9], [0.6])
    assert np.any(alone > 0)
    for k in (1, 2, 3):
        assert np.array_equal(radius(P_GRID, k, [1, 9], [0.0, 0.6]), alone)
    assert np.array_equal(radius(P_GRID, 1, [1], [0.3]), radius(P_GRID, 0, [1], [0.3]))


@pytest.mark.parametrize("n_categories, q", SETTINGS)
def test_extreme_probabilities(n_categories, q):
    for k in range(len(n_categories) + 1):
        assert np.all(radius([0.0, 0.3, 0.5], k, n_categories, q) == 0)
        near_one = radius(1 - 1e-12, k, n_categories, q)[0]
        assert np.isfinite(near_one) and 0 < near_one <= special.ndtri(1 - 1e-12) + 1e-12
        if k and 1 < n_categories[0]:
            assert near_one < special.ndtri(1 - 1e-12) - 1e-3


@pytest.mark.parametrize("n_changes", [-1, 1.5, True, None])
def test_bad_number_of_changes_is_rejected(n_changes):
    with pytest.raises(ValueError, match="n_changes"):
        joint_unit_radius([0.9], n_changes, n_categories=[3], replace_probability=0.2)
    with pytest.raises(ValueError, match="n_changes"):
        joint_required_probability(0.1, n_changes, n_categories=[3], replace_probability=0.2)
    with pytest.raises(ValueError, match="n_changes"):
        categorical_required_probability(n_changes, n_categories=[3], replace_probability=0.2)


DOMINATED = [
    ([3, 5, 7, 11], [0.3, 0.5, 0.4, 0.6]),
    ([2, 30, 7], [0.5, 0.5, 0.2]),
]
P_SPREAD = np.linspace(0.9, 1 - 1e-6, 60)


def _radii_without_enumeration(monkeypatch, n_categories, q, k):
    monkeypatch.setattr(_categorical, "_EXACT_BUDGET", 0)
    return joint_unit_radius(P_SPREAD, k, n_categories=n_categories, replace_probability=q)


@pytest.mark.parametrize(("n_categories", "q"), DOMINATED)
def test_dominating_field_is_never_above_the_exact_radius(monkeypatch, n_categories, q):
    for k in range(1, len(n_categories) + 1):
        exact = joint_unit_radius(P_SPREAD, k, n_categories=n_categories, replace_probability=q)
        bound = _radii_without_enumeration(monkeypatch, n_categories, q, k)
        monkeypatch.undo()
        assert np.all(bound <= exact + 1e-12)


def test_dominating_field_is_exact_for_equal_fields(monkeypatch):
    exact = joint_unit_radius(P_SPREAD, 2, n_categories=[5, 5, 5], replace_probability=0.4)
    bound = _radii_without_enumeration(monkeypatch, [5, 5, 5], 0.4, 2)
    np.testing.assert_allclose(bound, exact, rtol=0, atol=1e-12)


def test_a_mean_field_would_overstate(monkeypatch):
    """The extremes matter: a field of average keep and switch probabilities is not dominating."""

    def mean_field(groups, n_changes):
        n_changed = min(n_changes, sum(g.size for g in groups))
        stay = float(np.mean([g.stay for g in groups]))
        switch = float(np.mean([g.switch for g in groups]))
        return [_categorical._atoms([_categorical._Group(stay, switch, n_changed)], (n_changed,))]

    n_categories, q = DOMINATED[0]
    exact = joint_unit_radius(P_SPREAD, 1, n_categories=n_categories, replace_probability=q)
    monkeypatch.setattr(_categorical, "_candidate_atoms", mean_field)
    wrong = joint_unit_radius(P_SPREAD, 1, n_categories=n_categories, replace_probability=q)
    assert np.any(wrong > exact + 1e-6)


@pytest.mark.parametrize(("n_categories", "q"), DOMINATED)
def test_merging_some_groups_lies_between_all_and_none(monkeypatch, n_categories, q):
    """Each merge gives a dominating field: radii only shrink as more groups merge."""
    for k in range(1, len(n_categories) + 1):
        exact = joint_unit_radius(P_SPREAD, k, n_categories=n_categories, replace_probability=q)
        monkeypatch.setattr(_categorical, "_EXACT_BUDGET", 3 * k)  # forces some merges
        partial = joint_unit_radius(P_SPREAD, k, n_categories=n_categories, replace_probability=q)
        monkeypatch.undo()
        merged = _radii_without_enumeration(monkeypatch, n_categories, q, k)
        monkeypatch.undo()
        assert np.all(merged <= partial + 1e-12) and np.all(partial <= exact + 1e-12)


# --- at a decision threshold ---------------------------------------------------------

LEVELS = [0.2, 0.7, 0.9]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n_categories, q", SETTINGS[:5])
def test_at_a_threshold_the_bounds_match_the_enumeration_at_that_level(n_categories, q, level):
    # k = 0: Gaussian alone, Phi^-1(p) - Phi^-1(level).
    p = np.array(P_CHECK)
    excess = radius(p, 0, n_categories, q, level) - (special.ndtri(p) - special.ndtri(level))
    assert np.max(np.abs(excess)) < 1e-9 and np.max(excess) <= 1e-12
    for k in range(1, len(n_categories) + 1):
        expected = max(discrete_bound(s, level) for s in subsets(n_categories, q, k))
        got = joint_required_probability(
            0.0, k, n_categories=n_categories, replace_probability=q, threshold=level
        )
        assert got == pytest.approx(expected, abs=1e-12)
        assert radius(got, k, n_categories, q, level)[0] == 0
        if got + 1e-7 < 1:
            assert radius(got + 1e-7, k, n_categories, q, level)[0] > 0
    # Every field changed, with a numeric shift: the nested brentq at the level.
    changed = fields(n_categories, q)
    for p in P_CHECK:
        expected = brentq_radius(p, changed, level)
        got = radius(p, len(changed), n_categories, q, level)[0]
        assert got == pytest.approx(expected, abs=1e-8) and got <= expected + 1e-10


def test_the_radius_at_one_half_would_overstate_a_higher_threshold():
    # The deliberately wrong certificate: the 1/2 bound read at a threshold of 0.9.
    changed = fields([5, 3], [0.4, 0.6])
    wrong = radius(0.999, 2, [5, 3], [0.4, 0.6])[0]
    assert wrong > brentq_radius(0.999, changed, 0.9) + 0.1


def test_a_threshold_result_reads_its_radius_with_changed_categories():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    X[:, 2] = rng.integers(0, 4, 200)
    base = FrozenEstimator(LinearThreshold(np.array([1.0, 0.5, 0.4]), -0.3).fit())
    y = base.predict(X)
    clf = SmoothedClassifier(
        base, sigma=0.5, categorical_features=[2], categorical_noise=0.5, n=500, random_state=0
    ).fit(X, y)
    result = clf.certify(X, y, threshold=0.3)
    model = clf._noise_model()
    side = np.where(result.label == clf.classes_[1], 0.3, 0.7)
    expected = model.radius_with_changes(result.p_lower, "l2", 1, threshold=side)
    np.testing.assert_array_equal(result.radius_with_categorical_changes(1), expected)
    assert np.all(result.radius_with_categorical_changes(1) <= result.radius)
    assert np.any(result.radius_with_categorical_changes(1) > 0)
