"""Confidence bounds against scipy's reference implementations."""

import numpy as np
import pytest
from scipy import stats

from sksmooth.certification import clopper_pearson_lower, top_two_binomial_pvalue


@pytest.mark.parametrize("n", [1, 2, 10, 57, 1000])
@pytest.mark.parametrize("alpha", [0.001, 0.05, 0.2])
def test_clopper_pearson_matches_scipy_exact_interval(n, alpha):
    # The one-sided 1 - alpha bound is the lower end of the two-sided
    # 1 - 2 alpha exact (Clopper-Pearson) interval.
    counts = np.unique(np.linspace(0, n, min(n + 1, 60)).astype(int))
    expected = [
        stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").low
        for k in counts
    ]
    np.testing.assert_allclose(clopper_pearson_lower(counts, n, alpha), expected, rtol=1e-9, atol=0)


def test_clopper_pearson_edges():
    assert clopper_pearson_lower(0, 100, 0.001) == 0.0
    # All successes: the bound is alpha ** (1 / n).
    np.testing.assert_allclose(clopper_pearson_lower(100, 100, 0.001), 0.001 ** (1 / 100))


def test_clopper_pearson_coverage_is_at_least_one_minus_alpha():
    # Exact binomial probability of the bound exceeding p, over a grid of p.
    n, alpha = 50, 0.05
    bounds = clopper_pearson_lower(np.arange(n + 1), n, alpha)
    for p in np.linspace(0.01, 0.99, 99):
        miss = stats.binom.pmf(np.arange(n + 1), n, p)[bounds > p].sum()
        assert miss <= alpha + 1e-12


@pytest.mark.parametrize("total", [1, 2, 9, 10, 100, 333])
def test_top_two_pvalue_matches_binomtest(total):
    for count_a in range(total + 1):
        count_b = total - count_a
        expected = stats.binomtest(count_a, total, 0.5).pvalue
        assert top_two_binomial_pvalue(count_a, count_b) == pytest.approx(expected, rel=1e-9)


def test_top_two_pvalue_cohen_thresholds():
    # DESIGN: at alpha = 0.001, n = 10 always abstains; n = 100 needs >= 67 votes.
    assert top_two_binomial_pvalue(10, 0) > 0.001
    assert top_two_binomial_pvalue(67, 33) <= 0.001 < top_two_binomial_pvalue(66, 34)


@pytest.mark.parametrize("n", [1, 100, 10**5, 10**9])
def test_the_largest_alpha_keeps_the_bound_below_one(n):
    # All votes agree: the bound is alpha ** (1 / n); at alpha = 1/2 (the
    # largest accepted) it must stay a float below 1, so the radius is finite
    # and equals sigma * Phi^-1(alpha ** (1 / n)) computed stably.
    bound = clopper_pearson_lower(n, n, 0.5)
    assert bound < 1
    exact_complement = -np.expm1(np.log(0.5) / n)
    assert 1 - bound == pytest.approx(exact_complement, rel=1e-6)
