"""Soft smoothing's fixed-point score sums and their empirical Bernstein bound.

**The oracles.** ``fixed_point_scores`` is checked against Python's exact
integers: ``k = floor(s 2^32)`` (``s 2^32`` is exact in float64) and the
square ``ceil(k^2 / 2^32)``. The bound of Maurer & Pontil (2009, Theorem 4)
holds for any distribution on [0, 1]: for draws of known mean ``m``, it must
exceed ``m`` with probability at most ``alpha``.

**The tolerance.** Replications are independent, so among ``R`` of them the
number of bounds above ``m`` may exceed the ``1 - FALSE_ALARM`` quantile of
``Binomial(R, alpha)`` only with probability ``FALSE_ALARM`` = 1e-4. For
two-point scores {0, 1} the sum is binomial, and the exact probability that
the bound exceeds ``m`` is computed from the bound at every count, with no
tolerance at all. Deliberately wrong bounds (the normal approximation
``mean - z_{1-alpha} sqrt(V / n)``, and the Bernstein bound without its
range term ``7 ln(2/alpha) / (3 (n - 1))``) fail the same checks on scores
that are almost always 1, where a sample often shows no variance at all.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from sksmooth._monte_carlo import fixed_point_scores
from sksmooth.certification._certify import largest_radius
from sksmooth.certification._scores import SCORE_SCALE, ScoreSums, empirical_bernstein_lower
from sksmooth.noise import make_noise_model

from .oracles import seed_of

FALSE_ALARM = 1e-4
ALPHA = 0.1
N_REPLICATIONS, N = 20_000, 200


def max_failures(n, alpha):
    """Most bounds above the mean a bound failing with probability <= alpha may show."""
    return int(stats.binom.ppf(1 - FALSE_ALARM, n, alpha))


# --- fixed point ---------------------------------------------------------------------

EDGES = [0.0, 1.0, 0.5, 1 - 2**-24, 2**-24, 2**-32, 2**-33, 3 * 2**-33, 1 - 2**-32, 1 - 2**-53]


def exact_fixed_point(values):
    k = [math.floor(v * 2**32) for v in values]  # a power-of-two scaling: exact
    return k, [-((-x * x) // 2**32) for x in k]  # ceil of the exact rational


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fixed_point_scores_are_exact(dtype):
    rng = np.random.default_rng(seed_of("fixed", str(dtype)))
    values = np.concatenate([EDGES, rng.random(2000), rng.random(200) ** 20]).reshape(-1, 2)
    scores = torch.tensor(values, dtype=dtype)
    as_given = scores.double().flatten().tolist()  # float32 -> float64 is exact
    k, squares = fixed_point_scores(scores)
    assert k.dtype == squares.dtype == torch.int64 and k.shape == scores.shape
    exact_k, exact_squares = exact_fixed_point(as_given)
    assert k.flatten().tolist() == exact_k
    assert squares.flatten().tolist() == exact_squares
    # The edges: 0 -> 0, 1 -> 2^32 (square 2^32), 1/2 -> 2^31 (square 2^30).
    if dtype == torch.float64:
        assert exact_k[:3] == [0, 2**32, 2**31] and exact_squares[:3] == [0, 2**32, 2**30]


def test_a_wrong_square_fails_the_exactness_check():
    # Wrong ways to square: the floor, float64 (k^2 needs 64 bits: at k = 2^32 - 1 the
    # trailing 1 of 2^64 - 2^33 + 1 is lost), or an int64 product, which wraps.
    k, exact_squares = exact_fixed_point([1 - 2**-32, 2**-33 * 3, 0.1, 0.7])
    assert [x * x // 2**32 for x in k] != exact_squares
    assert [math.ceil(float(x) * float(x) / 2**32) for x in k] != exact_squares
    wrapped = -((-(np.array(k, dtype=np.int64) ** 2)) // 2**32)
    assert wrapped.tolist() != exact_squares


# --- ScoreSums -----------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_means_and_probabilities_sum_to_one(n_classes):
    rng = np.random.default_rng(seed_of("sums", n_classes))
    n_rows, n = 200, 64
    logits = rng.normal(scale=3.0, size=(n_rows, n, n_classes))
    scores = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    k, squares = fixed_point_scores(torch.from_numpy(scores))
    sums = ScoreSums(k.sum(dim=1).numpy(), squares.sum(dim=1).numpy(), n)
    means = sums.means()
    assert np.all(np.abs(means.sum(axis=1) - 1) <= 1e-6)
    # The floor only lowers a mean, by less than 2^-32.
    true_means = scores.mean(axis=1)
    assert np.all(means <= true_means + 1e-15) and np.all(means >= true_means - 2**-32 - 1e-15)
    assert np.all(np.abs(sums.probabilities().sum(axis=1) - 1) <= 1e-12)
    # No samples, or a row of zero scores: uniform probabilities, still summing to 1.
    empty = ScoreSums(np.zeros((3, n_classes), dtype=np.int64), np.zeros((3, n_classes)), 0)
    assert np.allclose(empty.probabilities(), 1 / n_classes)
    zero_row = ScoreSums(np.zeros((1, n_classes), dtype=np.int64), np.zeros((1, n_classes)), 5)
    assert np.allclose(zero_row.probabilities().sum(axis=1), 1)


# --- coverage of the empirical Bernstein bound ---------------------------------------


def near_one(rng, shape):
    """Scores 1 but for rare 0s (probability 1/200): a sample often has no 0 at all."""
    return (rng.random(shape) >= 0.005).astype(float)


DISTRIBUTIONS = {
    "beta(2, 5)": (lambda rng, shape: rng.beta(2, 5, shape), 2 / 7),
    "beta(0.5, 0.5)": (lambda rng, shape: rng.beta(0.5, 0.5, shape), 0.5),
    "beta(20, 0.5)": (lambda rng, shape: rng.beta(20, 0.5, shape), 20 / 20.5),
    "two-point 0.2 / 1": (lambda rng, shape: np.where(rng.random(shape) < 0.1, 1.0, 0.2), 0.28),
    "rare 0": (near_one, 0.995),
}


def replicate(name):
    """Fixed-point sums of N_REPLICATIONS independent samples of N scores, and the floats."""
    draw, mean = DISTRIBUTIONS[name]
    scores = draw(np.random.default_rng(seed_of("coverage", name)), (N_REPLICATIONS, N))
    k, squares = fixed_point_scores(torch.from_numpy(scores))
    return k.sum(dim=1).numpy(), squares.sum(dim=1).numpy(), scores, mean


def normal_approximation(scores, alpha):
    """WRONG: mean - z sqrt(V / n), no guarantee for a skewed distribution."""
    n = scores.shape[1]
    return scores.mean(axis=1) - stats.norm.isf(alpha) * scores.std(axis=1, ddof=1) / math.sqrt(n)


def bernstein_without_range_term(scores, alpha):
    """WRONG: Maurer & Pontil's bound missing its 7 ln(2/alpha) / (3 (n - 1))."""
    n = scores.shape[1]
    variance = scores.var(axis=1, ddof=1)
    return scores.mean(axis=1) - np.sqrt(2 * variance * math.log(2 / alpha) / n)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_empirical_bernstein_lower_covers_the_mean(name):
    sums, squares, scores, mean = replicate(name)
    bound = empirical_bernstein_lower(sums, squares, N, ALPHA)
    assert np.all((bound >= 0) & (bound <= 1))
    failures = int(np.sum(bound > mean))
    assert failures <= max_failures(N_REPLICATIONS, ALPHA), failures
    if name == "rare 0":
        # The same check, with deliberately wrong bounds.
        for wrong in (normal_approximation, bernstein_without_range_term):
            wrong_failures = int(np.sum(wrong(scores, ALPHA) > mean))
            assert wrong_failures > max_failures(N_REPLICATIONS, ALPHA), wrong.__name__


def exact_failure_probability(bound_at_count, n, p):
    """P(bound > p) for n Bernoulli(p) scores, from the bound at every count 0..n."""
    counts = np.arange(n + 1)
    return float(np.sum(stats.binom.pmf(counts, n, p)[bound_at_count > p]))


@pytest.mark.parametrize("n", [10, 50, 200, 1000])
def test_empirical_bernstein_lower_is_exact_sound_for_zero_one_scores(n):
    # Scores in {0, 1}: k = 2^32 and its square 2^32 each, so a count c of 1s
    # gives sums and squares of c 2^32.
    counts = np.arange(n + 1, dtype=np.int64)
    bound = empirical_bernstein_lower(counts * SCORE_SCALE, counts * SCORE_SCALE, n, ALPHA)
    grid = np.concatenate([np.linspace(0.001, 0.999, 199), 1 - np.logspace(-4, -1, 30)])
    exact = [exact_failure_probability(bound, n, p) for p in grid]
    assert max(exact) <= ALPHA, max(exact)
    # The normal approximation at the same counts undercovers near 1.
    share = counts / n
    normal = share - stats.norm.isf(ALPHA) * np.sqrt(share * (1 - share) / (n - 1))
    assert max(exact_failure_probability(normal, n, p) for p in grid) > ALPHA


def test_empirical_bernstein_lower_is_zero_below_two_samples():
    one = np.array([SCORE_SCALE])
    assert empirical_bernstein_lower(one, one, 1, ALPHA).tolist() == [0.0]
    assert empirical_bernstein_lower(one * 0, one * 0, 0, ALPHA).tolist() == [0.0]


def test_largest_soft_radius_is_the_radius_of_n_scores_of_one():
    model = make_noise_model("gaussian", 0.5, n_features=2)
    ones = np.array([1000 * SCORE_SCALE])
    expected = float(model.radius(empirical_bernstein_lower(ones, ones, 1000, 0.001), "l2")[0])
    assert largest_radius(1000, 0.001, model, "l2", soft=True) == pytest.approx(expected)
