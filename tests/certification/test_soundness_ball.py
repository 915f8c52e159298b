"""CERTIFY's guarantee on a nonlinear oracle: the ball classifier.

For f(x) = 1[||x - c||_2 < r] (class 1 inside the ball, class 0 outside) and
noise N(0, sigma^2 I) in d dimensions, ``||x + e - c||^2 / sigma^2`` is
noncentral chi-squared with d degrees of freedom and noncentrality
``||x - c||^2 / sigma^2``, so the smoothed probability of class 1 is exactly
``ncx2.cdf(r^2 / sigma^2, d, ||x - c||^2 / sigma^2)``. Each row's true top
class and its exact ``pA`` are therefore known, and Cohen et al.'s radius at
the true ``pA`` is ``sigma * Phi^-1(pA)``. A certificate is *unsound* when it
is issued (not an abstention) with the wrong class, or with a radius above
``sigma * Phi^-1(pA)``.

For fixed-n CERTIFY the probability of that event is exact: the ``n0``
selection votes, ``Binomial(n0, pA)``, pick the candidate (a tie goes to
class 0, the first index); the independent ``n`` estimation votes then give
an unsound certificate when the candidate's Clopper-Pearson bound exceeds its
true probability (the top class), or exceeds 1/2 (the other class, whose
every certificate is wrong). Both are binomial tails, summed exactly here.
So the observed count of unsound rows, a sum of independent Bernoulli
variables, is compared with its exact mean, not only with the worst case
``Binomial(n_rows, alpha)`` that the sequential modes are checked against.
"""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier
from torch import nn

from sksmooth import SmoothedClassifier

from ..conftest import DEVICES, patch_lower_bound
from .test_certify import clopper_pearson_table, exact_unsound_probability

FALSE_ALARM = 1e-4
# The unsound count is a sum of independent Bernoulli(p_i) (a Poisson-binomial
# law) with an exact mean of 25 to 51 in the fixed-n cases below; |z| <= 4 is
# the tolerance. That law's exact mass beyond 4 standard deviations, by
# convolution over the rows, is 1.0e-4 to 1.3e-4 there, nearly all of it on
# the right (the law is skewed right at these means): the check's false-alarm
# rate.
Z_MAX = 4.0
BALL_RADIUS = 0.8  # rows stay within about 1.5 of the origin


def max_unsound(n_rows, alpha):
    """Most unsound rows a sound procedure may show among ``n_rows``.

    Each row is unsound with probability at most alpha, independently of the
    others, so more than the ``1 - 1e-4`` quantile of ``Binomial(n_rows,
    alpha)`` occurs with probability below ``FALSE_ALARM``.
    """
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_rows, alpha))


# --- the oracle ----------------------------------------------------------------


class BallClassifier(ClassifierMixin, BaseEstimator):
    """f(x) = 1[||x - center||_2 < radius], in float64."""

    def __init__(self, center=None, radius=1.0):
        self.center = center
        self.radius = radius

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.center)
        return self

    def predict(self, X):
        return (np.sum((X - self.center) ** 2, axis=1) < self.radius**2).astype(int)

    def smoothed_inside(self, X, sigma):
        """The exact probability of class 1 under N(0, sigma^2 I) noise."""
        noncentrality = np.sum((X - self.center) ** 2, axis=1) / sigma**2
        return stats.ncx2.cdf(self.radius**2 / sigma**2, len(self.center), noncentrality)


class BallModule(nn.Module):
    """Scores (q - r^2, r^2 - q) with q = ||x - center||^2: class 1 inside the ball."""

    def __init__(self, center, radius):
        super().__init__()
        self.center = nn.Parameter(torch.as_tensor(center, dtype=torch.float32))
        self.radius = float(radius)

    def forward(self, X):
        inside = self.radius**2 - ((X - self.center) ** 2).sum(dim=1)
        return torch.stack([-inside, inside], dim=1)


def ball_net(base, device="cpu"):
    """A skorch net computing ``base``'s rule, ready without training."""
    net = NeuralNetClassifier(
        BallModule,
        module__center=base.center,
        module__radius=base.radius,
        classes=base.classes_,
        criterion=nn.CrossEntropyLoss,
        device=device,
    )
    return net.initialize()


def ball_problem(n_rows, n_features, sigma, seed, p_range=(0.5, 0.999)):
    """A ball and rows whose exact top-class probability is spread over ``p_range``.

    Half the rows have class 1 (inside) as their smoothed top class, half
    class 0. Each row's distance to the center is read off a fine grid of the
    exact probability, then the truth is recomputed at the row itself.
    """
    rng = np.random.default_rng(seed)
    center = rng.normal(size=n_features) * 0.2 / math.sqrt(n_features)
    base = BallClassifier(center, BALL_RADIUS).fit()
    grid = np.linspace(0.0, BALL_RADIUS + 8 * sigma, 20_001)
    p_inside = stats.ncx2.cdf(BALL_RADIUS**2 / sigma**2, n_features, (grid / sigma) ** 2)
    # Rows at the center reach the top of the range for class 1.
    assert p_inside[0] > p_range[1] and p_inside[-1] < 1 - p_range[1]
    inside = np.arange(n_rows) % 2 == 1
    target = rng.uniform(*p_range, n_rows)
    distance = np.interp(np.where(inside, target, 1 - target), p_inside[::-1], grid[::-1])
    direction = rng.normal(size=(n_rows, n_features))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    X = center + distance[:, None] * direction
    return base, X


def truth(base, X, sigma):
    """Each row's smoothed top class, its exact probability, and the radius it implies."""
    p_inside = base.smoothed_inside(X, sigma)
    label = (p_inside > 0.5).astype(int)
    p_top = np.maximum(p_inside, 1 - p_inside)
    return label, p_top, sigma * special.ndtri(p_top)


def unsound_rows(result, label, exact_radius):
    """Issued certificates with the wrong class, or a radius above the one at the true pA."""
    issued = ~result.abstained
    return issued & ((result.label != label) | (result.radius > exact_radius + 1e-12))


# --- the exact expected count ----------------------------------------------------


def bound_table_tail(table, n, p, q):
    """``P(table[K] > q)`` for ``K ~ Binomial(n, p)``, row by row (``p``, ``q`` arrays)."""
    counts = np.arange(n + 1)
    pmf = stats.binom.pmf(counts[None, :], n, np.asarray(p)[:, None])
    return np.sum(pmf * (table[None, :] > np.asarray(q)[:, None]), axis=1)


def exact_unsound_probabilities(label, p_top, n0, n, table):
    """Each row's exact probability of an unsound fixed-n certificate.

    ``table[k]`` is the lower bound CERTIFY computes from ``k`` of ``n``
    votes. The candidate is the top class unless the other class wins the
    ``n0`` selection votes, a tie going to class 0.
    """
    top_needs = np.where(label == 0, math.ceil(n0 / 2), n0 // 2 + 1)
    p_select_top = stats.binom.sf(top_needs - 1, n0, p_top)
    top_unsound = bound_table_tail(table, n, p_top, p_top)
    other_certified = bound_table_tail(table, n, 1 - p_top, np.full(len(p_top), 0.5))
    return p_select_top * top_unsound + (1 - p_select_top) * other_certified


def z_score(observed, probabilities):
    """``(observed - mean) / sd`` of a sum of independent Bernoulli(probabilities)."""
    mean = probabilities.sum()
    return (observed - mean) / math.sqrt(np.sum(probabilities * (1 - probabilities)))


def wald_lower(k, n, alpha):
    """The normal-approximation (Wald) lower bound: anti-conservative near 0 and 1."""
    p_hat = np.asarray(k, dtype=float) / n
    return p_hat - special.ndtri(1 - alpha) * np.sqrt(p_hat * (1 - p_hat) / n)


def wald_table(n, alpha):
    return wald_lower(np.arange(n + 1), n, alpha)


# --- the oracle's own checks --------------------------------------------------------


def test_ball_oracle_matches_a_direct_monte_carlo():
    # 400,000 noisy copies of each of 8 rows: the Monte Carlo frequency of
    # class 1 is within 5 of its standard errors of the ncx2 probability.
    sigma, n_draws = 0.15, 400_000
    base, X = ball_problem(8, 5, sigma, seed=0, p_range=(0.55, 0.995))
    exact = base.smoothed_inside(X, sigma)
    rng = np.random.default_rng(1)
    for row, p in zip(X, exact, strict=True):
        frequency = base.predict(row + sigma * rng.standard_normal((n_draws, len(row)))).mean()
        assert abs(frequency - p) <= 5 * math.sqrt(p * (1 - p) / n_draws), (frequency, p)
    # Half the rows have each class as their top class, over the whole range.
    label, p_top, _ = truth(base, X, sigma)
    np.testing.assert_array_equal(label, np.arange(8) % 2)
    assert np.all((p_top > 0.55 - 1e-3) & (p_top < 0.995 + 1e-3))


def test_exact_count_agrees_with_the_simulated_votes_formula():
    # Where class 0 is on top, the per-row probability is the one the
    # simulated-votes tests derive for that case.
    n0, n, alpha = 50, 300, 0.05
    p_top = np.array([0.52, 0.6, 0.8, 0.95, 0.99])
    ours = exact_unsound_probabilities(
        np.zeros(5, int), p_top, n0, n, clopper_pearson_table(n, alpha)
    )
    theirs = [exact_unsound_probability(p, n0, n, alpha) for p in p_top]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15)
    # With class 1 on top, a tie in the selection votes goes to the wrong
    # class: that matters near pA = 1/2 only (a tie has probability below
    # 1e-5 from pA = 0.8 on).
    ones = exact_unsound_probabilities(
        np.ones(5, int), p_top, n0, n, clopper_pearson_table(n, alpha)
    )
    assert ones[0] < ours[0]
    np.testing.assert_allclose(ones[2:], ours[2:], atol=1e-6)


# --- fixed-n CERTIFY: exact expected count ---------------------------------------

N_ROWS, N0, N = 600, 50, 500


def fixed_n_check(base, estimator, X, sigma, alpha, seed):
    """Certify ``X``; return the observed unsound count, its z-score and the exact mean."""
    label, p_top, exact_radius = truth(base, X, sigma)
    clf = SmoothedClassifier(estimator, sigma=sigma, n0=N0, n=N, alpha=alpha, random_state=seed)
    result = clf.fit(X, label).certify(X)
    observed = int(unsound_rows(result, label, exact_radius).sum())
    probabilities = exact_unsound_probabilities(
        label, p_top, N0, N, clopper_pearson_table(N, alpha)
    )
    # Clopper-Pearson's promise, row by row, exactly.
    assert np.all(probabilities <= alpha + 1e-12)
    return result, observed, z_score(observed, probabilities), probabilities.sum()


# seed, n_features, sigma, alpha: every sigma puts r / sigma above 4, so rows
# at the center reach pA = 0.999 for class 1 as well.
FIXED_CASES = [(0, 5, 0.15, 0.05), (1, 2, 0.2, 0.1), (2, 20, 0.1, 0.05)]


@pytest.mark.parametrize("seed, n_features, sigma, alpha", FIXED_CASES)
def test_fixed_n_unsound_count_matches_its_exact_mean(seed, n_features, sigma, alpha):
    base, X = ball_problem(N_ROWS, n_features, sigma, seed)
    result, observed, z, expected = fixed_n_check(
        base, FrozenEstimator(base), X, sigma, alpha, seed
    )
    assert abs(z) <= Z_MAX, (observed, expected, z)
    assert observed <= max_unsound(N_ROWS, alpha)
    assert np.mean(~result.abstained) > 0.7  # not vacuous


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_unsound_count_matches_its_exact_mean(device):
    # The same ball as a skorch module: noise and rows meet the net in its
    # float32, which moves a row by about 1e-7, far below what the check sees.
    seed, sigma, alpha = 3, 0.12, 0.05
    base, X = ball_problem(N_ROWS, 10, sigma, seed)
    net = ball_net(base, device)
    np.testing.assert_array_equal(net.predict(X.astype(np.float32)), base.predict(X))
    result, observed, z, expected = fixed_n_check(base, FrozenEstimator(net), X, sigma, alpha, seed)
    assert abs(z) <= Z_MAX, (observed, expected, z)
    assert observed <= max_unsound(N_ROWS, alpha)
    assert np.mean(~result.abstained) > 0.7


# --- sequential modes: the worst-case check ----------------------------------------

N_CAP = 800  # looks at 100, 200, 400, 800
SEQUENTIAL_CASES = [("sklearn", 4, 5, 0.15, 0.05), ("torch", 5, 10, 0.12, 0.1)]


def base_estimator(path, base):
    return FrozenEstimator(base if path == "sklearn" else ball_net(base))


@pytest.mark.parametrize("mode", ["decision", "adaptive"])
@pytest.mark.parametrize("path, seed, n_features, sigma, alpha", SEQUENTIAL_CASES)
def test_sequential_modes_are_sound_on_the_ball(path, seed, n_features, sigma, alpha, mode):
    base, X = ball_problem(N_ROWS, n_features, sigma, seed)
    label, _, exact_radius = truth(base, X, sigma)
    clf = SmoothedClassifier(
        base_estimator(path, base), sigma=sigma, n0=N0, n=N_CAP, alpha=alpha, random_state=seed
    ).fit(X, label)
    # Decision mode at the radius of pA = 0.75, which half the rows exceed
    # (measured: 40% to 47% of the rows certified at that radius).
    decision_radius = sigma * special.ndtri(0.75)
    if mode == "decision":
        result = clf.certify(X, radius=decision_radius)
    else:
        result = clf.certify(X, n_max=N_CAP)
    assert unsound_rows(result, label, exact_radius).sum() <= max_unsound(N_ROWS, alpha)
    assert result.n_samples.max() <= N_CAP
    assert result.n_samples.min() < N_CAP  # some rows stop early
    if mode == "decision":
        certified = ~result.abstained & (result.radius >= decision_radius)
        assert certified.mean() > 0.3
    else:
        assert np.mean(~result.abstained) > 0.7


# --- power: an anti-conservative bound ----------------------------------------------


def test_exact_mean_check_catches_the_wald_bound(monkeypatch):
    # Near pA = 1 the Wald bound is badly anti-conservative: all n votes for
    # the top class (probability pA^n, 0.37 at pA = 0.99 and n = 100) give a
    # bound of 1 and an infinite radius. Clopper-Pearson's exact mean here is
    # 3.2 unsound rows in 300 (sd 1.75); the Wald bound's is 75 (measured: 82).
    # The worst-case check (at most 31) would catch this one too.
    n_rows, n0, n, alpha, sigma, seed = 300, 50, 100, 0.05, 0.15, 6
    base, X = ball_problem(n_rows, 5, sigma, seed, p_range=(0.95, 0.999))
    label, p_top, exact_radius = truth(base, X, sigma)
    cp = exact_unsound_probabilities(label, p_top, n0, n, clopper_pearson_table(n, alpha))
    wald = exact_unsound_probabilities(label, p_top, n0, n, wald_table(n, alpha))
    assert cp.sum() < 10 and wald.sum() > 50
    patch_lower_bound(monkeypatch, wald_lower)
    clf = SmoothedClassifier(
        FrozenEstimator(base), sigma=sigma, n0=n0, n=n, alpha=alpha, random_state=seed
    )
    result = clf.fit(X, label).certify(X)
    observed = int(unsound_rows(result, label, exact_radius).sum())
    # Far beyond the tolerance, and where the Wald bound's own mean puts it.
    assert z_score(observed, cp) > 5 * Z_MAX, (observed, cp.sum())
    assert abs(z_score(observed, wald)) <= Z_MAX, (observed, wald.sum())


def test_exact_mean_check_catches_a_wald_bound_the_worst_case_check_allows(monkeypatch):
    # At alpha = 0.2, n = 50 and pA in (0.5, 0.9), Wald's exact unsound rate
    # (0.21) sits just above alpha: its exact mean count (639 of 3000) stays
    # below the worst-case check's tolerance (683), which therefore cannot be
    # relied on to catch it, while it is about 10 standard deviations above
    # Clopper-Pearson's exact mean (448, sd 19.5; measured under Wald: 653).
    n_rows, n0, n, alpha, sigma, seed = 3000, 50, 50, 0.2, 0.15, 7
    base, X = ball_problem(n_rows, 5, sigma, seed, p_range=(0.5, 0.9))
    label, p_top, exact_radius = truth(base, X, sigma)
    cp = exact_unsound_probabilities(label, p_top, n0, n, clopper_pearson_table(n, alpha))
    wald = exact_unsound_probabilities(label, p_top, n0, n, wald_table(n, alpha))
    assert wald.sum() < max_unsound(n_rows, alpha)
    patch_lower_bound(monkeypatch, wald_lower)
    clf = SmoothedClassifier(
        FrozenEstimator(base), sigma=sigma, n0=n0, n=n, alpha=alpha, random_state=seed
    )
    result = clf.fit(X, label).certify(X)
    observed = int(unsound_rows(result, label, exact_radius).sum())
    assert z_score(observed, cp) > Z_MAX, (observed, cp.sum(), wald.sum())


# --- a pooled sweep --------------------------------------------------------------

# Per dimension, a sigma that keeps r / sigma above 4 (rows at the center reach
# pA = 0.999 for class 1).
SWEEP_SIGMAS = {2: 0.2, 5: 0.15, 10: 0.12, 20: 0.1}


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_fixed_n_unsound_count_matches_its_exact_mean_over_many_seeds(alpha):
    # 16 problems on the scikit-learn path and 4 through the skorch net per
    # alpha (12,000 rows): the pooled count stays within 4 standard deviations
    # of its exact mean, and within the worst-case tolerance.
    observed, probabilities = 0, []
    for i, seed in enumerate(range(100, 120)):
        n_features = list(SWEEP_SIGMAS)[i % 4]
        sigma = SWEEP_SIGMAS[n_features]
        base, X = ball_problem(N_ROWS, n_features, sigma, seed)
        label, p_top, exact_radius = truth(base, X, sigma)
        estimator = FrozenEstimator(base if i < 16 else ball_net(base))
        clf = SmoothedClassifier(estimator, sigma=sigma, n0=N0, n=N, alpha=alpha, random_state=seed)
        result = clf.fit(X, label).certify(X)
        observed += int(unsound_rows(result, label, exact_radius).sum())
        table = clopper_pearson_table(N, alpha)
        probabilities.append(exact_unsound_probabilities(label, p_top, N0, N, table))
    probabilities = np.concatenate(probabilities)
    assert abs(z_score(observed, probabilities)) <= Z_MAX, (observed, probabilities.sum())
    assert observed <= max_unsound(len(probabilities), alpha)
