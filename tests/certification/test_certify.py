"""CERTIFY and PREDICT on simulated vote counts, against exact probabilities.

A certificate for a row whose top class has probability ``pA`` under noise
overstates the robustness exactly when its radius exceeds the radius at the
true ``pA``, that is when ``p_lower > pA`` (every radius formula increases
with ``p``). For fixed-n CERTIFY the probability of that event is a binomial
tail, computed exactly here with scipy; the simulated rows must match it
within a two-sided binomial tolerance. For adaptive mode the same
probability follows from a dynamic programme over the looks, and it must
stay below ``alpha`` (the union bound's promise); decision mode, which bets,
has its own file (``test_betting.py``).

Every tolerance has false-alarm probability ``FALSE_ALARM`` (1e-4): a
correct implementation fails a check with at most that probability.
"""

import math

import numpy as np
import pytest
from scipy import special, stats

from sksmooth.certification import certify_votes, predict_votes, sequential_certify_votes
from sksmooth.certification._sequential import adaptive_rule
from sksmooth.noise import LaplaceNoise, NoiseModel, make_noise_model

from .oracles import NOISE_NORMS, seed_of

FALSE_ALARM = 1e-4
N_ROWS = 20_000
N0 = 100

# A scalar sigma (radii in data units) and a per-column sigma with a column
# that receives no noise (unitless radii over the 3 noised columns).
SIGMAS = {"scalar": 0.5, "per-column": np.array([0.5, 0.0, 1.0, 0.25])}


# --- independent oracles -----------------------------------------------------


def oracle_unit_radius(noise, norm, p, d):
    """The certified radius at the exact probability ``p``, in units of sigma.

    Written from the papers, not from the package: Cohen et al. (2019) for
    Gaussian noise, Teng et al. (2020) for Laplace noise of scale
    ``sigma / sqrt(2)``, Yang et al. (2020) for uniform noise on
    ``[-sqrt(3) sigma, sqrt(3) sigma]``; L-infinity from L2 by ``sqrt(d)``,
    from L1 by ``d``, and for uniform noise by the overlap of two cubes.
    """
    if noise == "gaussian":
        l2 = stats.norm.ppf(p)
        return l2 if norm == "l2" else l2 / math.sqrt(d)
    if noise == "laplace":
        l1 = -math.log(2 * (1 - p)) / math.sqrt(2)
        return l1 if norm == "l1" else l1 / d
    half_width = math.sqrt(3)
    if norm == "l1":
        return 2 * half_width * (p - 0.5)
    return 2 * half_width * (1 - (1.5 - p) ** (1 / d))


def oracle_radius(model, norm, p):
    """``oracle_unit_radius`` in the units of ``model.radius``."""
    unit = oracle_unit_radius(model.noise.name, norm, p, model.n_noised)
    return model.sigma * unit if model.scalar else unit


def clopper_pearson_table(n, alpha):
    """The one-sided lower bound for every count 0..n, from scipy's Beta quantile."""
    k = np.arange(n + 1, dtype=float)
    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(alpha, k, n - k + 1)
    return np.where(k > 0, bound, 0.0)


def exceedance(n, p, q, alpha):
    """``P(lower bound > q)`` exactly, for a count ``K ~ Binomial(n, p)``.

    The bound increases with ``K``, so the event is ``K >= k*`` with ``k*``
    the smallest count whose bound exceeds ``q``.
    """
    over = np.flatnonzero(clopper_pearson_table(n, alpha) > q)
    return 0.0 if over.size == 0 else float(stats.binom.sf(over[0] - 1, n, p))


def exact_unsound_probability(p_a, n0, n, alpha):
    """Probability that a binary row with ``P(class 0) = p_a > 1/2`` gets an unsound certificate.

    The candidate is class 0 unless class 1 wins the ``n0`` selection votes
    outright (a tie goes to class 0, the first index). Class 0's certificate
    is unsound when its bound exceeds ``p_a``; class 1 is the wrong label, so
    any certificate for it (a bound above 1/2) is unsound.
    """
    p_select_a = float(stats.binom.sf(math.ceil(n0 / 2) - 1, n0, p_a))
    return p_select_a * exceedance(n, p_a, p_a, alpha) + (1 - p_select_a) * exceedance(
        n, 1 - p_a, 0.5, alpha
    )


def two_sided_interval(n_rows, probability):
    """Counts a Binomial(n_rows, probability) leaves with probability at most FALSE_ALARM."""
    low = stats.binom.ppf(FALSE_ALARM / 2, n_rows, probability)
    high = stats.binom.isf(FALSE_ALARM / 2, n_rows, probability)
    return int(low), int(high)


def max_unsound(n_rows, alpha):
    """Most unsound rows a procedure whose rows fail with probability <= alpha may show."""
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_rows, alpha))


# --- the check ---------------------------------------------------------------


def binary_votes(rng, p_a, n_draws, n_rows):
    """Votes (class 0, class 1) of ``n_rows`` independent rows with ``P(class 0) = p_a``."""
    count_a = rng.binomial(n_draws, p_a, size=n_rows)
    return np.stack([count_a, n_draws - count_a], axis=1)


def unsound_rows(certificates, model, norm, p_a):
    """Rows certified for class 1 (the wrong one) or beyond the radius at the true ``p_a``."""
    issued = ~certificates.abstained
    too_far = certificates.radius > oracle_radius(model, norm, p_a)
    return int(np.sum(issued & ((certificates.candidate != 0) | too_far)))


def fixed_n_check(certify, model, norm, p_a, n, alpha, seed):
    """Simulate N_ROWS rows through ``certify``; return (unsound count, exact interval)."""
    rng = np.random.default_rng(seed)
    selection = binary_votes(rng, p_a, N0, N_ROWS)
    estimation = binary_votes(rng, p_a, n, N_ROWS)
    certificates = certify(selection, estimation, alpha=alpha, noise_model=model, norm=norm)
    expected = exact_unsound_probability(p_a, N0, n, alpha)
    return unsound_rows(certificates, model, norm, p_a), two_sided_interval(N_ROWS, expected)


# (p_a, n, alpha): exact unsound probabilities between 0.58 alpha and 0.95 alpha.
FIXED_N_CASES = [
    (0.8, 1000, 0.05),
    (0.7, 500, 0.1),
    (0.95, 2000, 0.01),
    (0.6, 200, 0.05),
    (0.99, 5000, 0.02),
    (0.9, 100, 0.1),
]


@pytest.mark.parametrize("sigma", list(SIGMAS), ids=list(SIGMAS))
@pytest.mark.parametrize(
    "noise, norm, case",
    [(*noise_norm, case) for noise_norm, case in zip(NOISE_NORMS, FIXED_N_CASES, strict=True)],
)
def test_fixed_n_unsound_rate_matches_the_exact_binomial_tail(noise, norm, case, sigma):
    p_a, n, alpha = case
    model = make_noise_model(noise, SIGMAS[sigma], n_features=4)
    expected = exact_unsound_probability(p_a, N0, n, alpha)
    # Clopper-Pearson's guarantee, exactly; and the case can tell a wrong level apart.
    assert 0.5 * alpha < expected <= alpha
    unsound, (low, high) = fixed_n_check(
        certify_votes, model, norm, p_a, n, alpha, seed=seed_of(noise, norm, sigma)
    )
    assert low <= unsound <= high, (unsound, low, high, N_ROWS * expected)


def test_fixed_n_check_catches_a_bound_at_ten_times_alpha():
    p_a, n, alpha = 0.95, 2000, 0.01
    model = make_noise_model("gaussian", 0.5, n_features=4)

    def certify_at_ten_alpha(selection, estimation, *, alpha, noise_model, norm):
        return certify_votes(
            selection, estimation, alpha=10 * alpha, noise_model=noise_model, norm=norm
        )

    unsound, (_, high) = fixed_n_check(certify_at_ten_alpha, model, "l2", p_a, n, alpha, seed=0)
    assert unsound > high


class DoubledScaleLaplace(LaplaceNoise):
    """Laplace radii as if the noise had twice its scale: every radius doubled."""

    def radius(self, p, norm, n_noised):
        return 2.0 * super().radius(p, norm, n_noised)


class ConservativeLaplace(LaplaceNoise):
    """Laplace radii at 0.9 of their value: sound, but not what the formula gives."""

    def radius(self, p, norm, n_noised):
        return 0.9 * super().radius(p, norm, n_noised)


@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_fixed_n_check_catches_a_wrong_laplace_radius(norm):
    p_a, n, alpha = 0.8, 1000, 0.05
    scales = SIGMAS["per-column"]
    too_large = NoiseModel(DoubledScaleLaplace(), scales, scales)
    unsound, (_, high) = fixed_n_check(certify_votes, too_large, norm, p_a, n, alpha, seed=1)
    assert unsound > high
    # The interval is two-sided: radii that are too small are caught as well.
    too_small = NoiseModel(ConservativeLaplace(), scales, scales)
    unsound, (low, _) = fixed_n_check(certify_votes, too_small, norm, p_a, n, alpha, seed=1)
    assert unsound < low


# --- Cohen et al.'s formulas, exactly ----------------------------------------


def test_gaussian_radius_is_cohens_formula_exactly():
    sigma, n, alpha = 0.37, 1000, 0.001
    rng = np.random.default_rng(0)
    count_a = np.concatenate([np.arange(n + 1), rng.integers(0, n + 1, 500)])
    estimation = np.stack([count_a, n - count_a], axis=1)
    selection = np.tile([N0, 0], (len(count_a), 1))
    model = make_noise_model("gaussian", sigma, n_features=3)
    out = certify_votes(selection, estimation, alpha=alpha, noise_model=model, norm="l2")
    with np.errstate(invalid="ignore"):
        p_lower = stats.beta.ppf(alpha, count_a, n - count_a + 1)
    p_lower = np.where(count_a > 0, p_lower, 0.0)
    certified = p_lower > 0.5
    expected = np.where(certified, sigma * special.ndtri(p_lower), 0.0)
    np.testing.assert_array_equal(out.p_lower, p_lower)
    np.testing.assert_array_equal(out.radius, expected)
    np.testing.assert_array_equal(out.abstained, ~certified)
    np.testing.assert_array_equal(out.candidate, 0)
    np.testing.assert_array_equal(out.n_samples, n)
    assert 0 < certified.sum() < len(certified)


@pytest.mark.parametrize("alpha", [0.001, 0.05])
def test_predict_votes_is_the_two_sided_binomial_test(alpha):
    rng = np.random.default_rng(1)
    # Two and four classes, ties and empty classes included.
    two = rng.integers(0, 60, size=(300, 2))
    four = rng.multinomial(80, [0.4, 0.3, 0.2, 0.1], size=300)
    edge_cases = np.array([[0, 0], [5, 5], [7, 0], [0, 9], [30, 0]])
    for votes in (two, four, edge_cases):
        top, abstain = predict_votes(votes, alpha)
        np.testing.assert_array_equal(top, votes.argmax(axis=1))
        expected = []
        for row in votes:
            second, first = np.sort(row)[-2:]
            if first + second == 0:
                expected.append(True)
            else:
                expected.append(stats.binomtest(first, first + second, 0.5).pvalue > alpha)
        np.testing.assert_array_equal(abstain, expected)
        assert 0 < abstain.sum() < len(abstain)  # both outcomes occur


# --- sequential modes --------------------------------------------------------

N_CAP = 3200
SCHEDULE = [100, 200, 400, 800, 1600, 3200]  # doubling looks; the union bound pays for 6


def exact_sequential_exceedance(p, q, alpha, unfinished):
    """``P(some look's lower bound > q)`` for a row whose candidate has probability ``p``.

    Mass over the cumulative count of the paths still running and not yet
    over ``q``: each look convolves it with the new samples' binomial, adds
    the mass whose bound (at level ``alpha / 6``) exceeds ``q``, and drops the
    paths the stopping rule ends.
    """
    level = alpha / len(SCHEDULE)
    running = np.ones(1)
    exceeded, drawn = 0.0, 0
    for size in SCHEDULE:
        new = size - drawn
        running = np.convolve(running, stats.binom.pmf(np.arange(new + 1), new, p))
        drawn = size
        count = np.arange(size + 1)
        lower = clopper_pearson_table(size, level)
        upper = 1 - clopper_pearson_table(size, level)[::-1]
        over = lower > q
        exceeded += running[over].sum()
        running = np.where(~over & unfinished(lower, upper, count, size), running, 0.0)
    return float(exceeded)


def sequential_check(model, norm, p_a, alpha, seed, alpha_used=None):
    """Simulate N_ROWS rows of a sequential mode; return (unsound count, certificates)."""
    rng = np.random.default_rng(seed)
    looks = []

    def draw_votes(rows, look, n_new):
        looks.append(look)
        return binary_votes(rng, p_a, n_new, len(rows))

    out = sequential_certify_votes(
        np.tile([N0, 0], (N_ROWS, 1)),
        draw_votes,
        n_cap=N_CAP,
        alpha=alpha if alpha_used is None else alpha_used,
        noise_model=model,
        norm=norm,
    )
    assert looks == sorted(set(looks))  # one draw per look, looks in order
    return unsound_rows(out, model, norm, p_a), out


def rule_of(model, norm, alpha):
    return adaptive_rule(
        lambda p: model.radius(p, norm, in_sigmas=True),
        n_cap=N_CAP,
        level=alpha / len(SCHEDULE),
    )


@pytest.mark.parametrize("sigma", list(SIGMAS), ids=list(SIGMAS))
@pytest.mark.parametrize("noise, norm", NOISE_NORMS)
@pytest.mark.parametrize("p_a", [0.7, 0.9])
def test_adaptive_mode_is_sound(noise, norm, sigma, p_a):
    alpha = 0.05
    model = make_noise_model(noise, SIGMAS[sigma], n_features=4)
    rule = rule_of(model, norm, alpha)
    expected = exact_sequential_exceedance(p_a, p_a, alpha, rule)
    assert 0.05 * alpha < expected <= alpha
    unsound, out = sequential_check(
        model, norm, p_a, alpha, seed=seed_of("adaptive", noise, norm, sigma, p_a)
    )
    assert unsound <= max_unsound(N_ROWS, alpha)
    low, high = two_sided_interval(N_ROWS, expected)
    assert low <= unsound <= high, (unsound, low, high, N_ROWS * expected)
    assert np.mean(~out.abstained) > 0.9
    assert set(np.unique(out.n_samples)) <= set(SCHEDULE)


def test_sequential_check_catches_a_missing_union_bound():
    # Each look at level alpha instead of alpha / 6: the rows' bounds fail
    # far more often than alpha, and the one-sided check says so.
    alpha = 0.05
    model = make_noise_model("gaussian", 0.5, n_features=4)
    unsound, _ = sequential_check(
        model, "l2", 0.7, alpha, seed=10, alpha_used=alpha * len(SCHEDULE)
    )
    assert unsound > max_unsound(N_ROWS, alpha)


@pytest.mark.parametrize("p_a", [0.52, 0.55, 0.6])
def test_adaptive_mode_keeps_rows_near_one_half_going(p_a):
    # Rows fixed n = 100,000 certifies almost surely must not be abandoned
    # early (stopping on a point estimate at or below 1/2 after 100 samples
    # abstained on 87% of the rows at pA = 0.52, and 34% at 0.55).
    model = make_noise_model("gaussian", 1.0, n_features=2)
    rng = np.random.default_rng(int(p_a * 100))
    rows, n_cap = 2000, 100_000

    def draw_votes(selected, look, n_new):
        votes = rng.binomial(n_new, p_a, len(selected))
        return np.stack([votes, n_new - votes], axis=1)

    selection = np.tile([N0, 0], (rows, 1))
    out = sequential_certify_votes(
        selection, draw_votes, n_cap=n_cap, alpha=0.001, noise_model=model, norm="l2"
    )
    assert out.abstained.mean() < 0.01
    assert out.n_samples.mean() < n_cap / 4  # still far fewer samples than fixed n
